"""The demo stream's soundtrack: placed sentences over a quiet noise floor.

Each sentence gets its own loudness (about -23 dBFS, +-3 dB) so loudness normalisation has work
to do, and pink noise at -45 dBFS runs under everything so VAD never sees digital silence.
"""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np

from .files import replacing

SPEECH_DBFS = -23.0
SPEECH_SPREAD_DB = 3.0
NOISE_DBFS = -45.0


def _db(x: float) -> float:
    return 10.0 ** (x / 20.0)


def pink_noise(n: int, rng: np.random.Generator) -> np.ndarray:
    """Pink (1/f power) noise with unit RMS, shaped in the frequency domain."""
    spectrum = np.fft.rfft(rng.standard_normal(n))
    f = np.arange(len(spectrum), dtype=np.float64)
    f[0] = 1.0
    spectrum /= np.sqrt(f)
    spectrum[0] = 0.0  # no DC offset
    noise = np.fft.irfft(spectrum, n)
    return (noise / (np.sqrt(np.mean(noise**2)) + 1e-12)).astype(np.float32)


def mix(clips: list[tuple[int, np.ndarray]], n_samples: int, rng: np.random.Generator) -> np.ndarray:
    """Clips (start sample, audio) summed into a track of n_samples, each set to its own level,
    over pink noise. Float32, clipped to [-1, 1]."""
    track = pink_noise(n_samples, rng) * _db(NOISE_DBFS)
    for start, clip in clips:
        voiced = clip[np.abs(clip) > 1e-3]
        rms = float(np.sqrt(np.mean(voiced**2))) if len(voiced) else 1.0
        gain = _db(SPEECH_DBFS + rng.uniform(-SPEECH_SPREAD_DB, SPEECH_SPREAD_DB)) / max(rms, 1e-6)
        end = min(start + len(clip), n_samples)
        track[start:end] += clip[: end - start] * gain
    return np.clip(track, -1.0, 1.0)


def write_wav(path: Path, audio: np.ndarray, sample_rate: int) -> None:
    """16-bit mono WAV, written under a temporary name and renamed into place."""
    pcm = (np.clip(audio, -1.0, 1.0) * 32767.0).astype("<i2")
    with replacing(path) as tmp:
        with wave.open(str(tmp), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(sample_rate)
            w.writeframes(pcm.tobytes())
