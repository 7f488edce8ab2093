"""Scroll between two views of the chat region, by image registration.

Chat only moves up. For each candidate shift dy, ``cur[:H-dy]`` should equal ``prev[dy:]``; the rows
that came in at the bottom are new. A 1-D row signature ranks all shifts cheaply, the best few are
checked on the full 2-D picture, and the result says whether the change *is* a scroll (the overlap
matches up to compression noise) or something else (a deleted message, an overlay that fades or
redraws), in which case the reader falls back to reading the whole panel.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

DIFF_THR = 48  # grey levels: a pixel differs (compression noise at text edges stays below this)
STILL_FRAC = 0.0005  # at most this share of differing pixels: the frame did not change
MATCH_FRAC = 0.004  # at most this share in the overlap: the shift explains the change
MATCH_RATIO = 0.2  # ... or the overlap differs at most this much relative to the unshifted frames
MAX_RESIDUAL = 0.05
MIN_OVERLAP = 24


@dataclass(frozen=True)
class Scroll:
    kind: str  # "still" | "scroll" | "other"
    dy: int  # rows the content moved up (0 for still/other)
    residual: float  # share of differing pixels in the overlap at dy (or in the whole frame)


def gray(img: np.ndarray) -> np.ndarray:
    """RGB uint8 -> int16 luma, lightly blurred (re-encoded glyph edges after a scroll differ by
    more than the glyphs do; int16 so differences do not wrap)."""
    import cv2

    g = img if img.ndim == 2 else cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)
    return cv2.blur(g, (3, 3)).astype(np.int16)


def _frac(a: np.ndarray, b: np.ndarray) -> float:
    if a.size == 0:
        return 1.0
    return float(np.count_nonzero(np.abs(a - b) > DIFF_THR)) / a.size


def residual_at(prev: np.ndarray, cur: np.ndarray, dy: int) -> float:
    """Share of differing pixels between cur[:H-dy] and prev[dy:]."""
    h = prev.shape[0]
    if dy >= h - MIN_OVERLAP:
        return 1.0
    return _frac(cur[: h - dy], prev[dy:])


def estimate_scroll(prev: np.ndarray, cur: np.ndarray, *, candidates: Iterable[int] | None = None, top_k: int = 6,
                    max_dy: int | None = None) -> Scroll:
    """How `cur` relates to `prev` (both int16 grey, same shape). With `candidates`, only those
    shifts are tried. `max_dy` bounds the shift (the reader passes the bottom of the old text: a
    larger shift would leave no old text to register on, and blank panel matches anything)."""
    if prev.shape != cur.shape:
        raise ValueError(f"frames differ in size: {prev.shape} vs {cur.shape}")
    h = prev.shape[0]
    limit = h - MIN_OVERLAP if max_dy is None else min(h - MIN_OVERLAP, max_dy + 1)
    still = _frac(cur, prev)
    if still <= STILL_FRAC:
        return Scroll("still", 0, still)
    if candidates is None:
        # Row signature: mean and spread of each row; shift that best aligns them ranks first.
        sig = np.stack([prev.mean(axis=1), prev.std(axis=1)], axis=1)
        sig_c = np.stack([cur.mean(axis=1), cur.std(axis=1)], axis=1)
        costs = np.full(h, np.inf)
        for dy in range(1, limit):
            costs[dy] = np.abs(sig_c[: h - dy] - sig[dy:]).mean()
        cands = [int(d) for d in np.argsort(costs)[:top_k] if np.isfinite(costs[d])]
    else:
        cands = [d for d in candidates if 0 < d < limit]
    best_dy, best_res = 0, 1.0
    for dy in cands:
        r = residual_at(prev, cur, dy)
        # prefer the smaller shift on ties: identical lines (emote spam) repeat the picture
        if r < best_res - 1e-9 or (abs(r - best_res) <= 1e-9 and dy < best_dy):
            best_dy, best_res = dy, r
    # A scroll explains the change: the overlap matches far better than the unshifted frames do
    # (the absolute level of compression noise grows with how much text is on screen).
    if best_dy and (best_res <= MATCH_FRAC or best_res <= MATCH_RATIO * still) and best_res <= MAX_RESIDUAL:
        return Scroll("scroll", best_dy, best_res)
    return Scroll("other", 0, min(still, best_res))
