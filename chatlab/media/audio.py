"""16 kHz mono, loudness-normalised (EBU R128) WAV from any media file, streamed through ffmpeg.

ffmpeg reads and writes in small buffers, so a 10-hour VOD never sits in memory.
The result is PCM WAV (RF64 past 4 GB) because later stages read it in chunks
by seeking, which a compressed format makes slow.
"""

from __future__ import annotations

import math
import re
import subprocess
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import imageio_ffmpeg

from chatlab.config import Layout
from chatlab.files import replacing
from chatlab.media.probe import MediaError, probe

SAMPLE_RATE = 16_000
# EBU R128 broadcast target. The gain is one number for the whole VOD (linear, like
# loudnorm's two-pass mode): a dynamic normaliser would lift the noise floor in every
# pause, and pauses are what voice activity detection needs to see.
TARGET_LUFS = -23.0
LIMIT_DBFS = -1.0  # a limiter catches the few peaks the gain pushes over
MAX_GAIN_DB = 30.0  # near-silent files are not blown up into pure noise
MIN_GAIN_DB = -30.0
# Down-mix and resample before measuring: 16 kHz mono is what we keep, and measuring
# it is ~10x faster than ffmpeg's loudnorm on the source (400x real time here).
_MONO_16K = f"aformat=channel_layouts=mono,aresample={SAMPLE_RATE}"
_MEASURE = "ebur128=peak=true:framelog=quiet"


@dataclass(frozen=True)
class AudioResult:
    path: Path
    duration_s: float
    sample_rate: int
    loudness_in_lufs: float | None  # integrated loudness of the source (its mono down-mix)
    loudness_out_lufs: float | None  # after normalisation
    true_peak_in_dbtp: float | None
    gain_db: float
    size_bytes: int


def audio_path(layout: Layout, vod_id: str) -> Path:
    """Where the `audio` asset keeps a VOD's normalised audio (16 kHz mono s16le WAV)."""
    return layout.artifact_dir("audio", vod_id) / "audio.wav"


def ffmpeg_exe() -> str:
    return imageio_ffmpeg.get_ffmpeg_exe()


def _ebur128_summary(stderr: str) -> dict[str, float | None]:
    """Integrated loudness (I), loudness range (LRA) and true peak from ebur128's closing summary."""
    summary = stderr[stderr.rfind("Summary:") :]
    out: dict[str, float | None] = {}
    for key, name in (("I", "integrated"), ("LRA", "range"), ("Peak", "peak")):
        m = re.search(rf"^\s*{key}:\s*(-?[\d.]+|-inf|inf|nan)", summary, re.M)
        value = float(m.group(1)) if m else None
        out[name] = value if value is not None and math.isfinite(value) and value > -70 else None
    return out


def _run_ffmpeg(cmd: list[str], src: Path, total_s: float, on_progress: Callable[[float], None] | None) -> str:
    """Run ffmpeg, report progress from ``-progress pipe:1``; return the end of its log (stderr)."""
    stderr_tail: deque[str] = deque(maxlen=300)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, errors="replace")
    # stderr on its own thread so neither pipe can fill up and stall ffmpeg.
    reader = threading.Thread(target=lambda: stderr_tail.extend(proc.stderr), daemon=True)
    reader.start()
    try:
        for line in proc.stdout:
            if on_progress and total_s > 0 and line.startswith("out_time_us="):
                try:
                    done = int(line.split("=", 1)[1]) / 1e6
                except ValueError:
                    continue
                on_progress(min(1.0, max(0.0, done / total_s)))
        proc.wait()
    finally:
        # A terminated step (Dagster interrupts it with an exception) must not leave ffmpeg running.
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        reader.join()
    log = "".join(stderr_tail)
    if proc.returncode != 0:
        last = " ".join(log.strip().splitlines()[-3:])
        raise MediaError(f"{src}: ffmpeg could not read the audio (exit {proc.returncode}): {last}")
    return log


def extract_audio(
    src: Path,
    dst: Path,
    *,
    stream_index: int | None = None,
    on_progress: Callable[[float], None] | None = None,
) -> AudioResult:
    """Decode the first audio stream (or ``stream_index``), normalise loudness, write 16 kHz mono WAV.

    Two streaming passes: measure the integrated loudness, then apply one gain and write.
    ``on_progress`` gets the fraction done (0..1). Writes to a temp file beside ``dst`` and
    renames, so a crash never leaves a half file under the final name.
    """
    src, dst = Path(src), Path(dst)
    info = probe(src)
    if info.audio is None:
        kinds = ", ".join(s.type for s in info.streams) or "none"
        raise MediaError(f"{src}: no audio stream (streams: {kinds}); chatlab needs the streamer's audio")
    total = info.audio.duration_s or info.duration_s or 0.0
    select = f"0:{stream_index}" if stream_index is not None else "0:a:0"
    head = [ffmpeg_exe(), "-nostdin", "-hide_banner", "-nostats", "-loglevel", "info", "-y", "-i", str(src)]
    head += ["-map", select, "-vn", "-sn", "-dn", "-progress", "pipe:1"]

    def part(lo: float, hi: float) -> Callable[[float], None] | None:
        return (lambda f: on_progress(lo + (hi - lo) * f)) if on_progress else None

    measured = _ebur128_summary(_run_ffmpeg(head + ["-af", f"{_MONO_16K},{_MEASURE}", "-f", "null", "-"], src, total, part(0.0, 0.3)))
    source_lufs = measured["integrated"]
    gain = TARGET_LUFS - source_lufs if source_lufs is not None else 0.0
    gain = min(MAX_GAIN_DB, max(MIN_GAIN_DB, gain))
    limit = 10 ** (LIMIT_DBFS / 20)
    chain = f"{_MONO_16K},volume={gain:.2f}dB,alimiter=limit={limit:.4f}:level=disabled:latency=1,{_MEASURE}"

    with replacing(dst) as tmp:
        cmd = head + ["-af", chain, "-ac", "1", "-ar", str(SAMPLE_RATE), "-c:a", "pcm_s16le", "-rf64", "auto", "-f", "wav", str(tmp)]
        written = _ebur128_summary(_run_ffmpeg(cmd, src, total, part(0.3, 1.0)))
        out = probe(tmp)
    if on_progress:
        on_progress(1.0)
    return AudioResult(
        path=dst,
        duration_s=out.duration_s,
        sample_rate=SAMPLE_RATE,
        loudness_in_lufs=source_lufs,
        loudness_out_lufs=written["integrated"],
        true_peak_in_dbtp=measured["peak"],
        gain_db=round(gain, 2),
        size_bytes=dst.stat().st_size,
    )
