"""Where a chat line's user name ends, from colour: names are drawn in the viewer's colour and
the message in the chat's text colour.

The recogniser often drops the small colon after a bold coloured name ("Raccoon4931 hi chat"),
and a wrapped line may itself start with "word:". The colour change says where the name is
without the colon: the ink of a line is the pixels that stand out from the box's own background
(lighter than it for light text, darker for dark text); the chat's text colour is the commonest ink
colour of the line ends; a line whose ink starts in another colour and then turns to the text
colour opens a message, and the name is that first run.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from chatlab.ocr.textlines import TextLine

OTHER_DIST = 40.0  # colour (grey part removed) distance from the text colour that counts as another


def colour_distance(c: np.ndarray, text_rgb: np.ndarray) -> np.ndarray:
    """How far colours are from the text colour in hue and saturation, not brightness: each minus
    its own grey level (a thin white stroke blended with a dark ground is still white-ish, a
    coloured name stays coloured however dark)."""
    c = np.atleast_2d(c)
    return np.linalg.norm((c - c.mean(axis=1, keepdims=True)) - (text_rgb - text_rgb.mean()), axis=1)


def _luma(a: np.ndarray) -> np.ndarray:
    return a[..., 0] * 0.299 + a[..., 1] * 0.587 + a[..., 2] * 0.114


def polarity(img: np.ndarray, lines: Sequence[TextLine]) -> int:
    """+1 when chat text is lighter than what is around it (the common case), -1 when darker.
    Light text with a dark shadow or outline straight on a bright scene has more dark extreme than
    light, but still a light extreme far above its ground; dark text on a pale panel has none."""
    up = down = 0.0
    n = 0
    for ln in lines[:12]:
        lum = _luma(img[ln.top:ln.bottom, ln.x0:ln.x1].astype(np.float32))
        if lum.size:
            p10, p50, p90 = np.percentile(lum, (3, 50, 97))
            up += p90 - p50
            down += p50 - p10
            n += 1
    return -1 if n and down > up and up / n < 45 else 1


def ink(crop: np.ndarray, pol: int) -> np.ndarray:
    """Mask of the text's own pixels in a line box."""
    a = crop.astype(np.float32)
    lum = _luma(a)
    med = float(np.median(lum))
    chroma = a.max(axis=2) - a.min(axis=2)
    if pol > 0:  # a coloured name is darker than white text, but lighter than the ground and vivid
        top = float(np.percentile(lum, 98))
        return (lum > med + max(30.0, 0.3 * (top - med))) | ((chroma > 90) & (lum > med + 15))
    low = float(np.percentile(lum, 2))
    return (lum < med - max(30.0, 0.3 * (med - low))) | ((chroma > 90) & (lum < med - 15))


def column_colours(img: np.ndarray, line: TextLine, pol: int) -> np.ndarray:
    """Mean ink colour of each column of the line (NaN where a column has no ink)."""
    crop = img[line.top:line.bottom, line.x0:line.x1].astype(np.float32)
    m = ink(crop, pol)
    # the stroke's core only: thin strokes' edges are mixed with the ground's colour
    lum = _luma(crop) * pol
    peak = np.where(m, lum, -1e9).max(axis=0)
    m &= lum >= peak[None, :] - 40
    n = m.sum(axis=0)
    sums = (crop * m[..., None]).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return sums / n[:, None]


def line_colours(img: np.ndarray, lines: Sequence[TextLine], pol: int) -> list[np.ndarray]:
    """The ink colours of the right half of each line (where the text is, after any name), one
    array of column colours per line that has ink there."""
    out = []
    for ln in lines:
        c = column_colours(img, ln, pol)
        half = c[len(c) // 2:]
        half = half[~np.isnan(half[:, 0])]
        if len(half):
            out.append(half)
    return out


def text_colour(img: np.ndarray, lines: Sequence[TextLine], pol: int,
                earlier: Sequence[np.ndarray] = ()) -> np.ndarray | None:
    """The chat's text colour: the commonest ink colour of the right half of the lines, with the
    lines of earlier frames (`earlier`, from line_colours) where given: a frame of a fading chat may
    show three names and one line of text."""
    cols = [*earlier, *line_colours(img, lines, pol)]
    if not cols:
        return None
    allc = np.concatenate(cols)
    return commonest_colour(allc, [np.median(c, axis=0) for c in cols], pol) if len(allc) >= 10 else None


def commonest_colour(colours: np.ndarray, candidates: Sequence[np.ndarray], pol: int = 1) -> np.ndarray:
    """The text colour among the ink colours: of the candidates many of the colours are near, the
    one that stands out most from the ground (the lightest for light text), and the median of the
    colours near it. Not the median of them all: where names stand on lines of their own, half the
    lines' right halves are names, each in its own colour, and a median over channels mixes them
    into a colour no line has. Nor simply the commonest: a chat of names over emote pictures has
    fewer text lines than either, and white text is lighter than coloured names (black darker)."""
    cands = [np.median(colours, axis=0), *candidates]
    near = [colour_distance(colours, c) <= OTHER_DIST / 2 for c in cands]
    support = np.array([int(m.sum()) for m in near])
    if not support.max():
        return cands[0]
    strong = np.flatnonzero(support >= 0.5 * support.max())
    best = max(strong, key=lambda i: pol * float(_luma(colours[near[i]]).mean()))
    return np.median(colours[near[best]], axis=0)


def name_end(img: np.ndarray, line: TextLine, text_rgb: np.ndarray, pol: int) -> tuple[int, int, int] | None:
    """(x where the coloured name at the start of the line starts (after any badges), where it
    ends, where the message after the colon starts), in the picture; None when the line starts in the text colour (a wrapped line)
    or is all one colour."""
    c = column_colours(img, line, pol)
    has = ~np.isnan(c[:, 0])
    if has.sum() < 6:
        return None
    other = np.zeros(len(c), bool)
    other[has] = colour_distance(c[has], text_rgb) > OTHER_DIST
    idx = np.flatnonzero(has)
    h = line.height
    first = _after_badges(img, line, pol, int(idx[0]))
    idx = idx[idx >= first]
    if len(idx) < 6:
        return None
    # the start: most ink columns of the first stretch (a name is at least about two letters) are other
    head = idx[idx < first + max(6, h)]
    if other[head].mean() < 0.7:
        return None
    # the end: the first place from which 4 of 5 ink columns are in the text colour (a thin
    # stroke's edge may read as another colour)
    rest = idx[idx >= first]
    for i in range(len(rest) - 4):
        win = rest[i:i + 5]
        after = rest[i:i + 14]  # and it stays so: not a pale letter inside the name
        if (~other[win]).sum() >= 4 and not other[win[0]] and (~other[after]).mean() >= 0.75:
            end = int(win[0])
            if end - first >= 0.8 * h:  # a sliver of text colour inside a name is not the end
                return line.x0 + first, line.x0 + end - 1, line.x0 + _after_colon(has, end)
    # no text after the name (a message of emote pictures): the colon alone, then a space
    for k in idx[idx >= first + 0.8 * h]:
        if not other[k] and k + 3 < len(has) and not has[k + 1:k + 3].any():
            return line.x0 + first, line.x0 + int(k) - 1, line.x0 + _after_colon(has, int(k))
    return None


def _after_badges(img: np.ndarray, line: TextLine, pol: int, first: int) -> int:
    """The first column of the name: badge pictures before it are solid squares (columns inked
    over most of the line's height for about a line's height), letters are not."""
    crop = img[line.top:line.bottom, line.x0:line.x1].astype(np.float32)
    fill = ink(crop, pol).mean(axis=0)
    h = line.height
    k = first
    while True:
        run = 0
        while k + run < len(fill) and fill[k + run] >= 0.45:
            run += 1
        if run < 0.45 * h:
            break
        k += run
        while k < len(fill) and fill[k] < 0.05:  # the gap after the badge
            k += 1
    # the edge of a badge the box cut through: a sliver in another colour than what follows
    j = k
    while j < len(fill) and fill[j] >= 0.05 and j < k + 4:
        j += 1
    if j < k + 4 and j < len(fill) and fill[j] < 0.05:
        g = j
        while g < len(fill) and fill[g] < 0.05:
            g += 1
        cols = column_colours(img, line, pol)
        a, b = cols[k:j], cols[g:g + 12]
        a, b = a[~np.isnan(a[:, 0])], b[~np.isnan(b[:, 0])]
        if len(a) and len(b) and np.linalg.norm(a.mean(axis=0) - b.mean(axis=0)) > 60:
            return g
    return k


def text_start(img: np.ndarray, line: TextLine, pol: int) -> int:
    """x (in the picture) where the line's text starts, after badge pictures."""
    crop = img[line.top:line.bottom, line.x0:line.x1].astype(np.float32)
    has = np.flatnonzero(ink(crop, pol).any(axis=0))
    return line.x0 + (_after_badges(img, line, pol, int(has[0])) if len(has) else 0)


def body_is_picture(img: np.ndarray, line: TextLine, box: tuple[int, int, int, int], text_rgb: np.ndarray, pol: int) -> bool:
    """A piece of a message in colours other than the text colour: an emote picture."""
    sub = TextLine(line.top, line.bottom, max(box[0], line.x0), min(box[2], line.x1))
    if sub.x1 - sub.x0 < 3:
        return False
    c = column_colours(img, sub, pol)
    has = ~np.isnan(c[:, 0])
    if has.sum() < 3:
        return False
    other = colour_distance(c[has], text_rgb) > OTHER_DIST
    return bool(other.mean() > 0.6)


def _after_colon(has: np.ndarray, k: int) -> int:
    """The first ink column after the gap that follows the colon starting at column k."""
    j = k
    while j < len(has) and has[j] and j < k + 6:
        j += 1
    while j < len(has) and not has[j]:
        j += 1
    return j if j < len(has) else k
