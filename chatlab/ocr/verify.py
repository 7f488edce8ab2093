"""Is a candidate region chat? Read a few frames of it and see.

Motion (region.py) says where text scrolls up and holds; reading says whether it is chat: lines
that open with a user name and a colon (or a name in a colour of its own), their wrapped lines
under them. Each candidate is read on a few frames of the probe span, a little larger than its
box (lines longer than any seen while probing must fit); the one that reads most like chat wins,
its box is fitted to the message lines read, and its confidence says how much like chat it read.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from chatlab.ocr.region import Candidate, Detection, Region, fit_region

MIN_CONFIDENCE = 0.5  # below: the check fails, the candidates picture says what was seen
NO_CHAT = 0.2  # below: no chat region found at all (nothing is read)
GROW_ALONG_CONFIDENCE = 0.3  # below MIN_CONFIDENCE, a box of mostly message lines still grows up or down


@dataclass(frozen=True)
class Verdict:
    region: Region  # fitted to the lines read
    confidence: float
    frames: int
    lines: int
    starts: int
    in_messages: int
    reason: str
    start_xs: tuple[int, ...] = ()  # where the message starts read begin, in the frame


def _grown(r: Region, width: int, height: int) -> Region:
    # the motion box can miss the start of the lines (a name seen scrolling less than its text):
    # room on the left too, where cutting a name costs the whole message
    grown = Region(r.x - max(24, r.w // 6), r.y - max(16, r.h // 8), r.w + max(24, r.w // 6) + max(24, r.w // 3),
                   r.h + max(16, r.h // 8) + max(24, r.h // 6))
    return fit_region(grown, width, height)[0]


def _frames(video: Path, region: Region, times: list[float]) -> list[np.ndarray]:
    from chatlab.ocr.frames import sample_region

    out = []
    for t in times:
        for s in sample_region(video, region, 1.0, start_s=t, end_s=t + 0.6, max_between=0):
            if s.image is not None:
                out.append(s.image)
                break
    return out


def verify(video: Path, cand: Region, engine: Any, times: list[float], size: tuple[int, int],
           panel: bool = False, widen: int = 3) -> Verdict:
    """Read the candidate (grown a little, unless it is a flat panel) on frames at `times`. When
    the lines read run into the box's left or right edge (the motion saw only part of the chat:
    panel-less text, a short probe), the box is widened that way and read again, up to `widen`
    times, and the wider reading is kept when it reads at least as much like chat."""
    from chatlab.ocr.reader import ChatReader, ReadOptions, group_lines

    grown = _grown(cand, *size)
    imgs = _frames(video, grown, times)
    lines_n = starts = in_msgs = 0
    xs0, xs1, ys0, ys1 = [], [], [], []
    start_xs: list[int] = []
    for img in imgs:
        reader = ChatReader(engine, ReadOptions())
        lines = reader._lines(img)
        reader._read(img, lines)
        msgs, _ = group_lines(lines, img.shape[1])
        lines_n += len(lines)
        starts += len(msgs)
        for m in msgs:
            in_msgs += len(m.lines)
            start_xs.append(grown.x + m.lines[0].x0)
            for ln in m.lines:
                xs0.append(ln.x0)
                xs1.append(ln.x1)
                ys0.append(ln.top)
                ys1.append(ln.bottom)
    if not imgs:
        return Verdict(cand, 0.0, 0, 0, 0, 0, "no frame of the candidate could be read")
    if not starts:
        return Verdict(cand, 0.0, len(imgs), lines_n, 0, 0,
                       f"{lines_n} text lines in {len(imgs)} frames, none opens a message with 'name:'")
    share = in_msgs / max(1, lines_n)
    per_frame = starts / len(imgs)
    conf = round(min(1.0, per_frame / 3) * share ** 0.5, 3)
    # the box: from the message lines' left edge, to the right of the longest line and the grown
    # box's right (a line can be longer than all those read), top to bottom of the grown box
    pad = 4
    x0 = grown.x + max(0, min(xs0) - pad)
    right = float(np.percentile(xs1, 90))  # one line run on into the scene does not widen it
    x1 = grown.x + min(grown.w, int(max(right + pad, cand.x + cand.w - grown.x)))
    line_h = int(np.median([b - a for a, b in zip(ys0, ys1)]))
    y0 = grown.y + max(0, min(ys0) - max(12, line_h))
    y1 = min(grown.y + grown.h, max(grown.y + max(ys1) + line_h // 2 + pad, cand.y + cand.h))
    fitted = fit_region(Region(x0, y0, x1 - x0, y1 - y0), *size)[0]
    reason = (f"{starts} message starts and {in_msgs} of {lines_n} text lines in messages over {len(imgs)} frames")
    verdict = Verdict(fitted, conf, len(imgs), lines_n, starts, in_msgs, reason, tuple(start_xs))
    W = size[0]
    near = max(4, line_h // 2)  # a line cut by the edge starts at its next whole glyph
    left = min(xs0) <= near and grown.x > 0
    # many of the lines (not one caption or ticker beside the chat) run into the right edge
    right = sum(x >= grown.w - near for x in xs1) >= max(1, 0.2 * len(xs1)) and grown.x + grown.w < W
    # lines down to the box's bottom: the motion saw only the older lines higher up (fading chat
    # with no panel); the newest line, at the bottom, is where each message is first seen
    H = size[1]
    down = max(ys1) >= grown.h - near and grown.y + grown.h < H
    # and up to its top: a long message's first line (its name) is above the box
    up = min(ys0) <= near and grown.y > 0
    left, right, down, up = growth(conf, share, left, right, down, up)
    if widen and (left or right or down or up):
        # half the box a step: small text with no panel can move as a narrow strip of its lines
        step, vstep = max(48, cand.w // 2), max(48, cand.h // 2)
        x0 = max(0, cand.x - step) if left else cand.x
        x1 = min(W, cand.x + cand.w + step) if right else cand.x + cand.w
        y1 = min(H, cand.y + cand.h + vstep) if down else cand.y + cand.h
        y0 = max(0, cand.y - vstep) if up else cand.y
        wider = verify(video, Region(x0, y0, x1 - x0, y1 - y0), engine, times, size, panel, widen - 1)
        # the chat's lines ran on past the right edge: the wider box's messages start where they
        # did; one that starts right of the box is scene text (a caption 'Narrator: ...'), not
        # more chat (lines cut on the left do start further left)
        beside = sum(1 for x in wider.start_xs if x > grown.x + grown.w or not left and x < grown.x - near)
        if wider.confidence >= verdict.confidence - 0.05 and wider.starts >= starts and beside == 0:
            return wider
    return verdict


def growth(conf: float, share: float, left: bool, right: bool, down: bool, up: bool) -> tuple[bool, bool, bool, bool]:
    """Which ways a box whose lines run into its edges may grow. Only a box that already reads like
    chat grows (scene text below or beside it, a caption 'Guard: halt', must not turn a box of no
    chat into one). But a short box of chat whose names stand above their text holds few message
    starts (two lines each) and reads less like chat than it is: where most of its lines are in
    messages it may still grow up or down, along the chat's own column (the taller box is kept
    only where it reads at least as well)."""
    if conf >= MIN_CONFIDENCE:
        return left, right, down, up
    along = conf >= GROW_ALONG_CONFIDENCE and share >= 0.7
    return False, False, down and along, up and along


def _union(a: Region, b: Region, size: tuple[int, int]) -> Region:
    x0, y0 = min(a.x, b.x), min(a.y, b.y)
    x1, y1 = max(a.x + a.w, b.x + b.w), max(a.y + a.h, b.y + b.h)
    return fit_region(Region(x0, y0, x1 - x0, y1 - y0), *size)[0]


def clusters(cands: tuple[Candidate, ...] | list[Candidate], size: tuple[int, int], gap: int = 32,
             limit: int = 8) -> list[Candidate]:
    """Candidates that touch (within `gap` px) joined into one: the motion of a wide chat with no
    panel can break into pieces (each line's words moved apart), none of which reads like chat."""
    boxes = [c.region for c in cands[:limit]]
    groups: list[list[int]] = []
    for i, b in enumerate(boxes):
        hit = [g for g in groups if any(_near(b, boxes[j], gap) for j in g)]
        merged = [i] + [j for g in hit for j in g]
        groups = [g for g in groups if g not in hit] + [merged]
    out = []
    for g in groups:
        if len(g) < 2:
            continue
        r = boxes[g[0]]
        for j in g[1:]:
            r = _union(r, boxes[j], size)
        out.append(Candidate(r, round(sum(cands[j].evidence for j in g), 3), False))
    return sorted(out, key=lambda c: -c.evidence)


def _near(a: Region, b: Region, gap: int) -> bool:
    return a.x - gap <= b.x + b.w and b.x - gap <= a.x + a.w and a.y - gap <= b.y + b.h and b.y - gap <= a.y + a.h


def choose(video: Path, det: Detection, engine: Any, size: tuple[int, int], span_s: float, top: int = 3) -> Detection:
    """The detection with the candidate that reads most like chat, fitted, with its confidence.
    When none of the top candidates reads like chat, the pieces that touch are read joined."""
    times = [round(span_s * f, 2) for f in (0.35, 0.6, 0.9)]
    best: tuple[Verdict, Candidate] | None = None
    verdicts = []
    tried = list(det.candidates[:top])
    for c in tried + clusters(det.candidates, size)[:2]:
        if c not in tried and best is not None and best[0].confidence >= MIN_CONFIDENCE:
            break  # the joined pieces only when no single candidate read like chat
        if c.evidence < 0.05 and best is not None:
            continue
        v = verify(video, c.region, engine, times, size, c.panel)
        verdicts.append((c, v))
        if best is None or v.confidence > best[0].confidence:
            best = (v, c)
        if v.confidence >= 0.9:
            break
    if best is None:
        return replace(det, confidence=0.0, reason="no candidate to read")
    v, c = best
    cands = tuple(det.candidates)
    if v.confidence < MIN_CONFIDENCE:
        reason = f"low confidence {v.confidence:.2f}: {v.reason}"
    else:
        reason = v.reason
    note = f"{det.note}; read: {v.reason}"
    region = c.region
    if v.starts:  # fitted to the lines read; a flat panel keeps its own extent too (empty at first)
        region = v.region if not c.panel else _union(v.region, c.region, size)
    return replace(det, region=region, confidence=v.confidence, note=note,
                   reason=reason, candidates=cands)
