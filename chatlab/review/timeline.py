"""Pure data for the review page: the lanes of one VOD's timeline and the explanation of one
message (its pair as training sees it, or why it has none). No web framework, no Dagster."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import polars as pl

from chatlab.align.anchors import build_index, candidates
from chatlab.align.config import AlignConfig
from chatlab.align.curve import OffsetCurve
from chatlab.align.inputs import prepare_chat, prepare_words


def curve_of(offsets_row: dict[str, Any] | None) -> OffsetCurve | None:
    if not offsets_row or not offsets_row.get("segments"):
        return None
    segs = json.loads(offsets_row["segments"])
    return OffsetCurve.from_list(segs) if segs else None


def curve_points(curve: OffsetCurve) -> list[list[float]]:
    """The curve as override anchors ``[[t_chat, t_speech], ...]``: both ends of every segment; a
    cut is two points at the chat time where the offset jumps (before it, then after it). Joined
    piecewise linearly (as ``[vods.<id>.align] anchors`` is read) they give the same offsets."""
    pts: list[list[float]] = []
    segs = curve.segments
    for k, s in enumerate(segs):
        start = s.start_s if k == 0 else segs[k - 1].end_s  # chat after the previous end already uses this segment
        pts.append([start, start - s.at(start)])
        pts.append([s.end_s, s.end_s - s.at(s.end_s)])
    out: list[list[float]] = []
    for p in pts:
        p = [round(p[0], 4), round(p[1], 4)]
        if out and out[-1] == p:
            continue
        out.append(p)
    return out


def speech_intervals(words: pl.DataFrame, join_gap_s: float = 0.5) -> list[list[float]]:
    """Stretches of speech on the audio clock: transcript words joined across pauses < join_gap_s."""
    if words.height == 0:
        return []
    w = words.select("start_s", "end_s").sort("start_s").to_numpy()
    out = [[float(w[0, 0]), float(w[0, 1])]]
    for a, b in w[1:]:
        if a - out[-1][1] <= join_gap_s:
            out[-1][1] = max(out[-1][1], float(b))
        else:
            out.append([float(a), float(b)])
    return [[round(a, 3), round(b, 3)] for a, b in out]


def anchors(words: pl.DataFrame, chat: pl.DataFrame, curve: OffsetCurve | None, cfg: AlignConfig, limit: int = 20_000) -> list[dict[str, Any]]:
    """Messages that echo a word said shortly before they were typed, under the stored curve:
    per echoing message the word occurrence whose sentence ended closest to the median reaction
    delay before ``t_chat - offset``. ``i`` is the message's row in ``tables.chat`` order."""
    if curve is None or words.height == 0 or chat.height == 0:
        return []
    w = prepare_words(words, cfg.sentence_pause_s)
    c = prepare_chat(chat)
    row_i = dict(zip(chat["msg_id"].to_list(), chat["i"].to_list())) if "i" in chat.columns else None
    ix = build_index(w, c, min_chars=cfg.min_token_chars, min_score=cfg.fuzzy_min_score, min_spacing_s=cfg.reaction_max_s)
    if ix.empty:
        return []
    off = curve.offset(ix.tok_t)
    cand = candidates(ix, off, off + cfg.reaction_max_s)
    if len(cand) == 0:
        return []
    delay = cand.lag - off[cand.tok]
    score = np.abs(delay - cfg.reaction_median_s)
    order = np.lexsort((score, cand.tok))
    first = order[np.r_[True, np.diff(cand.tok[order]) != 0]]
    msg_ids = c["msg_id"].to_list()
    words_sorted = w.sort("start_s")
    starts = words_sorted["start_s"].to_numpy()
    text = words_sorted["word"].to_list()
    out = []
    for j in first[:limit]:
        r = int(ix.tok_row[cand.tok[j]])
        ws = float(ix.occ_word_start[cand.occ[j]])
        k = int(np.clip(np.searchsorted(starts, ws - 1e-6), 0, len(starts) - 1))
        out.append({"i": row_i.get(msg_ids[r]) if row_i else r, "msg_id": msg_ids[r], "t_chat_s": round(float(ix.tok_t[cand.tok[j]]), 3),
                    "word_start_s": round(ws, 3), "sentence_end_s": round(float(ix.occ_ref[cand.occ[j]]), 3),
                    "word": text[k], "delay_s": round(float(delay[j]), 2)})
    return out


def density(t: np.ndarray, duration_s: float, bin_s: float) -> list[int]:
    n = max(1, int(np.ceil(max(duration_s, 1e-9) / bin_s)))
    h, _ = np.histogram(t, bins=n, range=(0.0, n * bin_s))
    return h.astype(int).tolist()


def why_no_pair(msg: dict[str, Any], offsets_row: dict[str, Any] | None, curve: OffsetCurve | None, cfg: AlignConfig) -> dict[str, str]:
    """The reason a message has no training pair, in the pipeline's own terms."""
    if not msg.get("keep"):
        return {"reason": "cleaning rule", "detail": f"chat_clean dropped it: {msg.get('drop_rule') or 'not kept'}"}
    if not offsets_row:
        return {"reason": "no offsets", "detail": "offsets is not built for this VOD yet"}
    if not offsets_row.get("passed"):
        return {"reason": "alignment not confident",
                "detail": f"offsets did not pass alignment_confident ({offsets_row.get('problems') or 'no reason stored'}); "
                          "no pairs for this VOD until it does or an override is saved"}
    t = float(msg["t_s"])
    for lo, hi in (curve.cut_zones() if curve else []):
        if lo <= t < hi:
            return {"reason": "cut range", "detail": f"typed at chat time {t:.1f} s, inside the cut range {lo:.1f}..{hi:.1f} s "
                    "(it may react to audio the VOD does not have)"}
    return {"reason": "no context", "detail": f"fewer than {cfg.min_context_words} transcript word(s) in the {cfg.context_s:g} s "
            "before the moment the viewer typed (or after a cut)"}
