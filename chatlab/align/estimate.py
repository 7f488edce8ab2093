"""`estimate_offsets(words, chat)`: the whole offsets estimate, with the figures the check and
the metadata need. Also the manual override from `[vods.<id>.align]`."""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import polars as pl

from chatlab.align.anchors import build_index
from chatlab.align.changepoint import find_changes, pieces_with_changes
from chatlab.align.coarse import Coarse, coarse_lags, runs
from chatlab.align.config import AlignConfig
from chatlab.align.curve import OffsetCurve
from chatlab.align.fit import EARLY_S, Anchors, fit_curve, pieces_from_runs
from chatlab.align.inputs import prepare_chat, prepare_words
from chatlab.align.prior import Prior
from chatlab.align.splice import place_cuts_by_words

MIN_MESSAGES = 10
MIN_WORDS = 20
MIN_SEGMENT_ANCHORS = 8  # a segment's offset rests on at least this many messages' echoes
# the gate's change search: a lower bar than the one that adds segments (it only has to doubt);
# 3 nats, not 4: a real mid-sentence splice (French, seed 14) showed its 8.6-s cut at 3.3 nats
GATE_PENALTY_NATS, GATE_MIN_ANCHORS, GATE_MIN_DELTA_S = 3.0, 2, 2.5
GATE_FAIL_ANCHORS = 4  # a stretch on fewer anchors than this gets no pairs instead of failing the VOD
DOUBT_PAD_S = 10.0
SUSPECT_DRIFT_S_PER_H = 10.0  # recorders and players drift a few s/h; more, over a short stream, may be a jump
RUN_P = 1e-3  # a one-sign run of residuals this unlikely says the curve is off over it
# the curve must not be off by a jump over this much chat anywhere, pairs or not (issue 13's "wrong
# stretch"): a stretch at the stream's edge that a few anchors fit at another offset (a cut near
# the end or start with too few echoes to become a segment), or a cut whose placement leaves this
# much chat on either side of it that could belong to the other segment, fails the VOD
WRONG_STRETCH_S, WRONG_JUMP_S = 30.0, 2.0
EDGE_JOIN_S = 15.0  # stretches off the curve this close together are one (structure_problems' edge rule)
# an edge stretch is measured to the stream's own edge at the stretch's offset (the audio's 0 s,
# or its last word's end), not to the first or last message, plus this for the audio past the
# last word (the bench's truth runs to the audio's end)
EDGE_MARGIN_S = 2.0
OFFSET_Z = 1.96  # a segment whose offset is known only to +-OFFSET_Z standard errors wider than WRONG_JUMP_S fails


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
    index: Any = None  # the token index and reaction model the fit used: the gate can weigh any curve on them
    reaction: Any = None

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
    """Confidence per segment from how far its anchors stand above chance (and how many there
    are), the VOD's confidence the weakest segment's, plus the residual."""
    m = cfg.reaction_median_s
    band = cfg.reaction_max_s + EARLY_S
    zs, per_seg = [], []
    inl = anchors.inlier
    for k, seg in enumerate(al.curve.segments):
        lo, hi = seg.start_s, (al.curve.segments[k + 1].start_s if k + 1 < len(al.curve.segments) else np.inf)
        tokens = int(((ix_tok_t >= lo) & (ix_tok_t < hi)).sum())
        got = float(anchors.weight[inl & (anchors.segment == k)].sum())
        chance = coarse.pairs_per_token_s * tokens * band
        z = (got - chance) / np.sqrt(chance + 1.0)
        n = int(np.unique(anchors.row[inl & (anchors.segment == k)]).size)
        # echoes of one sentence share the ASR's error on its end (a line it split in two puts
        # them all seconds early): the sentences are the independent pieces of evidence
        n_sent = int(np.unique(anchors.t_ref[inl & (anchors.segment == k)]).size)
        zs.append(z)
        # a segment on few anchors is thin however far they stand above chance
        conf = float(np.clip((z - 5.0) / 10.0, 0.0, 1.0) * min(1.0, n / (2.0 * MIN_SEGMENT_ANCHORS)))
        per_seg.append({"segment": k, "start_s": round(seg.start_s, 1), "end_s": round(seg.end_s, 1), "anchors": n, "sentences": n_sent,
                        "anchor_z": round(float(z), 2), "confidence": round(conf, 3)})
    # each segment's offset standard error: a weighted median of n echoes whose delays spread by
    # sigma (MAD) is off by about 1.25 sigma / sqrt(n) (the viewers' own delay luck)
    segs = list(al.curve.segments)
    for k, p in enumerate(per_seg):
        mine = inl & (anchors.segment == k)
        r, w = anchors.lag[mine] - al.curve.offset(anchors.t_chat[mine]), anchors.weight[mine]
        if p["anchors"] >= 2 and len(r):
            sig = 1.4826 * _wquantile(np.abs(r - _wquantile(r, w, 0.5)), w, 0.5)
            p["offset_se_s"] = round(1.2533 * sig / np.sqrt(p["anchors"]), 3)
            segs[k] = replace(segs[k], offset_se_s=float(p["offset_se_s"]))
    al.curve = OffsetCurve(tuple(segs))
    z_min = float(min(zs)) if zs else 0.0
    al.figures["anchor_z_per_segment"] = [round(float(z), 2) for z in zs]
    al.figures["anchor_z_min"] = round(z_min, 2)
    al.figures["segments"] = per_seg
    al.confidence = float(min(p["confidence"] for p in per_seg)) if per_seg else 0.0
    res = anchors.lag[inl] - al.curve.offset(anchors.t_chat[inl])
    w = anchors.weight[inl]
    al.n_anchors = int(np.unique(anchors.row[inl]).size)
    if len(res):
        med = _wquantile(res, w, 0.5)
        al.residual_s = 1.4826 * _wquantile(np.abs(res - med), w, 0.5)
        al.reaction_delay_s = m
        al.reaction_p10_s, al.reaction_p90_s = _wquantile(res, w, 0.1), _wquantile(res, w, 0.9)
        al.figures["measured_median_lag_minus_offset_s"] = round(med, 3)


def _sign_run(al: Alignment, cfg: AlignConfig) -> dict[str, Any] | None:
    """The longest run of consecutive echoed sentences (in audio order) whose echoes' median
    residual against offset + median reaction has one sign, when so long a run is unlikely
    (p < RUN_P over all places): the curve is off by a little over that stretch (a larger miss is
    the change search's). One figure per sentence, not per message: after a pause in the speech
    every message for a while echoes the line before it, late, and that is no error of the curve.
    None when there is no such run."""
    an = al.anchors
    keep = an.inlier & (an.weight > 0.5)
    if keep.sum() < 8:
        return None
    ref = an.t_ref[keep]
    r = an.lag[keep] - al.curve.offset(an.t_chat[keep]) - cfg.reaction_median_s
    sent, pos = np.unique(ref, return_inverse=True)
    if len(sent) < 8:
        return None
    order = np.lexsort((r, pos))
    counts = np.bincount(pos)
    first = np.concatenate([[0], np.cumsum(counts)[:-1]])
    med = r[order][first + (counts - 1) // 2]  # each sentence's median residual
    t_chat = an.t_chat[keep][order][first]
    sign = np.sign(med)
    n = len(sign)
    change = np.flatnonzero(np.diff(sign) != 0) + 1
    starts = np.concatenate([[0], change])
    ends = np.concatenate([change, [n]])
    j = int(np.argmax(ends - starts))
    length = int(ends[j] - starts[j])
    p = n * 0.5 ** (length - 1)  # places a run can start x chance of a run this long there
    if p >= RUN_P:
        return None
    seg = slice(starts[j], ends[j])
    return {"from_s": round(float(t_chat[seg].min()), 1), "to_s": round(float(t_chat[seg].max()), 1), "sentences": length,
            "median_residual_s": round(float(np.median(med[seg])), 2), "p": float(f"{p:.2g}")}


def _edge_runs(changes: list) -> list:
    """The stretches off the curve that reach the stream's start or end, each joined with the ones
    touching it (less than EDGE_JOIN_S of chat between them): the search may split a cut near the
    end's far side into two thin stretches at two deltas, each on too few anchors, and together
    they are one stretch the curve gets wrong."""
    cs = sorted(changes, key=lambda c: c.t_from)
    out = []
    for seq, edge_free in ((cs, lambda c: c.zone_from is None), (cs[::-1], lambda c: c.zone_to is None)):
        if not seq or not edge_free(seq[0]):
            continue
        run = [seq[0]]
        for c in seq[1:]:
            if max(c.t_from - run[-1].t_to, run[-1].t_from - c.t_to) > EDGE_JOIN_S:
                break
            run.append(c)
        run.sort(key=lambda c: c.t_from)
        out.append(replace(seq[0], t_from=run[0].t_from, t_to=run[-1].t_to, anchors=sum(c.anchors for c in run),
                           gain_nats=sum(c.gain_nats for c in run), zone_from=run[0].zone_from, zone_to=run[-1].zone_to,
                           near_from=run[0].near_from, near_to=run[-1].near_to))
    return out


def edge_slivers(al: Alignment) -> dict[int, tuple[float, float]]:
    """The first and last segments (of two or more) whose whole reach is under WRONG_STRETCH_S:
    segment -> its chat-clock range. Reach: from the earliest place its cut may lie (the range
    with one echo left out) to the stream's own edge at its offset (the audio's 0 s, or its last
    word's end, plus EDGE_MARGIN_S), as the edge rule of structure_problems measures a stretch.
    However wrong such a segment's offset, it is wrong over less than that: its chat gets no pairs
    instead of failing the VOD for being thin (the change search finds a cut half a minute before
    the end on 5-10 echoes; failing it refused VODs the curve before it passed with the tail doubtful)."""
    segs = al.curve.segments if al.curve is not None else ()
    if len(segs) < 2:
        return {}
    last_word = (al.figures.get("speech_span_s") or (None, None))[1]
    out: dict[int, tuple[float, float]] = {}
    first, nxt = segs[0], segs[1]
    if nxt.cut_hi_s is not None:
        hi = nxt.cut_hi_s if nxt.cut_far_hi_s is None else max(nxt.cut_hi_s, nxt.cut_far_hi_s)
        lo, hi = min(first.start_s, first.offset_s) - EDGE_MARGIN_S, max(first.end_s, hi + first.at(first.end_s))
        if hi - lo < WRONG_STRETCH_S:
            out[0] = (lo, hi)
    last = segs[-1]
    if last.cut_lo_s is not None:
        lo = last.cut_lo_s if last.cut_far_lo_s is None else min(last.cut_lo_s, last.cut_far_lo_s)
        end = last.end_s if last_word is None else max(last.end_s, last_word + last.at(last.end_s))
        lo, hi = min(last.start_s, lo + last.offset_s), end + EDGE_MARGIN_S
        if hi - lo < WRONG_STRETCH_S:
            out[len(segs) - 1] = (lo, hi)
    return out


def structure_problems(al: Alignment, cfg: AlignConfig) -> list[str]:
    """What the curve leaves unexplained, for the verdict: stretches another offset explains
    better (the change search with a lower bar), a one-sign run of residuals, thin segments and
    segments whose offset is too uncertain (OFFSET_Z standard errors wider than WRONG_JUMP_S).
    Weighs `al.curve` on the anchors of the fit, whatever curve that is (the tests hand it a wrong one)."""
    ix, reaction = al.index, al.reaction
    out = []
    changes = find_changes(ix, al.curve, reaction.chance(ix, ix.tok_vocab), reaction.sigma, cfg, penalty_nats=GATE_PENALTY_NATS,
                           min_anchors=GATE_MIN_ANCHORS, min_delta_s=GATE_MIN_DELTA_S, edges=False)
    zones = [(lo - cfg.reaction_max_s, hi + cfg.reaction_max_s) for lo, hi in al.curve.cut_zones()]
    inside = [any(lo <= c.t_from and c.t_to <= hi for lo, hi in zones) for c in changes]  # no pairs there anyway
    for c, ins in zip(changes, inside):
        if ins or c.anchors < GATE_FAIL_ANCHORS:  # too few to fail the VOD: a doubtful zone (estimate_offsets)
            continue
        out.append(f"chat {c.t_from:.0f}..{c.t_to:.0f} s fits an offset {c.delta_s:+.1f} s off the curve better "
                   f"({c.anchors} anchors, {c.gain_nats:.1f} nats): a cut or jump the curve misses")
    al.figures["unexplained"] = [{"from_s": round(c.t_from, 1), "to_s": round(c.t_to, 1), "delta_s": round(c.delta_s, 1),
                                  "anchors": c.anchors, "gain_nats": round(c.gain_nats, 1), "in_cut_zone": ins} for c, ins in zip(changes, inside)]
    t_first, t_last = float(ix.tok_t[0]), float(ix.tok_t[-1])
    last_word = (al.figures.get("speech_span_s") or (None, None))[1]  # the audio's last word end (its start is 0)
    for c in _edge_runs([c for c, ins in zip(changes, inside) if not ins]):
        if not 2 <= c.anchors or (c.zone_from is not None and c.zone_to is not None):
            continue
        # a thin stretch at an edge: mid-stream two or three anchors at another offset are what
        # chance gives, but a stretch reaching the first or last message is a cut near the edge
        # with too few echoes on its far side (a segment too thin to trust, as below)
        # measured from the earliest place the change may begin (the chat between the last anchor
        # at the curve's offset and the stretch's first one fits either; for a joined stretch, its
        # first anchor) to the stream's edge at the stretch's offset (the audio goes on past the
        # last message: the curve is wrong there too, pairs or not)
        alt_first, alt_last = float(al.curve.offset(t_first)) + c.delta_s, float(al.curve.offset(t_last)) + c.delta_s
        if c.zone_to is None:
            begin = min(c.t_from, c.zone_from[0]) if c.zone_from else t_first
            reach = max(t_last, t_last if last_word is None else last_word + alt_last) - begin
        else:
            end = max(c.t_to, c.zone_to[1]) if c.zone_to else t_last
            reach = end - min(t_first, alt_first)  # the audio's 0 s on the chat clock at that offset
        reach += EDGE_MARGIN_S
        if reach >= WRONG_STRETCH_S:
            where = "end" if c.zone_to is None else "start"
            out.append(f"chat {c.t_from:.0f}..{c.t_to:.0f} s at the stream's {where} fits an offset {c.delta_s:+.1f} s off the curve "
                       f"({c.anchors} anchors, {c.gain_nats:.1f} nats) over {reach:.0f} s: a cut near the {where} with too few echoes "
                       f"past it to place (need {MIN_SEGMENT_ANCHORS}; "
                       f"measured to the stream's {where} at that offset, {EDGE_MARGIN_S:.0f} s margin included, allowed under {WRONG_STRETCH_S:.0f} s)")
    for k, (prev, s) in enumerate(zip(al.curve.segments, al.curve.segments[1:]), start=1):
        if s.cut_lo_s is None or s.cut_hi_s is None:
            continue
        cut, jump = s.start_s - s.offset_s, abs(s.offset_s - prev.at(prev.end_s))
        # the range one message leaves out, unless the audio has pinned the cut inside the range
        lo = s.cut_lo_s if s.cut_far_lo_s is None else min(s.cut_lo_s, s.cut_far_lo_s)
        hi = s.cut_hi_s if s.cut_far_hi_s is None else max(s.cut_hi_s, s.cut_far_hi_s)
        loose = max(cut - lo, hi - cut)
        if loose >= WRONG_STRETCH_S and jump > WRONG_JUMP_S:  # the bench counts a stretch of 30 s as wrong
            one = " if one echo beside it was chance" if (lo, hi) != (s.cut_lo_s, s.cut_hi_s) else ""
            out.append(f"cut before segment {k} placed at {cut:.0f} s of the audio but may lie anywhere in {lo:.0f}..{hi:.0f} s{one} "
                       f"(nothing echoed there): the curve may be off by {jump:.0f} s over up to {loose:.0f} s "
                       f"(allowed under {WRONG_STRETCH_S:.0f} s)")
    run = _sign_run(al, cfg)
    al.figures["sign_run"] = run
    if run:
        out.append(f"chat {run['from_s']:.0f}..{run['to_s']:.0f} s: {run['sentences']} echoed sentences in a row all "
                   f"{'late' if run['median_residual_s'] > 0 else 'early'} (median {run['median_residual_s']:+.1f} s, p={run['p']}): the curve is off there")
    slivers = edge_slivers(al)
    al.figures["edge_slivers"] = [{"segment": k, "from_s": round(a, 1), "to_s": round(b, 1)} for k, (a, b) in slivers.items()]
    # the VOD's confidence is its weakest segment's but a sliver's (no pairs come from one)
    al.confidence = min((p["confidence"] for p in al.figures["segments"] if p["segment"] not in slivers), default=0.0)
    for p in al.figures["segments"]:
        if p["segment"] in slivers:
            continue
        if p["anchors"] < MIN_SEGMENT_ANCHORS:
            out.append(f"segment {p['segment']} (chat {p['start_s']:.0f}..{p['end_s']:.0f} s) rests on {p['anchors']} anchors "
                       f"(need {MIN_SEGMENT_ANCHORS}): too thin to trust its offset")
        elif OFFSET_Z * (p.get("offset_se_s") or 0.0) > WRONG_JUMP_S:
            # few echoes of widely spread delays (a short stream, a short segment): the viewers'
            # delay luck alone may put the whole segment more than a pair tolerates off
            out.append(f"segment {p['segment']} (chat {p['start_s']:.0f}..{p['end_s']:.0f} s): its offset is known to "
                       f"+-{OFFSET_Z * p['offset_se_s']:.1f} s ({OFFSET_Z} standard errors of {p['offset_se_s']:.2f} s on "
                       f"{p['anchors']} anchors), more than the {WRONG_JUMP_S:.0f} s a pair tolerates")
    return out


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


def with_audio(al: Alignment, audio: Any, cfg: AlignConfig) -> Alignment:
    """The estimate with its loose cuts placed by the audio (chatlab.align.audiocut.refine_cuts)
    and the gate's structure test run again on that curve: a cut the background pins is no loose
    cut. `audio`: (t0, t1) -> (samples, rate). figures.audio_at_cuts says what moved and why."""
    from chatlab.align.audiocut import refine_cuts

    if al.method != "estimated" or al.curve is None or audio is None:
        return al
    placed = frozenset(r["segment"] for r in al.figures.get("words_at_cuts", []) if r.get("used"))
    curve, rep = refine_cuts(al.curve, audio, placed)
    al.figures["audio_at_cuts"] = rep
    al.curve = curve
    if any("range_now" in r for r in rep):  # an estimate's problems are its structure's (estimate_offsets)
        al.problems = structure_problems(al, cfg)
    return al


def override(cfg: AlignConfig, chat_span: tuple[float, float]) -> Alignment:
    """The curve from `[vods.<id>.align]`: a fixed `offset_s` (+ `drift_s_per_h`), or anchor pairs
    `[[t_chat, t_speech], ...]` joined piecewise linearly (constant beyond the ends)."""
    nan = float("nan")
    if cfg.anchors:
        pts = sorted(cfg.anchors, key=lambda p: p[0])  # stable: two anchors at one chat time (before, after) are a cut
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


def _drift_free(curve: OffsetCurve) -> OffsetCurve:
    """The curve with each segment at its middle's offset and no drift."""
    return OffsetCurve(tuple(replace(s, offset_s=s.at((s.start_s + s.end_s) / 2), drift_s_per_h=0.0) for s in curve.segments))


def _search_changes(ix, curve: OffsetCurve, reaction, cfg: AlignConfig) -> tuple[OffsetCurve, list]:
    """(reference curve, changes against it). A jump in a short stream can hide in a drift (6 s
    over 20 minutes reads as 18 s/h), so where the drift moves a segment by more than 2 s the
    drift-free curve is searched too when the drift is more than clocks drift (SUSPECT_DRIFT_S_PER_H),
    and the one whose changes explain more wins."""
    chance = reaction.chance(ix, ix.tok_vocab)
    best = (curve, find_changes(ix, curve, chance, reaction.sigma, cfg))
    if any(abs(s.drift_s_per_h) > SUSPECT_DRIFT_S_PER_H and abs(s.drift_s_per_h) * (s.end_s - s.start_s) / 3600.0 > 2.0
           for s in curve.segments):
        flat = _drift_free(curve)
        other = (flat, find_changes(ix, flat, chance, reaction.sigma, cfg))
        if sum(c.gain_nats for c in other[1]) > sum(c.gain_nats for c in best[1]):
            best = other
    return best


def estimate_offsets(words: pl.DataFrame, chat: pl.DataFrame, cfg: AlignConfig | None = None, *, find_changes_: bool = True,
                     prior: Prior | None = None) -> Alignment:
    """words: transcript words (start_s, end_s, word, seg_id); chat: msg_id, t_s (chat clock), text
    (and keep). Never raises on bad input: an empty, tiny or unrelated chat gives an Alignment
    whose `problems` say why (and the check fails). find_changes_=False: segments from the coarse
    windows only (align-4's estimator; the bench and the gate's tests compare against it).
    prior: what the export says about the offset (chatlab.align.prior); it leans the coarse
    choice between peaks the echoes support, and the figures say how far it moved the answer."""
    cfg = cfg or AlignConfig()
    started = time.perf_counter()
    w = prepare_words(words, cfg.sentence_pause_s)
    if cfg.asr_end_bias_s:  # what viewers react to ends a little after the ASR's last word does
        w = w.with_columns(pl.col("sent_end_s") + cfg.asr_end_bias_s)
    c = prepare_chat(chat)
    span = (float(c["t_s"].min()), float(c["t_s"].max())) if c.height else (0.0, 0.0)
    if cfg.overridden:
        return override(cfg, span)
    figures: dict[str, Any] = {"messages": c.height, "words": w.height, "asr_end_bias_s": cfg.asr_end_bias_s,
                               "speech_span_s": (float(w["start_s"].min()), float(w["end_s"].max())) if w.height else None}
    if w.height < MIN_WORDS:
        return _failed("none", f"no speech: {w.height} transcript words (need {MIN_WORDS})", **figures)
    if c.height < MIN_MESSAGES:
        return _failed("none", f"too little chat: {c.height} messages (need {MIN_MESSAGES})", **figures)
    ix = build_index(w, c, min_chars=cfg.min_token_chars, min_score=cfg.fuzzy_min_score, min_spacing_s=cfg.reaction_max_s)
    figures |= {"matched_tokens": len(ix.tok_row), "vocabulary": ix.n_vocab, "fuzzy_matches": ix.fuzzy_matches}
    speech_events = w.select(pl.col("sent_end_s").unique())["sent_end_s"].to_numpy()
    coarse = coarse_lags(ix, c["t_s"].to_numpy(), speech_events, cfg, prior)
    figures["coarse_index_s"] = round(time.perf_counter() - started, 3)
    run_list = runs(coarse, cfg.min_jump_s)
    if not run_list or ix.empty:
        al = _failed("none", "no lag found: chat does not echo the transcript and its activity does not follow the speech "
                     "(chat from another stream, or an offset beyond max_lag_s)", **figures)
        al.coarse = coarse
        return al
    curve, anchors, reaction = fit_curve(ix, pieces_from_runs(coarse, run_list, cfg), cfg, span)
    # jumps the coarse windows cannot see (a short stream, a cut near a window's edge): change
    # points on the anchors against this curve, then the fit again with them (twice at most: a
    # refit can show a jump the first curve's drift had absorbed)
    found = []
    for _ in range(2 if find_changes_ else 0):
        ref, changes = _search_changes(ix, curve, reaction, cfg)
        # chat around a cut the curve has already (typed while the removed audio played, or where
        # the cut may lie) echoes nothing in the transcript: no evidence of another jump
        zones = [(lo - cfg.reaction_max_s, hi + cfg.reaction_max_s) for lo, hi in ref.cut_zones()]
        changes = [c for c in changes if not any(lo <= c.t_from and c.t_to <= hi for lo, hi in zones)]
        if not changes:
            break
        # each change's ends at their own zones, then at the narrowest zones near them; a refit
        # with a piece it finds nothing in, or fits ending before it starts, is not taken
        nearby = [replace(c, zone_from=c.near_from, zone_to=c.near_to) for c in changes]
        for tried in (changes, nearby) if nearby != changes else (changes,):
            new = fit_curve(ix, pieces_with_changes(ref, tried, span), cfg, span, drift0=ref.segments[0].drift_s_per_h)
            per_seg = np.bincount(new[1].segment[new[1].inlier], minlength=len(new[0].segments))
            if per_seg.min() >= 3 and all(s.end_s > s.start_s for s in new[0].segments):
                break
        else:  # keep the curve it started from
            figures["changes_rejected"] = len(changes)
            break
        found += changes
        curve, anchors, reaction = new
    figures["changes_found"] = [{"from_s": round(c.t_from, 1), "to_s": round(c.t_to, 1), "delta_s": round(c.delta_s, 1),
                                 "gain_nats": round(c.gain_nats, 1), "anchors": c.anchors} for c in found]
    nan = float("nan")
    al = Alignment(curve, "estimated", 0.0, nan, 0, nan, nan, nan, [], figures, coarse, anchors, ix, reaction)
    # a cut the echoes leave loose, moved (or pinned) to the broken sentence inside its range
    al.curve, figures["words_at_cuts"] = place_cuts_by_words(al.curve, words)
    _score(al, coarse, anchors, ix.tok_t, cfg)
    al.problems += structure_problems(al, cfg)
    # stretches a few anchors fit at another offset: two or three echoes cannot fail a VOD (chance
    # does that too), but the curve there is not to be trusted: no pairs
    weak = [(max(u["from_s"] - DOUBT_PAD_S, span[0]), u["to_s"] + DOUBT_PAD_S if u["to_s"] < ix.tok_t[-1] else span[1] + 1.0)
            for u in al.figures["unexplained"] if not u["in_cut_zone"] and u["anchors"] < GATE_FAIL_ANCHORS]
    # an edge sliver (edge_slivers) gets no pairs: its whole chat, to the stream's edge
    weak += [(z["from_s"], span[1] + 1.0) if z["segment"] else (span[0] - 1.0, z["to_s"]) for z in al.figures["edge_slivers"]]
    if weak:
        ends = np.array([s.end_s for s in al.curve.segments[:-1]])
        segs = list(al.curve.segments)
        for z in weak:
            k = int(np.searchsorted(ends, z[0], side="left"))
            segs[k] = replace(segs[k], doubt=segs[k].doubt + (z,))
        al.curve = OffsetCurve(tuple(segs))
        t = c["t_s"].to_numpy()
        al.figures["doubtful"] = {"zones": [[round(a, 1), round(b, 1)] for a, b in weak],
                                  "messages": int(sum(((t >= a) & (t < b)).sum() for a, b in weak))}
    al.figures["coarse_sources"] = {s: coarse.source.count(s) for s in sorted(set(coarse.source))}
    if prior is not None:
        mid = float(np.median(c["t_s"].to_numpy()))
        al.figures["prior"] = {"source": prior.source, "offset_s": prior.offset_s, "sigma_s": prior.sigma_s,
                               "estimate_minus_prior_s": round(float(curve.offset(mid)) - prior.offset_s, 3),
                               "windows_moved": len(coarse.prior_moved),
                               "moved_s": round(float(np.median(coarse.prior_moved)), 3) if coarse.prior_moved else 0.0}
    al.figures["elapsed_s"] = round(time.perf_counter() - started, 3)
    return al
