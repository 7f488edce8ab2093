"""A step that is stopped mid-way leaves no ffmpeg behind."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from chatlab.media.audio import extract_audio


def _ffmpeg_children() -> list[int]:
    """Pids of this process's children whose command is ffmpeg (read from /proc)."""
    me, found = os.getpid(), []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        comm = stat[stat.index("(") + 1 : stat.rindex(")")]
        state, ppid = stat[stat.rindex(")") + 2 :].split()[:2]
        if int(ppid) == me and "ffmpeg" in comm and state != "Z":  # a zombie has ended already
            found.append(int(entry.name))
    return found


class Stopped(BaseException):
    """What a terminated Dagster step raises inside the running code (not an Exception)."""


def test_interrupted_extraction_kills_ffmpeg(media_factory, tmp_path):
    src = media_factory(tmp_path / "long.wav", seconds=600, video=False)
    before = set(_ffmpeg_children())  # another test's reader may still run in this process

    def stop(_fraction: float) -> None:
        raise Stopped

    with pytest.raises(Stopped) as stopped:
        extract_audio(src, tmp_path / "out.wav", on_progress=stop)
    # The traceback (held by `stopped`) keeps the Popen object alive, as a step's error report
    # does: ffmpeg must be gone because it was killed, not because its pipe was collected.
    time.sleep(1.0)
    assert set(_ffmpeg_children()) - before == set(), stopped
    assert not (tmp_path / "out.wav").exists()
