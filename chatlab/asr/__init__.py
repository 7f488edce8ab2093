"""Speech recognition: pure library (no Dagster). Whisper through faster-whisper (default) or
WhisperX, long audio in bounded windows, and the quality measures the transcript checks use."""
