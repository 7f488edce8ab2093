"""Waveform peaks of a VOD's audio: per bin of 1/``bins_per_s`` seconds the lowest and highest
sample, as int8 pairs. Computed once per VOD from ``audio.wav`` (streamed, never whole in
memory) so the review page draws a 10-hour waveform from ~3.6 MB instead of 1.2 GB of audio.

File format (``peaks.bin``): int8 ``[min0, max0, min1, max1, ...]``, sample value / 32768 * 127;
``peaks.json`` beside it holds ``bins_per_s``, ``n_bins``, ``duration_s``, ``sample_rate`` and the
sha256 of the audio it was made from.
"""

from __future__ import annotations

import json
import wave
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from chatlab.files import replacing

BINS_PER_S = 50  # 20 ms per bin: finer than any zoom the page offers for long VODs


@dataclass(frozen=True)
class PeaksInfo:
    bins_per_s: int
    n_bins: int
    duration_s: float
    sample_rate: int
    audio_sha256: str = ""


def compute_peaks(wav_path: Path, bins_per_s: int = BINS_PER_S, chunk_s: float = 60.0) -> tuple[np.ndarray, PeaksInfo]:
    """(int8 array of 2 * n_bins, info) for a 16-bit PCM WAV (mono, or the first channel)."""
    wav_path = Path(wav_path)
    try:
        w = wave.open(str(wav_path), "rb")
    except (wave.Error, EOFError) as e:
        raise ValueError(f"{wav_path}: not a PCM WAV file ({e})") from e
    with w:
        if w.getsampwidth() != 2:
            raise ValueError(f"{wav_path}: expected 16-bit PCM, got {8 * w.getsampwidth()}-bit samples")
        rate, channels, total = w.getframerate(), w.getnchannels(), w.getnframes()
        per_bin = max(1, rate // bins_per_s)
        chunk = per_bin * max(1, int(chunk_s * bins_per_s))
        out = []
        carry = np.zeros(0, np.int16)
        while True:
            raw = w.readframes(chunk)
            if not raw:
                break
            x = np.frombuffer(raw, dtype="<i2")[::channels]
            x = np.concatenate([carry, x]) if carry.size else x
            n = (x.size // per_bin) * per_bin
            carry = x[n:].copy()
            if n:
                b = x[:n].reshape(-1, per_bin)
                out.append(np.stack([b.min(axis=1), b.max(axis=1)], axis=1))
        if carry.size:
            out.append(np.array([[carry.min(), carry.max()]], np.int16))
    mm = np.concatenate(out) if out else np.zeros((0, 2), np.int16)
    peaks = np.clip(np.round(mm.astype(np.float32) / 32768.0 * 127.0), -127, 127).astype(np.int8).reshape(-1)
    return peaks, PeaksInfo(bins_per_s=rate // per_bin if rate % per_bin == 0 else bins_per_s, n_bins=mm.shape[0],
                            duration_s=round(total / rate, 3) if rate else 0.0, sample_rate=rate)


def write_peaks(out_dir: Path, peaks: np.ndarray, info: PeaksInfo) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    with replacing(out_dir / "peaks.bin") as tmp:
        tmp.write_bytes(peaks.astype(np.int8).tobytes())
    with replacing(out_dir / "peaks.json") as tmp:
        tmp.write_text(json.dumps(asdict(info)), encoding="utf-8")
    return out_dir / "peaks.bin"


def read_info(out_dir: Path) -> PeaksInfo | None:
    p = out_dir / "peaks.json"
    if not p.exists() or not (out_dir / "peaks.bin").exists():
        return None
    return PeaksInfo(**json.loads(p.read_text(encoding="utf-8")))
