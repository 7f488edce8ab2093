"""Transcribe a media file of any length with bounded memory: read 16 kHz mono audio in blocks
(seeking a WAV, streaming anything else through PyAV), cut it into windows of at most
``window_s`` at the quietest moment near each window's end, transcribe each window and shift
its times back by the window's offset."""

from __future__ import annotations

import math
import time
import wave
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from chatlab.asr.engine import SAMPLE_RATE, Engine, Segment

# 10 min windows: peak memory ~0.85 GB for any file length with whisper-base int8 (measured on a
# 60-min file; 20-min windows peak at ~1.1 GB: the VAD copies the window several times).
DEFAULT_WINDOW_S = 600.0
DEFAULT_SEARCH_S = 30.0  # look for the cut in the last 30 s of a window
BLOCK_S = 60.0


@dataclass
class Transcript:
    duration: float
    language: str
    language_probability: float
    segments: list[Segment]
    speech_s: float  # VAD speech over the whole file
    elapsed_s: float  # wall time of transcription (after model load)
    model_name: str
    version: str
    windows: list[tuple[float, float]] = field(default_factory=list)  # (start_s, end_s) of each window

    @property
    def rtf(self) -> float:
        return self.elapsed_s / self.duration if self.duration > 0 else math.nan

    @property
    def n_words(self) -> int:
        return sum(len(s.words) for s in self.segments)

    def to_json(self) -> dict[str, Any]:
        """The contract of ``chatlab transcribe --json`` (DESIGN.md)."""
        return {
            "duration": round(self.duration, 3),
            "language": self.language,
            "segments": [
                {
                    "start": round(s.start, 3),
                    "end": round(s.end, 3),
                    "text": s.text.strip(),
                    "avg_logprob": _num(s.avg_logprob),
                    "no_speech_prob": _num(s.no_speech_prob),
                    "words": [
                        {"word": w.word.strip(), "start": round(w.start, 3), "end": round(w.end, 3), "probability": _num(w.probability)}
                        for w in s.words
                    ],
                }
                for s in self.segments
            ],
        }


def _num(x: float) -> float | None:
    # JSON has no NaN: a backend without a score (whisperx logprobs) gives null.
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else round(float(x), 4)


def _wav_blocks(path: Path, block: int) -> Iterator[np.ndarray] | None:
    """Blocks of a 16 kHz mono s16 WAV read by seeking (None when the file is another format)."""
    try:
        w = wave.open(str(path), "rb")
    except (wave.Error, EOFError):
        return None
    if (w.getnchannels(), w.getsampwidth(), w.getframerate()) != (1, 2, SAMPLE_RATE):
        w.close()
        return None

    def gen() -> Iterator[np.ndarray]:
        with w:
            while True:
                data = w.readframes(block)
                if not data:
                    return
                yield np.frombuffer(data, dtype="<i2").astype(np.float32) / 32768.0

    return gen()


def _av_blocks(path: Path, block: int) -> Iterator[np.ndarray]:
    """Any audio or video file, decoded and resampled to 16 kHz mono float32 as a stream."""
    import av

    try:
        container = av.open(str(path))
    except Exception as e:  # PyAV raises its own error types (InvalidDataError, …)
        raise ValueError(f"{path}: cannot open as audio or video ({e})") from e
    with container:
        stream = next((s for s in container.streams if s.type == "audio"), None)
        if stream is None:
            raise ValueError(f"{path}: no audio stream in the file")
        resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
        buf: list[np.ndarray] = []
        n = 0

        def frames() -> Iterator[Any]:
            try:
                for packet in container.demux(stream):
                    try:
                        yield from packet.decode()
                    except av.error.InvalidDataError:
                        continue  # one damaged packet: skip it, as ffmpeg does
            except av.error.FFmpegError as e:
                raise ValueError(f"{path}: audio stream unreadable ({e})") from e
            yield None  # flush the resampler

        for frame in frames():
            for f in resampler.resample(frame):
                a = f.to_ndarray().reshape(-1).astype(np.float32, copy=False)
                buf.append(a)
                n += len(a)
            if n >= block:
                yield np.concatenate(buf)
                buf, n = [], 0
        if buf:
            yield np.concatenate(buf)


def audio_blocks(path: str | Path, block_s: float = BLOCK_S) -> Iterator[np.ndarray]:
    """16 kHz mono float32 blocks of about ``block_s`` seconds from any media file."""
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"{p}: no such file")
    block = int(block_s * SAMPLE_RATE)
    blocks = _wav_blocks(p, block)
    return blocks if blocks is not None else _av_blocks(p, block)


def quietest_cut(x: np.ndarray, lo: int, hi: int, frame: int = 320, smooth: int = 10) -> int:
    """Sample index in ``[lo, hi)`` at the middle of the quietest ~200 ms: where a window boundary
    is least likely to split a word."""
    seg = x[lo:hi]
    nf = len(seg) // frame
    if nf < smooth + 1:
        return hi
    energy = np.sqrt(np.mean(seg[: nf * frame].reshape(nf, frame) ** 2, axis=1) + 1e-12)
    smoothed = np.convolve(energy, np.ones(smooth) / smooth, mode="valid")
    i = int(np.argmin(smoothed))
    return lo + (i + smooth // 2) * frame


def windows(
    blocks: Iterator[np.ndarray], window_s: float = DEFAULT_WINDOW_S, search_s: float = DEFAULT_SEARCH_S
) -> Iterator[tuple[int, np.ndarray]]:
    """``(offset_samples, audio)`` windows of at most ``window_s``, cut at quiet moments."""
    W = max(int(window_s * SAMPLE_RATE), SAMPLE_RATE)
    S = min(int(search_s * SAMPLE_RATE), W // 2)
    pending: list[np.ndarray] = []
    have = 0
    offset = 0
    for b in blocks:
        pending.append(b)
        have += len(b)
        while have >= W:
            x = np.concatenate(pending)
            pending = []  # drop the blocks: only one copy of the window stays alive
            cut = quietest_cut(x, W - S, W)
            rest = x[cut:].copy()  # a copy, so the window's buffer is freed once it is consumed
            yield offset, x[:cut]
            del x
            offset += cut
            pending, have = [rest], len(rest)
    if have:
        yield offset, np.concatenate(pending)


def transcribe_file(
    path: str | Path,
    engine: Engine,
    window_s: float = DEFAULT_WINDOW_S,
    search_s: float = DEFAULT_SEARCH_S,
    language: str | None = None,
    on_window: Callable[[float, float, int], None] | None = None,
) -> Transcript:
    """Transcribe ``path`` window by window. ``language`` (or the engine's) fixes the language;
    otherwise the first window with speech decides it for the rest of the file, so a quiet
    intro or a music break cannot switch the language midway. ``on_window(start_s, end_s,
    n_segments)`` reports progress."""
    language = language or engine.config.language or None
    detected: tuple[str, float] | None = (language, 1.0) if language else None
    segments: list[Segment] = []
    spans: list[tuple[float, float]] = []
    speech_s = 0.0
    total = 0
    engine.load()  # model load is not part of the real-time factor
    t0 = time.perf_counter()
    for offset, audio in windows(audio_blocks(path), window_s, search_s):
        start_s = offset / SAMPLE_RATE
        total = offset + len(audio)
        if len(audio) < SAMPLE_RATE // 10:  # a tail under 0.1 s holds no word
            spans.append((start_s, total / SAMPLE_RATE))
            continue
        res = engine.transcribe_window(audio, detected[0] if detected else None)
        if detected is None and res.speech_s > 0 and res.segments:
            detected = (res.language, res.language_probability)
        segments.extend(s.shifted(start_s) for s in res.segments)
        speech_s += res.speech_s
        spans.append((start_s, total / SAMPLE_RATE))
        if on_window:
            on_window(start_s, total / SAMPLE_RATE, len(res.segments))
    elapsed = time.perf_counter() - t0
    if total == 0:
        raise ValueError(f"{path}: no audio samples (a 0-second file)")
    return Transcript(
        duration=total / SAMPLE_RATE,
        language=detected[0] if detected else "",
        language_probability=detected[1] if detected else 0.0,
        segments=segments,
        speech_s=speech_s,
        elapsed_s=elapsed,
        model_name=engine.model_name,
        version=engine.version,
        windows=spans,
    )
