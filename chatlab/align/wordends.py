"""Where the speaker stops, from the audio: Whisper's word times end some sentences early (on the
real read speech of chatlab_tests/data/real/speech by 0.5-2.8 s against the audio), and an echo's
lag is measured from the end of the sentence, so an early end reads as a larger offset, and a
context cut at the moment a viewer typed may miss the sentence's last words.

For each word a pause follows (the next word starts WORD_GAP_S or more later, or none does), the
voice is followed past the ASR's end on 20-ms frames: a frame is voice while its level is within
VOICE_DB of the loudest frame of the word itself and at least FLOOR_DB above the background (the
FLOOR_Q percentile of the frames around it); the end moves to the last voiced frame of the run that
continues from the ASR's end (dips up to GAP_S bridged), at most MAX_EXTEND_S and never into the
next word. Then a word stretched over a pause loses its silent head or tail (TRIM_S or more), so
the pause that ends a sentence shows. numpy only; the audio is read a block at a time.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from chatlab.align.audiocut import Audio

FRAME_S = 0.02
WORD_GAP_S = 0.2
MAX_EXTEND_S = 3.0
VOICE_DB, FLOOR_DB, FLOOR_Q = 25.0, 8.0, 10.0
GAP_S = 0.12
TRIM_S = 0.3
BLOCK_S = 600.0
AROUND_S = 5.0


def _levels(x: np.ndarray, sr: int) -> np.ndarray:
    n = max(1, int(round(FRAME_S * sr)))
    m = len(x) // n
    f = x[: m * n].reshape(m, n)
    return 10.0 * np.log10((f * f).mean(axis=1) + 1e-12)


def _end_in(db: np.ndarray, t0: float, start: float, end: float, limit: float) -> float:
    """The voice's end after `end` (audio clock; db: frame levels from t0)."""
    fi = lambda t: int(np.clip(round((t - t0) / FRAME_S), 0, len(db)))  # noqa: E731
    a, b = fi(start), fi(end)
    if b <= a:
        return end
    peak = float(db[a:b].max())
    floor = float(np.percentile(db[fi(start - AROUND_S): fi(end + AROUND_S)], FLOOR_Q))
    thr = max(peak - VOICE_DB, floor + FLOOR_DB)
    if thr >= peak:  # the word is no louder than the background: nothing to follow
        return end
    j, last, gap, stop = b, b, 0, fi(limit)
    while j < stop:
        if db[j] >= thr:
            last, gap = j + 1, 0
        else:
            gap += 1
            if gap * FRAME_S > GAP_S:
                break
        j += 1
    return max(end, t0 + last * FRAME_S if last > b else end)


def _trim(db: np.ndarray, t0: float, start: float, end: float) -> tuple[float, float]:
    """The word's span without a silent head or tail of TRIM_S or more."""
    fi = lambda t: int(np.clip(round((t - t0) / FRAME_S), 0, len(db)))  # noqa: E731
    a, b = fi(start), fi(end)
    if b - a < 4:
        return start, end
    seg = db[a:b]
    floor = float(np.percentile(db[fi(start - AROUND_S): fi(end + AROUND_S)], FLOOR_Q))
    thr = max(float(seg.max()) - VOICE_DB, floor + FLOOR_DB)
    voiced = np.flatnonzero(seg >= thr)
    if len(voiced) == 0:
        return start, end
    head, tail = voiced[0] * FRAME_S, (len(seg) - voiced[-1] - 1) * FRAME_S
    return (start + head if head >= TRIM_S else start), (end - tail if tail >= TRIM_S else end)


def refine_word_ends(words: pl.DataFrame, audio: Audio) -> tuple[pl.DataFrame, dict[str, Any]]:
    """(words with `end_s` moved to where the voice stops for each word a pause follows, a report:
    words looked at, moved, median and largest move). words: start_s, end_s, word (+ anything)."""
    if words.height == 0:
        return words, {"words_checked": 0, "moved": 0}
    w = words.sort("start_s", "end_s", maintain_order=True)
    start, end = w["start_s"].to_numpy().astype(np.float64), w["end_s"].to_numpy().astype(np.float64)
    nxt = np.append(start[1:], np.inf)
    check = np.flatnonzero(nxt - end >= WORD_GAP_S)
    new = end.copy()
    block_t0, db = None, np.zeros(0)
    for i in check:
        limit = min(end[i] + MAX_EXTEND_S, nxt[i] - 0.05)
        lo, hi = start[i] - AROUND_S, end[i] + max(MAX_EXTEND_S, AROUND_S)
        if block_t0 is None or lo < block_t0 or hi > block_t0 + len(db) * FRAME_S:
            block_t0 = max(0.0, lo)
            x, sr = audio(block_t0, block_t0 + BLOCK_S + 2 * AROUND_S + MAX_EXTEND_S)
            db = _levels(x, sr) if len(x) else np.zeros(0)
        if len(db) == 0 or limit <= end[i]:
            continue
        new[i] = _end_in(db, block_t0, start[i], end[i], limit)
    # a word stretched over a pause (Whisper often runs the last word of one sentence, or the first
    # of the next, across the silence between them) hides the pause that ends the sentence: its
    # silent head or tail of TRIM_S or more is cut off
    new_start = start.copy()
    block_t0, db = None, np.zeros(0)
    for i in range(len(start)):
        if new[i] - start[i] < TRIM_S + 0.1:
            continue
        lo, hi = start[i] - AROUND_S, new[i] + AROUND_S
        if block_t0 is None or lo < block_t0 or hi > block_t0 + len(db) * FRAME_S:
            block_t0 = max(0.0, lo)
            x, sr = audio(block_t0, block_t0 + BLOCK_S + 2 * AROUND_S)
            db = _levels(x, sr) if len(x) else np.zeros(0)
        if len(db) == 0:
            continue
        new_start[i], new[i] = _trim(db, block_t0, start[i], new[i])
    moved = new - end
    out = w.with_columns(pl.Series("start_s", new_start), pl.Series("end_s", new))
    m = moved[check]
    return out, {"words_checked": len(check), "moved": int((m > FRAME_S).sum()),
                 "moved_median_s": round(float(np.median(m[m > FRAME_S])), 3) if (m > FRAME_S).any() else 0.0,
                 "moved_max_s": round(float(m.max()), 3) if len(m) else 0.0}
