"""Transcript-side evidence at a cut: what an ASR leaves where the audio was spliced.

A cut removes a stretch of the recording, so the audio often jumps mid-sentence or mid-word. The
bundled Whisper, on real clips cut that way (chatlab.align.synth's splice notes), ends the broken
sentence with a trailing "..." ("others to... The aspect"), gives the word cut off or the first
one after it a low probability ("Wenn" at 0.11), starts a new segment with no full stop before
it, or stretches a word over the jump; and sometimes leaves no mark at all ("Strindet. Kommen").
A cut in a pause leaves nothing.

Each gap between two words gets the marks it carries. A mark's weight is how rare it is in this
VOD's own transcript (-log of its rate over all gaps, smoothed): a speaker who trails off often,
or names the ASR does not know, makes those marks cheap. Inside a cut's likelihood range (what the
echoes allow) each gap's weight is the echoes' likelihood of the cut there (fit.locate_cut's
profile: nearly flat between the last echoed sentence before the cut and the first after) times
exp(score), its likelihood ratio of being the splice by its marks (a mark the splice always
leaves against its rate elsewhere; an unmarked gap 1: what a splice fails to mark and what it
marks less often than always roughly cancel), so the posterior of the likeliest place (the gaps
within NEAR_S of it) is its weight over the range's. The cut MOVES there when that is more than MOVE_POSTERIOR (the
cut is likelier there than anywhere else in the range put together; the midpoint the echoes give
is no better a guess). It PINS the cut (the range shrinks to it, as a clear background step does
in chatlab.align.audiocut) only when the gap carries two marks or more, chance would put so
well-marked a gap in the range rarely (PIN_ALPHA), the same marks are about as rare elsewhere in
the transcript, and no other gap in the range comes close (SECOND_NATS). A move leaves the range
as it is, so the gate keeps weighing (and refusing) a cut the echoes leave loose from wherever
it now sits. Never outside the range: the words never overrule the echoes.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Callable

import numpy as np
import polars as pl

from chatlab.align.curve import CurveSegment, OffsetCurve

MARKS = ("trail", "low", "open_segment", "long_word")
TRAIL_RE = r"(\.\.\.|…|-)[\"'’”)\]]*$"  # a word that trails off or is cut off ("to...", "wor-")
END_RE = r"[.?!…。？！][\"'’”)\]]*$"
LOW_P = 0.35  # a word the ASR is unsure of (Whisper's word probability)
LONG_WORD_S, LONG_WORD_X = 1.0, 4.0  # a word this long and this many times the median: stretched over a jump
RATE_FLOOR = 1e-3  # no mark is rarer than this, however long the transcript (marks are not quite independent)
LOOSE_S = 4.0  # a range this narrow the echoes pin already
MOVE_POSTERIOR, PIN_ALPHA, PIN_JOINT = 0.5, 0.02, 0.25
SECOND_NATS = 3.0  # to pin, the best gap must beat every other gap in the range (more than NEAR_S away) by this
NEAR_S = 1.5
PIN_S = 2.0  # a pinned cut's range: the gap +- this (audio clock)


def gap_marks(words: pl.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(audio time of each gap between consecutive words: the middle of the gap; marks per gap,
    one column per MARKS). `probability` is optional (no column, or nulls: no low mark)."""
    w = words.filter(pl.col("start_s").is_not_null() & pl.col("end_s").is_not_null() & pl.col("word").is_not_null()).sort("start_s")
    n = w.height
    if n < 2:
        return np.zeros(0), np.zeros((0, len(MARKS)), bool)
    st, en = w["start_s"].to_numpy(), np.maximum(w["end_s"].to_numpy(), w["start_s"].to_numpy())
    text = w["word"].str.strip_chars()
    trail = text.str.contains(TRAIL_RE).to_numpy()
    ends = text.str.contains(END_RE).to_numpy()
    prob = w["probability"].fill_null(1.0).to_numpy() if "probability" in w.columns else np.ones(n)
    seg = w["seg_id"].to_numpy() if "seg_id" in w.columns else np.zeros(n, np.int64)
    dur = en - st
    long = (dur > LONG_WORD_S) & (dur > LONG_WORD_X * float(np.median(dur)))
    low = prob < LOW_P
    marks = np.stack([
        trail[:-1],
        low[:-1] | low[1:],
        (seg[:-1] != seg[1:]) & ~ends[:-1] & ~trail[:-1],
        long[:-1] | long[1:],
    ], axis=1)
    return (en[:-1] + np.maximum(st[1:], en[:-1])) / 2.0, marks


def mark_weights(marks: np.ndarray) -> np.ndarray:
    """Per mark, -log of its rate over the VOD's gaps (smoothed, floored at RATE_FLOOR)."""
    n = len(marks)
    rate = np.maximum((marks.sum(axis=0) + 1.0) / (n + 2.0), RATE_FLOOR)
    return -np.log(rate)


def place_in_range(t: np.ndarray, marks: np.ndarray, weights: np.ndarray, lo: float, hi: float,
                   echo_ll: Callable[[np.ndarray], np.ndarray] | None = None) -> dict[str, Any]:
    """The likeliest gap in lo..hi (audio clock) and whether it moves or pins the cut. echo_ll:
    the echoes' log-likelihood of the cut at an audio time (CurveSegment.cut_ll_at; None: flat)."""
    inside = np.flatnonzero((t >= lo) & (t <= hi))
    if not len(inside):
        return {"used": False, "why": "no gap between words in the range"}
    score = marks[inside] @ weights
    total = score + (echo_ll(t[inside]) if echo_ll is not None else 0.0)
    b = int(np.argmax(total))
    j = int(inside[b])
    far = np.abs(t[inside] - t[j]) > NEAR_S
    # the place is the likeliest gap and its neighbours within NEAR_S (a pin's range holds them
    # all); its marks, the best-marked of them
    m = int(np.flatnonzero(~far)[np.argmax(score[~far])])
    s1 = float(score[m])
    s2 = float(score[far].max()) if far.any() else 0.0
    lr = np.exp(total - total[b])  # relative to the best gap's (no overflow)
    posterior = float(lr[~far].sum() / lr.sum())
    n_in = len(inside)
    chance = n_in * float(np.exp(-s1))  # gaps this well marked the range would hold by chance
    combo = marks[inside[m]]
    out_of = np.ones(len(t), bool)
    out_of[inside] = False
    same = int((marks[out_of] == combo).all(axis=1).sum()) if combo.any() else int(out_of.sum())
    joint = n_in * (same + 0.5) / max(int(out_of.sum()), 1)  # the same marks' own rate elsewhere
    out = {"at_s": round(float(t[j]), 2), "marks": [m for m, x in zip(MARKS, combo) if x], "score_nats": round(s1, 2),
           "second_nats": round(s2, 2), "gaps": n_in, "chance": float(f"{chance:.3g}"), "joint": float(f"{joint:.3g}"),
           "posterior": round(posterior, 3), "used": False}
    if not combo.any():
        return out | {"why": "no marked gap in the range" if not (marks[inside] @ weights).any() else "the likeliest place in the range is unmarked"}
    if posterior <= MOVE_POSTERIOR:
        return out | {"why": f"the cut is no likelier at the best-marked gap than elsewhere in the range (posterior {posterior:.2f}; "
                             f"next best {s2:.1f} vs {s1:.1f} nats, {chance:.2g} so marked expected by chance)"}
    pins = int(combo.sum()) >= 2 and chance <= PIN_ALPHA and joint <= PIN_JOINT and s1 - s2 >= SECOND_NATS
    return out | {"used": True, "pins": pins, "why": "a broken sentence in the range" + (", clear and alone: pins the cut" if pins else "")}


def chat_time(seg: CurveSegment, g: float) -> float:
    """The chat-clock time whose audio time (t - offset(t)) is g on this segment's line."""
    d = seg.drift_s_per_h / 3600.0
    return (g + seg.offset_s - d * seg.start_s) / (1.0 - d)


def move_cut(segs: list[CurveSegment], k: int, g: float, pin_s: float | None) -> tuple[float, float] | None:
    """Move the cut before segment k to audio time g (inside its range); with pin_s, its range
    (and the one-echo-left-out range the gate weighs) shrinks to g +- pin_s. Returns the new range,
    or None when the move would empty a segment (nothing changed)."""
    s, prev = segs[k], segs[k - 1]
    end, start = chat_time(prev, g), chat_time(s, g)
    if not (end > prev.start_s and start < (s.end_s if k + 1 < len(segs) else np.inf)):
        return None
    lo, hi = s.cut_lo_s, s.cut_hi_s
    if pin_s is not None:
        lo, hi = max(lo, g - pin_s), min(hi, g + pin_s)
    segs[k - 1] = replace(prev, end_s=end)
    segs[k] = replace(s, start_s=start, offset_s=s.at(start), cut_lo_s=lo, cut_hi_s=hi,
                      **({"cut_far_lo_s": lo, "cut_far_hi_s": hi} if pin_s is not None else {}))
    return lo, hi


def place_cuts_by_words(curve: OffsetCurve, words: pl.DataFrame) -> tuple[OffsetCurve, list[dict[str, Any]]]:
    """The curve with each loose cut moved to the broken sentence inside its range, where one
    stands out (see the module doc); per cut what the words said."""
    segs, report = list(curve.segments), []
    loose = [k for k in range(1, len(segs)) if segs[k].cut_lo_s is not None and segs[k].cut_hi_s is not None]
    if not loose:
        return curve, []
    t, marks = gap_marks(words)
    weights = mark_weights(marks)
    for k in loose:
        s = segs[k]
        row: dict[str, Any] = {"segment": k, "cut_s": round(s.start_s - s.offset_s, 2), "range": [round(s.cut_lo_s, 1), round(s.cut_hi_s, 1)]}
        if s.cut_hi_s - s.cut_lo_s <= LOOSE_S:
            report.append(row | {"used": False, "why": f"the echoes pin it (range {s.cut_hi_s - s.cut_lo_s:.1f} s)"})
            continue
        found = place_in_range(t, marks, weights, s.cut_lo_s, s.cut_hi_s, s.cut_ll_at)
        row |= found
        if found["used"]:
            g = float(found["at_s"])
            now = move_cut(segs, k, g, PIN_S if found["pins"] else None)
            if now is None:
                row |= {"used": False, "pins": False, "why": "moving the cut there would empty a segment"}
            else:
                row["moved_s"] = round(g - row["cut_s"], 2)
                if found["pins"]:
                    row["range_now"] = [round(now[0], 1), round(now[1], 1)]
        report.append(row)
    return OffsetCurve(tuple(segs)), report
