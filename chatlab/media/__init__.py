"""Media: probing files with PyAV and making the normalised audio with ffmpeg."""
