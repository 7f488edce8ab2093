"""The chat region: given as ``"x,y,w,h"`` (per VOD: ``[vods.<id>.ocr] region``), or found.

Finding it uses what makes chat chat: its text lines move *upward* over time. For pairs of frames
half a second apart, the pixels that changed but are explained by the same picture shifted up by
some dy are counted; the chat panel is where such "scrolled" pixels gather over many pairs (a
side-scrolling game or a bobbing sprite changes too, but not as a block that moves up). The box is
then grown to the panel's own background so long lines that did not occur while probing still fit.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np


class RegionError(ValueError):
    """No usable chat region: the message says what was tried and how to give one."""


@dataclass(frozen=True)
class Region:
    x: int
    y: int
    w: int
    h: int

    def __str__(self) -> str:
        return f"{self.x},{self.y},{self.w},{self.h}"

    def even(self) -> "Region":
        """Even origin and size (4:2:0 chroma planes are cropped at half resolution)."""
        x, y = self.x - self.x % 2, self.y - self.y % 2
        w = (self.x + self.w - x + 1) // 2 * 2
        h = (self.y + self.h - y + 3) // 4 * 4
        return Region(x, y, w, h)


_REGION_RE = re.compile(r"^\s*(-?\d+)\s*,\s*(-?\d+)\s*,\s*(\d+)\s*,\s*(\d+)\s*$")


def parse_region(value: str | list | tuple) -> Region:
    """``"x,y,w,h"`` (or a 4-list from TOML) -> Region; ValueError that says what is expected."""
    if isinstance(value, (list, tuple)):
        value = ",".join(str(v) for v in value)
    m = _REGION_RE.match(str(value))
    if not m:
        raise RegionError(f"region {value!r}: expected 'x,y,w,h' in pixels, e.g. '1500,200,400,800'")
    x, y, w, h = (int(g) for g in m.groups())
    if w < 16 or h < 16:
        raise RegionError(f"region {value!r}: {w}x{h} is too small to hold chat text (at least 16x16)")
    return Region(x, y, w, h)


def fit_region(region: Region, width: int, height: int) -> tuple[Region, str | None]:
    """The region clipped to the frame, with a note when it had to be clipped; RegionError when
    nothing (or too little) of it lies inside the frame."""
    x0, y0 = max(region.x, 0), max(region.y, 0)
    x1, y1 = min(region.x + region.w, width), min(region.y + region.h, height)
    if x1 - x0 < 16 or y1 - y0 < 16:
        raise RegionError(f"region {region} lies outside the {width}x{height} frame "
                          f"(x+w must be <= {width}, y+h <= {height})")
    fitted = Region(x0, y0, x1 - x0, y1 - y0).even()
    fitted = Region(fitted.x, fitted.y, min(fitted.w, width - fitted.x) // 2 * 2, min(fitted.h, height - fitted.y) // 4 * 4)
    note = None if fitted == region else f"region {region} adjusted to {fitted} (inside the {width}x{height} frame, even sizes)"
    return fitted, note


@dataclass(frozen=True)
class Detection:
    region: Region
    method: str  # "config" | "auto"
    score: float  # share of probe pairs in which upward-scrolling text was seen
    pairs: int
    note: str = ""


def _gray_frames(path: Path, probe_s: float, step_s: float, scale: int) -> Iterator[tuple[float, np.ndarray]]:
    import av

    with av.open(str(path)) as c:
        s = c.streams.video[0]
        s.thread_type = "AUTO"
        tb = float(s.time_base)
        next_t = 0.0
        for packet in c.demux(s):
            try:
                frames = packet.decode()
            except av.error.FFmpegError:  # type: ignore[attr-defined]  # skip a bad packet while probing
                continue
            for f in frames:
                t = float(f.pts * tb) if f.pts is not None else next_t
                if t > probe_s:
                    return
                if t + 1e-6 >= next_t:
                    g = f.to_ndarray(format="gray")
                    yield t, g[::scale, ::scale].astype(np.int16)
                    next_t = t + step_s


def scrolled_pixels(a: np.ndarray, b: np.ndarray, max_dy: int, changed_thr: int = 40, same_thr: int = 16,
                    max_dx: int = 12) -> tuple[int, np.ndarray | None]:
    """(dy, mask): pixels of `b` that changed since `a` but equal `a` shifted up by dy, for the dy
    that explains most of them; (0, None) when no upward shift explains a block of change."""
    h = a.shape[0]
    changed = np.abs(b - a) > changed_thr
    if changed.sum() < 50:
        return 0, None
    best, best_dy = 0, 0
    for dy in range(1, min(max_dy, h - 8)):
        n = int((changed[: h - dy] & (np.abs(b[: h - dy] - a[dy:]) < same_thr)).sum())
        if n > best:
            best, best_dy = n, dy
    if best < 50:
        return 0, None
    mask = np.zeros_like(changed)
    mask[: h - best_dy] = changed[: h - best_dy] & (np.abs(b[: h - best_dy] - a[best_dy:]) < same_thr)
    # A slope moved sideways looks like one moved up (the aperture problem): pixels that a
    # sideways shift explains as well belong to a scrolling scene, not to chat.
    w = a.shape[1]
    for dx in (*range(1, max_dx + 1), *range(-max_dx, 0)):
        if dx > 0:
            mask[:, dx:] &= ~(np.abs(b[:, dx:] - a[:, : w - dx]) < same_thr)
        else:
            mask[:, : w + dx] &= ~(np.abs(b[:, : w + dx] - a[:, -dx:]) < same_thr)
    if mask.sum() < 50:
        return 0, None
    return best_dy, mask


def detect_region(path: str | Path, *, probe_s: float = 120.0, step_s: float = 0.5, min_pairs: int = 3) -> Detection:
    """Find the chat panel in the first ``probe_s`` seconds; RegionError when no scrolling text is seen."""
    import cv2

    path = Path(path)
    from chatlab.ocr.frames import probe

    info = probe(path)
    scale = 2 if min(info.width, info.height) >= 300 else 1  # half resolution is plenty to find a panel
    heat = None
    pairs = hits = 0
    prev = None
    first = last = None
    for _, g in _gray_frames(path, probe_s, step_s, scale):
        if first is None:
            first = g
        last = g
        if prev is not None:
            pairs += 1
            dy, mask = scrolled_pixels(prev, g, max_dy=g.shape[0] // 2)
            if mask is not None:
                hits += 1
                heat = mask.astype(np.int32) if heat is None else heat + mask
        prev = g
    if pairs == 0:
        raise RegionError(f"{path}: too short to find a chat region (need two frames {step_s} s apart)")
    if heat is None or hits < min(min_pairs, pairs):
        raise RegionError(f"{path}: no chat region found: no text scrolled upward in the first {min(probe_s, info.duration_s):.0f} s "
                          f"({hits} of {pairs} frame pairs); give it with --region x,y,w,h or [vods.<id>.ocr] region")
    # Pixels seen scrolling in at least two pairs (one pair can be a coincidence), joined across the
    # gaps between words and lines, then the largest blob.
    votes = (heat >= min(2, hits)).astype(np.uint8)
    k = max(3, 12 // scale)
    votes = cv2.morphologyEx(votes, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (3 * k, 2 * k)))
    n, _, stats, _ = cv2.connectedComponentsWithStats(votes, connectivity=8)
    if n < 2:
        raise RegionError(f"{path}: no chat region found (scrolling pixels too scattered); give it with --region x,y,w,h")
    i = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    x, y, w, h = (int(v) for v in stats[i, :4])
    x, y, w, h = _grow_to_panel(last if last is not None else first, x, y, w, h)
    # no padding: the box was grown over the panel's own background already, and a pixel column of
    # the scene beside it would read as ink on every row
    region = Region(x * scale + (1 if scale > 1 else 0), y * scale, w * scale - (1 if scale > 1 else 0), h * scale)
    region, _ = fit_region(region, info.width, info.height)
    if region.x % 2:  # fit_region rounds the origin down: keep it inside the panel
        region = Region(region.x + 2, region.y, region.w - 2, region.h)
    return Detection(region, "auto", round(hits / pairs, 3), pairs,
                     note=f"text scrolled upward in {hits} of {pairs} frame pairs {step_s} s apart")


def _grow_to_panel(g: np.ndarray, x: int, y: int, w: int, h: int) -> tuple[int, int, int, int]:
    """Trim columns at the box's sides that are not the panel's flat background, then widen/heighten
    the box while the strip next to it is (with or without text on it): lines longer than any seen
    while probing must still fit."""
    H, W = g.shape
    box = g[y:y + h, x:x + w]
    bg = int(np.median(box))
    flat = np.abs(g - bg) <= 12

    def ok_col(c: int) -> bool:  # much of it background, like a panel column between text
        return flat[y:y + h, c].mean() > 0.35

    def ok_row(r: int) -> bool:  # a row through a line of bold text is still a third background
        return flat[r, x:x + w].mean() > 0.35

    # first shrink: closing the vote map can join a few pixels of the scene next to the panel
    while w > 8 and not ok_col(x):
        x, w = x + 1, w - 1
    while w > 8 and not ok_col(x + w - 1):
        w -= 1
    while x > 0 and ok_col(x - 1):
        x, w = x - 1, w + 1
    while x + w < W and ok_col(x + w):
        w += 1
    while y > 0 and ok_row(y - 1):
        y, h = y - 1, h + 1
    while y + h < H and ok_row(y + h):
        h += 1
    return x, y, w, h
