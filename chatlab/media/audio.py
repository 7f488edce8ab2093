"""16 kHz mono, loudness-normalised (EBU R128) WAV from any media file, streamed through ffmpeg.

ffmpeg reads and writes in small buffers, so a 10-hour VOD never sits in memory.
The result is PCM WAV (RF64 past 4 GB) because later stages read it in chunks
by seeking, which a compressed format makes slow.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import tempfile
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import imageio_ffmpeg

from chatlab.config import Layout
from chatlab.media.probe import MediaError, probe

SAMPLE_RATE = 16_000
# EBU R128 broadcast target; true peak and range leave speech natural.
TARGET_LUFS = -23.0
TARGET_TRUE_PEAK = -2.0
TARGET_LRA = 11.0


@dataclass(frozen=True)
class AudioResult:
    path: Path
    duration_s: float
    sample_rate: int
    loudness_in_lufs: float | None  # integrated loudness of the source
    loudness_out_lufs: float | None  # after normalisation
    true_peak_in_dbtp: float | None
    size_bytes: int


def audio_path(layout: Layout, vod_id: str) -> Path:
    """Where the `audio` asset keeps a VOD's normalised audio (16 kHz mono s16le WAV)."""
    return layout.artifact_dir("audio", vod_id) / "audio.wav"


def ffmpeg_exe() -> str:
    return imageio_ffmpeg.get_ffmpeg_exe()


def _loudnorm_stats(stderr_tail: str) -> dict[str, float | None]:
    """The JSON block loudnorm prints at the end (print_format=json)."""
    m = re.search(r"\{[^{}]*\"input_i\"[^{}]*\}", stderr_tail, re.S)
    if not m:
        return {}
    out: dict[str, float | None] = {}
    for k, v in json.loads(m.group(0)).items():
        try:
            f = float(v)
            out[k] = f if f == f and abs(f) != float("inf") else None
        except (TypeError, ValueError):
            out[k] = None
    return out


def extract_audio(
    src: Path,
    dst: Path,
    *,
    stream_index: int | None = None,
    on_progress: Callable[[float], None] | None = None,
) -> AudioResult:
    """Decode the first audio stream (or ``stream_index``), normalise loudness, write 16 kHz mono WAV.

    ``on_progress`` gets the fraction done (0..1) as ffmpeg reports it. Writes to a temp file
    beside ``dst`` and renames, so a crash never leaves a half file under the final name.
    """
    src, dst = Path(src), Path(dst)
    info = probe(src)
    if info.audio is None:
        kinds = ", ".join(s.type for s in info.streams) or "none"
        raise MediaError(f"{src}: no audio stream (streams: {kinds}); chatlab needs the streamer's audio")
    total = info.audio.duration_s or info.duration_s or 0.0
    dst.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=".audio-", suffix=".wav", dir=dst.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    select = f"0:{stream_index}" if stream_index is not None else "0:a:0"
    loudnorm = f"loudnorm=I={TARGET_LUFS}:TP={TARGET_TRUE_PEAK}:LRA={TARGET_LRA}:print_format=json"
    cmd = [
        ffmpeg_exe(), "-nostdin", "-hide_banner", "-nostats", "-loglevel", "info", "-y",
        "-i", str(src), "-map", select, "-vn", "-sn", "-dn",
        "-af", f"{loudnorm},aresample={SAMPLE_RATE}",
        "-ac", "1", "-ar", str(SAMPLE_RATE), "-c:a", "pcm_s16le", "-rf64", "auto",
        "-progress", "pipe:1", "-f", "wav", str(tmp),
    ]  # fmt: skip
    stderr_tail: deque[str] = deque(maxlen=200)
    try:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, errors="replace")
        # stderr on its own thread so neither pipe can fill up and stall ffmpeg.
        reader = threading.Thread(target=lambda: stderr_tail.extend(proc.stderr), daemon=True)
        reader.start()
        for line in proc.stdout:
            if on_progress and total > 0 and line.startswith("out_time_us="):
                try:
                    done = int(line.split("=", 1)[1]) / 1e6
                except ValueError:
                    continue
                on_progress(min(1.0, max(0.0, done / total)))
        proc.wait()
        reader.join()
        if proc.returncode != 0:
            last = "".join(list(stderr_tail)[-5:]).strip()
            raise MediaError(f"{src}: ffmpeg could not make the audio (exit {proc.returncode}): {last}")
        stats = _loudnorm_stats("".join(stderr_tail))
        out = probe(tmp)
        os.replace(tmp, dst)
    finally:
        tmp.unlink(missing_ok=True)
    if on_progress:
        on_progress(1.0)
    return AudioResult(
        path=dst,
        duration_s=out.duration_s,
        sample_rate=SAMPLE_RATE,
        loudness_in_lufs=stats.get("input_i"),
        loudness_out_lufs=stats.get("output_i"),
        true_peak_in_dbtp=stats.get("input_tp"),
        size_bytes=dst.stat().st_size,
    )
