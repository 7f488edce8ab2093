"""`estimate_offsets(words, chat)`: the whole offsets estimate, with the figures the check and
the metadata need. Also the manual override from `[vods.<id>.align]`."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from chatlab.align.anchors import build_index
from chatlab.align.coarse import Coarse, coarse_lags, runs
from chatlab.align.config import AlignConfig
from chatlab.align.curve import OffsetCurve
from chatlab.align.fit import EARLY_S, Anchors, fit_curve
from chatlab.align.inputs import prepare_chat, prepare_words

MIN_MESSAGES = 10
MIN_WORDS = 20


@dataclass
class Alignment:
    curve: OffsetCurve | None
    method: str  # estimated | override_offset | override_anchors | none
    confidence: float
    residual_s: float  # robust spread (MAD sigma) of the anchors around offset + median reaction
    n_anchors: int  # inlier anchors (messages' echoes inside the reaction window)
    reaction_delay_s: float  # the median (pinned by [align] reaction_median_s)
    reaction_p10_s: float
    reaction_p90_s: float
    problems: list[str] = field(default_factory=list)  # why the check must fail (empty: fine)
    figures: dict[str, Any] = field(default_factory=dict)
    coarse: Coarse | None = None
    anchors: Anchors | None = None

    @property
    def offset_s(self) -> float:
        return self.curve.segments[0].offset_s if self.curve else float("nan")

    @property
    def drift_s_per_h(self) -> float:
        return self.curve.segments[0].drift_s_per_h if self.curve else float("nan")

    def to_json(self) -> dict[str, Any]:
        """The offsets JSON of DESIGN.md (Time), plus the figures behind it."""
        def num(x: float) -> float | None:
            return None if x is None or not np.isfinite(x) else round(float(x), 4)

        return {
            "offset_s": num(self.offset_s),
            "drift_s_per_h": num(self.drift_s_per_h),
            "confidence": round(self.confidence, 4),
            "reaction_delay_s": num(self.reaction_delay_s),
            "segments": self.curve.to_list() if self.curve else [],
            "method": self.method,
            "anchors": self.n_anchors,
            "residual_s": num(self.residual_s),
            "reaction_delay_p10_s": num(self.reaction_p10_s),
            "reaction_delay_p90_s": num(self.reaction_p90_s),
            "problems": self.problems,
            "figures": {k: (num(v) if isinstance(v, float) else v) for k, v in self.figures.items()},
        }


def _failed(method: str, problem: str, **figures: Any) -> Alignment:
    nan = float("nan")
    return Alignment(None, method, 0.0, nan, 0, nan, nan, nan, [problem], dict(figures))


def _wquantile(x: np.ndarray, w: np.ndarray, q: float) -> float:
    if len(x) == 0:
        return float("nan")
    o = np.argsort(x)
    c = np.cumsum(w[o])
    return float(x[o][min(np.searchsorted(c, q * c[-1]), len(x) - 1)])


def _score(al: Alignment, coarse: Coarse, anchors: Anchors, ix_tok_t: np.ndarray, cfg: AlignConfig) -> None:
    """Confidence from how far each segment's anchors stand above chance, plus the residual."""
    m = cfg.reaction_median_s
    band = cfg.reaction_max_s + EARLY_S
    zs = []
    for k, seg in enumerate(al.curve.segments):
        lo, hi = seg.start_s, (al.curve.segments[k + 1].start_s if k + 1 < len(al.curve.segments) else np.inf)
        tokens = int(((ix_tok_t >= lo) & (ix_tok_t < hi)).sum())
        got = float(anchors.weight[anchors.inlier & (anchors.segment == k)].sum())
        chance = coarse.pairs_per_token_s * tokens * band
        zs.append((got - chance) / np.sqrt(chance + 1.0))
    z_min = float(min(zs)) if zs else 0.0
    al.figures["anchor_z_per_segment"] = [round(float(z), 2) for z in zs]
    al.figures["anchor_z_min"] = round(z_min, 2)
    al.confidence = float(np.clip((z_min - 5.0) / 10.0, 0.0, 1.0))
    inl = anchors.inlier
    res = anchors.lag[inl] - al.curve.offset(anchors.t_chat[inl])
    w = anchors.weight[inl]
    al.n_anchors = int(np.unique(anchors.row[inl]).size)
    if len(res):
        med = _wquantile(res, w, 0.5)
        al.residual_s = 1.4826 * _wquantile(np.abs(res - med), w, 0.5)
        al.reaction_delay_s = m
        al.reaction_p10_s, al.reaction_p90_s = _wquantile(res, w, 0.1), _wquantile(res, w, 0.9)
        al.figures["measured_median_lag_minus_offset_s"] = round(med, 3)


def verdict(al: Alignment, cfg: AlignConfig) -> list[str]:
    """Reasons the `alignment_confident` check fails; empty when it passes."""
    if al.method.startswith("override"):
        return []
    out = list(al.problems)
    if al.curve is None:
        return out or ["no offset estimated"]
    if al.confidence < cfg.min_confidence:
        out.append(f"confidence {al.confidence:.2f} < {cfg.min_confidence} (anchors barely above chance: z={al.figures.get('anchor_z_min')})")
    if not np.isfinite(al.residual_s) or al.residual_s > cfg.max_residual_s:
        out.append(f"residual {al.residual_s:.2f} s > {cfg.max_residual_s} s")
    for s in al.curve.segments:
        if abs(s.offset_s) > cfg.max_abs_offset_s:
            out.append(f"offset {s.offset_s:.1f} s outside +-{cfg.max_abs_offset_s} s")
    if abs(al.drift_s_per_h) > cfg.max_abs_drift_s_per_h:
        out.append(f"drift {al.drift_s_per_h:.2f} s/h outside +-{cfg.max_abs_drift_s_per_h} s/h")
    if al.n_anchors < cfg.min_anchors:
        out.append(f"{al.n_anchors} anchors < {cfg.min_anchors}")
    return list(dict.fromkeys(out))


def override(cfg: AlignConfig, chat_span: tuple[float, float]) -> Alignment:
    """The curve from `[vods.<id>.align]`: a fixed `offset_s` (+ `drift_s_per_h`), or anchor pairs
    `[[t_chat, t_speech], ...]` joined piecewise linearly (constant beyond the ends)."""
    nan = float("nan")
    if cfg.anchors:
        pts = sorted(cfg.anchors)
        if len(pts) == 1:
            curve = OffsetCurve.constant(pts[0][0] - pts[0][1], 0.0, chat_span[0], chat_span[1])
        else:
            from chatlab.align.curve import CurveSegment

            segs = []
            for i, ((c0, s0), (c1, s1)) in enumerate(zip(pts, pts[1:])):
                o0, o1 = c0 - s0, c1 - s1
                d = (o1 - o0) / (c1 - c0) * 3600.0 if c1 > c0 else 0.0
                start = min(chat_span[0], c0) if i == 0 else c0
                segs.append(CurveSegment(start, c1, o0 + d * (start - c0) / 3600.0, d))
            last_c, last_s = pts[-1]
            segs.append(CurveSegment(last_c, max(chat_span[1], last_c), last_c - last_s, 0.0))
            curve = OffsetCurve(tuple(segs))
        return Alignment(curve, "override_anchors", 1.0, nan, len(pts), nan, nan, nan, [], {"override": "anchors"})
    curve = OffsetCurve.constant(float(cfg.offset_s), cfg.drift_s_per_h, chat_span[0], chat_span[1])
    return Alignment(curve, "override_offset", 1.0, nan, 0, nan, nan, nan, [], {"override": "offset_s"})


def estimate_offsets(words: pl.DataFrame, chat: pl.DataFrame, cfg: AlignConfig | None = None) -> Alignment:
    """words: transcript words (start_s, end_s, word, seg_id); chat: msg_id, t_s (chat clock), text
    (and keep). Never raises on bad input: an empty, tiny or unrelated chat gives an Alignment
    whose `problems` say why (and the check fails)."""
    cfg = cfg or AlignConfig()
    started = time.perf_counter()
    w = prepare_words(words, cfg.sentence_pause_s)
    if cfg.asr_end_bias_s:  # what viewers react to ends a little after the ASR's last word does
        w = w.with_columns(pl.col("sent_end_s") + cfg.asr_end_bias_s)
    c = prepare_chat(chat)
    span = (float(c["t_s"].min()), float(c["t_s"].max())) if c.height else (0.0, 0.0)
    if cfg.overridden:
        return override(cfg, span)
    figures: dict[str, Any] = {"messages": c.height, "words": w.height, "asr_end_bias_s": cfg.asr_end_bias_s}
    if w.height < MIN_WORDS:
        return _failed("none", f"no speech: {w.height} transcript words (need {MIN_WORDS})", **figures)
    if c.height < MIN_MESSAGES:
        return _failed("none", f"too little chat: {c.height} messages (need {MIN_MESSAGES})", **figures)
    ix = build_index(w, c, min_chars=cfg.min_token_chars, min_score=cfg.fuzzy_min_score, min_spacing_s=cfg.reaction_max_s)
    figures |= {"matched_tokens": len(ix.tok_row), "vocabulary": ix.n_vocab, "fuzzy_matches": ix.fuzzy_matches}
    speech_events = w.select(pl.col("sent_end_s").unique())["sent_end_s"].to_numpy()
    coarse = coarse_lags(ix, c["t_s"].to_numpy(), speech_events, cfg)
    figures["coarse_index_s"] = round(time.perf_counter() - started, 3)
    run_list = runs(coarse, cfg.min_jump_s)
    if not run_list or ix.empty:
        al = _failed("none", "no lag found: chat does not echo the transcript and its activity does not follow the speech "
                     "(chat from another stream, or an offset beyond max_lag_s)", **figures)
        al.coarse = coarse
        return al
    curve, anchors = fit_curve(ix, coarse, run_list, cfg, span)
    nan = float("nan")
    al = Alignment(curve, "estimated", 0.0, nan, 0, nan, nan, nan, [], figures, coarse, anchors)
    _score(al, coarse, anchors, ix.tok_t, cfg)
    al.figures["coarse_sources"] = {s: coarse.source.count(s) for s in sorted(set(coarse.source))}
    al.figures["elapsed_s"] = round(time.perf_counter() - started, 3)
    return al
