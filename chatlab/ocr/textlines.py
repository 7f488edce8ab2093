"""Text lines of a chat picture from the detection model's boxes, whatever is behind the text.

The detection model (PP-OCR's DB) finds text on flat panels, translucent ones and straight on a
busy picture (outlined or shadowed text) alike, where a flat-background rule cannot. It returns
one box per run of text; a chat line breaks into several where an emote picture or a wide gap
sits, so boxes on the same row are joined into one line (its pieces are read one by one and
joined with spaces: a picture between them is no text).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

Box = tuple[int, int, int, int]  # x0, y0, x1, y1


@dataclass
class TextLine:
    top: int
    bottom: int  # exclusive
    x0: int
    x1: int
    pieces: list[Box] = field(default_factory=list)
    text: str = ""
    confidence: float = 0.0
    reused: bool = False  # text carried over from the previous frame (same line, scrolled or not)
    colour_start: bool | None = None  # starts with a name in a colour of its own (None: not decidable)

    @property
    def height(self) -> int:
        return self.bottom - self.top


def join_rows(boxes: Sequence[Box]) -> list[TextLine]:
    """Boxes -> lines, top to bottom: a box joins a line when they overlap for at least half of
    the smaller height (neighbouring chat lines overlap far less after the model's box padding)."""
    lines: list[TextLine] = []
    for b in sorted(split_tall(boxes), key=lambda b: ((b[1] + b[3]) / 2, b[0])):
        x0, y0, x1, y1 = b
        if y1 - y0 < 4 or x1 - x0 < 4:
            continue
        for ln in lines[-3:]:
            ov = min(ln.bottom, y1) - max(ln.top, y0)
            gap = max(x0 - ln.x1, ln.x0 - x1)  # text far along the same row is something else
            if ov >= 0.5 * min(ln.height, y1 - y0) and gap <= 4 * max(ln.height, y1 - y0):
                ln.pieces.append(b)
                ln.top, ln.bottom = min(ln.top, y0), max(ln.bottom, y1)
                ln.x0, ln.x1 = min(ln.x0, x0), max(ln.x1, x1)
                break
        else:
            lines.append(TextLine(y0, y1, x0, x1, [b]))
    for ln in lines:
        ln.pieces.sort()
    return lines


def split_tall(boxes: Sequence[Box]) -> list[Box]:
    """Tightly spaced lines (no panel, little line spacing) can come as one box spanning several:
    a box much taller than the usual one is cut into rows of the usual height."""
    if len(boxes) < 3:
        return list(boxes)
    med = float(np.median([b[3] - b[1] for b in boxes]))
    out: list[Box] = []
    for x0, y0, x1, y1 in boxes:
        k = int(round((y1 - y0) / med)) if med > 0 else 1
        if (y1 - y0) < 1.7 * med or k < 2:
            out.append((x0, y0, x1, y1))
            continue
        step = (y1 - y0) / k
        out.extend((x0, int(y0 + i * step), x1, int(y0 + (i + 1) * step)) for i in range(k))
    return out


def crops(img_rgb: np.ndarray, line: TextLine, scale: float = 2.0, pad: int = 1,
          pieces: Sequence[Box] | None = None) -> list[np.ndarray]:
    """One BGR picture per piece of the line, for the recogniser (upscaled: small chat text keeps
    its word spaces better)."""
    import cv2

    H, W = img_rgb.shape[:2]
    out = []
    for x0, y0, x1, y1 in (line.pieces if pieces is None else pieces):
        c = img_rgb[max(0, y0 - pad):min(H, y1 + pad), max(0, x0 - pad):min(W, x1 + pad)]
        if c.shape[0] < 2 or c.shape[1] < 2:  # nothing left of a piece cut at the name: a blank
            c = np.zeros((max(2, y1 - y0), 8, 3), np.uint8)
        if scale != 1:
            c = cv2.resize(c, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
        out.append(np.ascontiguousarray(c[:, :, ::-1]))
    return out


def split_at(line: TextLine, start: int, x: int, rest_x: int) -> tuple[list[Box], list[Box]]:
    """The name (one box from start to x; `crops` pads it by a pixel) and the line's pieces from
    rest_x on (the message)."""
    name = [(start + 1, line.top, x, line.bottom)]
    rest = [(max(x0, rest_x - 3), y0, x1, y1) for x0, y0, x1, y1 in line.pieces if x1 > rest_x + 3]
    return name, rest


def same_line(a: TextLine, b: TextLine, dy: int, tol: int = 4) -> bool:
    """`b` (this frame) may be `a` (an earlier frame) moved up by dy: same place (box centre; the
    detector's box edges jitter by a few pixels from frame to frame), same left edge and width."""
    ca, cb = (a.top + a.bottom) / 2 - dy, (b.top + b.bottom) / 2
    return (abs(ca - cb) <= tol and abs(a.x0 - b.x0) <= 3 and abs(a.x1 - b.x1) <= 6
            and abs(a.height - b.height) <= 7)


def line_shift(prev: Sequence[TextLine], cur: Sequence[TextLine], max_dy: int) -> int:
    """The upward shift that lines up most lines of `cur` with lines of `prev` (0 when none do)."""
    votes: dict[int, int] = {}
    for a in prev:
        for b in cur:
            dy = a.top - b.top
            if 0 <= dy <= max_dy and abs(a.x0 - b.x0) <= 3 and abs(a.x1 - b.x1) <= 5 and abs(a.height - b.height) <= 3:
                votes[dy] = votes.get(dy, 0) + 1
    if not votes:
        return 0
    # neighbouring shifts are one shift seen through box jitter: vote in windows of +-2
    best = max(votes, key=lambda d: (sum(votes.get(d + k, 0) for k in range(-2, 3)), votes[d], -d))
    return best


def same_ink(img_a: np.ndarray, a: TextLine, img_b: np.ndarray, b: TextLine, min_iou: float = 0.5) -> bool:
    """The two lines show the same glyphs: their bright-ink masks overlap well once lined up
    (centre to centre, within a few pixels). Two messages of the same width ("so true",
    "!uptime") do not."""
    h = max(a.height, b.height)
    x0, x1 = max(a.x0, b.x0), min(a.x1, b.x1)
    if x1 - x0 < 4 or h < 4:
        return False
    ca, cb = (a.top + a.bottom) // 2, (b.top + b.bottom) // 2

    def rows(img: np.ndarray, centre: int, dx: int = 0) -> np.ndarray | None:
        y0 = centre - h // 2
        if y0 < 0 or y0 + h > img.shape[0] or x0 + dx < 0 or x1 + dx > img.shape[1]:
            return None
        g = img[y0:y0 + h, x0 + dx:x1 + dx].astype(np.float32).mean(axis=2)
        return g > (np.median(g) + np.percentile(g, 98)) / 2

    mb = rows(img_b, cb)
    if mb is None:
        return False
    best = 0.0
    for dyy in range(-3, 4):
        for dx in (-1, 0, 1):
            ma = rows(img_a, ca + dyy, dx)
            if ma is None:
                continue
            union = (ma | mb).sum()
            if union:
                best = max(best, float((ma & mb).sum()) / float(union))
    return best >= min_iou
