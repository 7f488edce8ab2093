"""Shared fixtures: a private data directory per test and small real media files made by ffmpeg."""

from __future__ import annotations

import subprocess
from pathlib import Path

import dagster as dg
import pytest

from chatlab.config import Layout
from chatlab.media.audio import ffmpeg_exe


@pytest.fixture
def layout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Layout:
    """A fresh data directory; $CHATLAB_DATA points at it so every code path agrees."""
    monkeypatch.setenv("CHATLAB_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("CHATLAB_CONFIG", str(tmp_path / "chatlab.toml"))
    return Layout(tmp_path / "data").ensure()


@pytest.fixture
def instance() -> dg.DagsterInstance:
    with dg.DagsterInstance.ephemeral() as inst:
        yield inst


def make_media(path: Path, seconds: float = 4.0, *, video: bool = True, audio: bool = True, creation_time: str | None = None) -> Path:
    """A real media file: test pattern video and/or a tone, encoded by the bundled ffmpeg."""
    cmd = [ffmpeg_exe(), "-nostdin", "-hide_banner", "-loglevel", "error", "-y"]
    if video:
        cmd += ["-f", "lavfi", "-i", "testsrc2=size=160x120:rate=10"]
    if audio:
        cmd += ["-f", "lavfi", "-i", "sine=frequency=330:sample_rate=44100"]
    cmd += ["-t", str(seconds)]
    if creation_time:
        cmd += ["-metadata", f"creation_time={creation_time}"]
    ext = path.suffix.lower()
    if video:
        cmd += ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"] if ext in (".mp4", ".mkv", ".mov") else []
    if audio and ext in (".mp4", ".mkv", ".mov"):
        cmd += ["-c:a", "aac"]
    path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(cmd + [str(path)], check=True)
    return path


@pytest.fixture
def media_factory():
    return make_media
