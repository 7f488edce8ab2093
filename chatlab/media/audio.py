"""16 kHz mono, loudness-normalised (EBU R128) WAV from any media file, streamed through ffmpeg."""

from __future__ import annotations

from pathlib import Path

from chatlab.config import Layout

SAMPLE_RATE = 16_000


def audio_path(layout: Layout, vod_id: str) -> Path:
    """Where the `audio` asset keeps a VOD's normalised audio (16 kHz mono s16le WAV)."""
    return layout.artifact_dir("audio", vod_id) / "audio.wav"
