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
    """No usable chat region: the message says what was tried and how to give one;
    ``candidates`` are the places that moved like chat in part (for the picture), ``at_s`` a time
    in the probed span to draw them on."""

    def __init__(self, message: str, candidates: tuple = (), at_s: float = 0.0) -> None:
        super().__init__(message)
        self.candidates = candidates
        self.at_s = at_s


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
class Candidate:
    region: Region
    evidence: float  # share of the frame pairs' votes that fell in it
    panel: bool = False  # grown to a flat panel's own edges (reading does not refit it)


@dataclass(frozen=True)
class Detection:
    region: Region
    method: str  # "config" | "auto"
    score: float  # share of probe pairs in which upward-scrolling text was seen
    pairs: int
    note: str = ""
    confidence: float = 1.0  # 0-1: how sure the region holds chat (1 for a configured one)
    candidates: tuple[Candidate, ...] = ()
    reason: str = ""  # why the confidence is what it is


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


def _analysis_scale(width: int, height: int) -> int:
    """Probe frames are shrunk to about 320 px across: chat lines still move visibly, and a pair
    of frames costs a few milliseconds."""
    return max(1, round(min(width, height * 16 / 9) / 320))


def vote_maps(path: Path, probe_s: float, step_s: float, scale: int) -> tuple[np.ndarray | None, np.ndarray | None, int, int, np.ndarray | None]:
    """(scrolled votes, still votes, pairs, pairs with a scroll, a middle frame): per pixel, how
    many frame pairs saw it scroll upward, and how many saw it hold still while textured. Chat
    text does both (it holds between messages, moves up when one arrives); a moving scene never
    holds still, a fixed HUD never scrolls, damage numbers that float up never hold."""
    scroll = still = None
    pairs = hits = 0
    prev = None
    frames = []
    for _, g in _gray_frames(path, probe_s, step_s, scale):
        frames.append(g)
        if prev is not None:
            pairs += 1
            _, mask = scrolled_pixels(prev, g, max_dy=g.shape[0] // 2, max_dx=max(4, 48 // scale))
            edges = np.zeros(g.shape, bool)
            edges[:, 1:] = np.abs(prev[:, 1:] - prev[:, :-1]) > 30
            hold = edges & (np.abs(g - prev) < 10)
            still = hold.astype(np.int32) if still is None else still + hold
            if mask is not None:
                hits += 1
                scroll = mask.astype(np.int32) if scroll is None else scroll + mask
        prev = g
    middle = frames[len(frames) // 2] if frames else None
    return scroll, still, pairs, hits, middle


def detect_region(path: str | Path, *, probe_s: float = 120.0, step_s: float = 0.5, min_pairs: int = 3) -> Detection:
    """Find the chat in the first ``probe_s`` seconds. RegionError when no text scrolled upward at
    all; otherwise the best candidate, with the others, and a confidence (verify.py raises or
    lowers it by reading the candidate)."""
    import cv2

    path = Path(path)
    from chatlab.ocr.frames import probe

    info = probe(path)
    scale = _analysis_scale(info.width, info.height)
    scroll, still, pairs, hits, last = vote_maps(path, probe_s, step_s, scale)
    span = min(probe_s, info.duration_s) if info.duration_s == info.duration_s else probe_s
    if pairs == 0:
        raise RegionError(f"{path}: too short to find a chat region (need two frames {step_s} s apart)")
    if scroll is None or still is None or hits < min(min_pairs, pairs):
        raise RegionError(f"{path}: no chat region found: no text scrolled upward in the first {span:.0f} s "
                          f"({hits} of {pairs} frame pairs); give it with --region x,y,w,h or [vods.<id>.ocr] region",
                          at_s=span / 2)
    both = ((scroll >= 1) & (still >= 2)).astype(np.uint8)
    k = 3
    joined = cv2.morphologyEx(both, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (2 * k, k + 1)))
    n, labels, stats, _ = cv2.connectedComponentsWithStats(joined, connectivity=8)
    total = float(both.sum()) or 1.0
    H, W = both.shape
    cands = []
    for i in range(1, n):
        x, y, w, h, _ = (int(v) for v in stats[i])
        votes = float(both[labels == i].sum())
        if votes < 0.02 * total or h < 3:
            continue
        box = last[y:y + h, x:x + w] if last is not None else None
        flat = box is not None and box.size > 0 and float((np.abs(box - np.median(box)) <= 12).mean()) >= 0.5
        if flat:
            # a flat panel: it is as large as its own background (lines longer, or higher up, than
            # any seen while probing will come)
            x, y, w, h = _grow_to_panel(last, x, y, w, h)
            x0, y0, x1, y1 = x, y, x + w, y + h
        else:  # lines longer than any seen while probing must fit: some room right and above
            x0, y0 = max(0, x - 1), max(0, y - 2)
            x1, y1 = min(W, x + w + max(2, w // 6)), min(H, y + h + 1)
        r = Region(x0 * scale, y0 * scale, (x1 - x0) * scale, (y1 - y0) * scale)
        try:
            cands.append(Candidate(fit_region(r, info.width, info.height)[0], round(votes / total, 3), flat))
        except RegionError:  # too small to hold a line
            continue
    if not cands:
        moved = _blobs((scroll >= 2).astype(np.uint8), scale, info.width, info.height)
        raise RegionError(f"{path}: no chat region found: text moved upward in {hits} of {pairs} frame pairs but never "
                          f"held still (a scrolling scene, not chat); give it with --region x,y,w,h",
                          candidates=tuple(moved[:6]), at_s=span / 2)
    cands.sort(key=lambda c: -c.evidence)
    best = cands[0]
    return Detection(best.region, "auto", round(hits / pairs, 3), pairs,
                     note=f"text scrolled upward in {hits} of {pairs} frame pairs {step_s} s apart; "
                          f"{best.evidence:.0%} of the chat-like pixels in the best of {len(cands)} candidates",
                     confidence=best.evidence, candidates=tuple(cands[:6]))


def _blobs(mask: np.ndarray, scale: int, width: int, height: int) -> list[Candidate]:
    """Connected blobs of a vote mask as candidates, largest first (for the picture)."""
    import cv2

    n, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    total = float(mask.sum()) or 1.0
    out = []
    for i in range(1, n):
        x, y, w, h, area = (int(v) for v in stats[i])
        if area >= 0.02 * total and w > 1 and h > 1:
            try:
                r = fit_region(Region(x * scale, y * scale, w * scale, h * scale), width, height)[0]
            except RegionError:
                continue
            out.append(Candidate(r, round(area / total, 3)))
    return sorted(out, key=lambda c: -c.evidence)


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
