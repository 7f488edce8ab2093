"""Offset changes the coarse windows miss, found on the anchors themselves in time order.

The coarse lags see a cut only when a whole window (minutes) sits on either side of it; in a short
stream, or near a window's edge, a jump hides inside one window. So after a first fit every chat
token's candidates are measured against that curve, `d = lag - offset(t)`. Where the curve is
right an echo has a candidate at `d` = its reaction delay (lognormal around the pinned median);
where it misses a jump `delta`, at `delay + delta`. Per block of chat (BLOCK_S, half overlapping)
the deltas worth trying are the peaks of the residual histogram (plus 0: the curve). Each token's
log-likelihood ratio under each delta (an echo at that delta against chance, the fit's own mixture
and chance level; a burst of one word counted once) is summed in time order, and binary
segmentation splits a stretch wherever one delta each side explains its tokens better than one
delta for all by more than a BIC penalty, with at least `min_anchors` anchors each side. Nothing
here depends on the stream's length: about eight anchors each side find a jump in a 3-minute
stream as in a 10-hour one.

The same search, run on the final curve with a lower bar, is the gate's structure test: a stretch
whose anchors another offset explains better is a stretch the curve gets wrong (estimate.verdict).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from chatlab.align.anchors import TokenIndex, candidates
from chatlab.align.config import AlignConfig
from chatlab.align.curve import OffsetCurve
from chatlab.align.fit import Piece

BLOCK_S = 900.0  # chat seconds searched together (blocks overlap by half; each rules on its middle)
RANGE_S = 600.0  # jumps up to this size either way (larger ones span coarse windows: the coarse lags see them)
MAX_TOKENS = 150_000  # an even sample on huge chats
MIN_DELTA_S = 4.0  # a smaller change of offset is a drift or delay wobble, not a cut
PEAKS = 6  # deltas tried per block besides 0, small and large ...
SMALL_S = 15.0  # (a small delta is one within the spread of reaction delays)
SUB_S = 180.0  # ... and the top one of each stretch this long
EDGE_SUB_S, EDGE_BLOCK_S = 60.0, 300.0  # the stream's first and last chat this long, searched apart (_edge_change)
ANCHOR_NATS = 1.0  # a token whose best delta beats chance by this much is an anchor of that delta
ZONE_NATS = 3.0  # split places within this of the best one are where the change may be
PENALTY_NATS = 6.0  # a split must gain this plus log(tokens) (BIC: two parameters, a place and a delta)
BURST_S = 10.0
MIN_PIECE_S = 20.0  # a refit's pieces span at least this much chat
ZONE_PAD_S = 25.0  # a refit looks this far either side of a change's zone (reaction delays reach back 20 s)


@dataclass(frozen=True)
class Change:
    """The curve is off by `delta_s` from `t_from` to `t_to` (chat clock); `zone_from`/`zone_to`:
    where on the chat clock each end may lie. `anchors`: tokens that fit `delta_s` best and
    beat chance; `gain_nats`: how much better the stretch fits at `delta_s` than on the curve."""

    t_from: float
    t_to: float
    delta_s: float
    gain_nats: float
    anchors: int
    zone_from: tuple[float, float] | None  # None: from the first token on
    zone_to: tuple[float, float] | None  # None: to the last token
    # the narrowest zones near each end, which may be another split's: the refit's second try
    # when the ends' own zones give it a piece it cannot fit
    near_from: tuple[float, float] | None = None
    near_to: tuple[float, float] | None = None


def _lognormal(d: np.ndarray, median: float, sigma: float) -> np.ndarray:
    d = np.maximum(d, 1e-9)
    return np.exp(-((np.log(d) - np.log(median)) ** 2) / (2 * sigma**2)) / (d * sigma * np.sqrt(2 * np.pi))


def _peaks(delta: np.ndarray, weight: np.ndarray, k: int, min_delta: float, max_abs: float = np.inf) -> list[float]:
    """The k highest peaks of the weighted delta histogram (1-s bins, smoothed over the spread of
    reaction delays), each at least min_delta from 0 and from the others, at most max_abs from 0."""
    if len(delta) == 0:
        return []
    lo = np.floor(delta.min()) - 3
    h = np.bincount(np.floor(delta - lo).astype(np.int64), weights=weight).astype(np.float64)
    h = np.convolve(h, np.ones(5), mode="same")
    centres = lo + 0.5 + np.arange(len(h))
    h[(np.abs(centres) < min_delta) | (np.abs(centres) > max_abs)] = 0.0
    out: list[float] = []
    for _ in range(k):
        j = int(np.argmax(h))
        if h[j] <= 0:
            break
        out.append(float(centres[j]))
        h[np.abs(centres - centres[j]) < min_delta] = 0.0
    return out


def _segment(C: np.ndarray, A: np.ndarray, a: int, b: int, deltas: np.ndarray, penalty: float, min_anchors: int,
             min_delta: float, out: list) -> None:
    """Segmentation of tokens a..b-1 (C: cumulative log-likelihood ratios per delta; A:
    cumulative anchor counts per delta); appends (a, b, k) for every final stretch. Each step
    takes the better of one split (binary segmentation) and a stretch inside at another delta
    (two splits at once, as a short miss in the middle of a long segment is: one split alone
    gains nothing there), each against its BIC-style penalty."""
    whole = C[b] - C[a]
    k_all = int(np.argmax(whole))
    best_gain, splits = 0.0, None
    if b - a >= 2:
        left = C[a + 1 : b] - C[a]
        right = C[b] - C[a + 1 : b]
        kl, kr = left.argmax(axis=1), right.argmax(axis=1)
        rows = np.arange(b - a - 1)
        gain = left[rows, kl] + right[rows, kr] - whole[k_all]
        n_left = (A[a + 1 : b] - A[a])[rows, kl]
        n_right = (A[b] - A[a + 1 : b])[rows, kr]
        ok = (np.abs(deltas[kl] - deltas[kr]) >= min_delta) & (n_left >= min_anchors) & (n_right >= min_anchors)
        gain = np.where(ok, gain, -np.inf)
        j = int(np.argmax(gain))
        if gain[j] - penalty > best_gain:
            best_gain, splits = gain[j] - penalty, (a + 1 + j,)
        # a stretch i..j at delta k inside: the largest sum of (k's ratio - the segment's), by a
        # running minimum of the cumulative difference
        for k in range(len(deltas)):
            if abs(deltas[k] - deltas[k_all]) < min_delta:
                continue
            D = C[a : b + 1, k] - C[a : b + 1, k_all]
            low = np.minimum.accumulate(D)
            jj = int(np.argmax(D - low))
            ii = int(np.flatnonzero(D[: jj + 1] == low[jj])[-1])
            g = D[jj] - D[ii] - 1.5 * penalty
            if g > best_gain and 0 < ii and jj < b - a and A[a + jj, k] - A[a + ii, k] >= min_anchors:
                best_gain, splits = g, (a + ii, a + jj)
    if splits is None:
        out.append((a, b, k_all))
        return
    edges = [a, *splits, b]
    for lo, hi in zip(edges[:-1], edges[1:]):
        _segment(C, A, lo, hi, deltas, penalty, min_anchors, min_delta, out)


def _stretches(cp: np.ndarray, cd: np.ndarray, ch: np.ndarray, burst: np.ndarray, deltas: np.ndarray, m: float, sigma: float,
               cfg: AlignConfig, penalty_nats: float, min_anchors: float, min_delta_s: float) -> tuple[np.ndarray, np.ndarray, list]:
    """(C, A, stretches) of a run of tokens: per token (cp: its candidates' token position, cd:
    their lag minus the curve; ch, burst: per token) the log-likelihood ratio of each delta, their
    cumulative sums C, the cumulative anchor counts A, and the segmentation (_segment)."""
    n = len(ch)
    llr = np.zeros((n, len(deltas)))
    for k, dk in enumerate(deltas):
        r = cd - dk
        ok = (r > -2.0) & (r < cfg.reaction_max_s)
        tot = np.bincount(cp[ok], weights=_lognormal(r[ok], m, sigma), minlength=n)
        llr[:, k] = np.log1p(tot / ch) / burst
    best = llr.argmax(axis=1)
    is_anchor = np.zeros_like(llr)
    is_anchor[np.arange(n), best] = llr[np.arange(n), best] > ANCHOR_NATS
    C = np.vstack([np.zeros(len(deltas)), np.cumsum(llr, axis=0)])
    A = np.vstack([np.zeros(len(deltas)), np.cumsum(is_anchor, axis=0)])
    stretches: list[tuple[int, int, int]] = []
    _segment(C, A, 0, n, deltas, penalty_nats + np.log(n), min_anchors, min_delta_s, stretches)
    return C, A, stretches


def _edge_change(t: np.ndarray, pos: np.ndarray, d: np.ndarray, ch: np.ndarray, burst: np.ndarray, at_end: bool, m: float,
                 sigma: float, cfg: AlignConfig, penalty_nats: float, min_anchors: float, min_delta_s: float) -> list[Change]:
    """A stretch at the stream's end (or start) off the curve, searched on its own: the last
    EDGE_BLOCK_S of chat with only the curve and the top deltas of its last EDGE_SUB_S as deltas.
    A cut half a minute before the end leaves a few echoes there, which a block's SUB_S peaks lose
    among its chance peaks; and more deltas in the block itself split the anchors of the peaks it
    has (a stretch it found at the edge then falls under min_anchors), so this search is apart."""
    a_tok = int(np.searchsorted(t, t[-1] - EDGE_BLOCK_S, side="left")) if at_end else 0
    b_tok = len(t) if at_end else int(np.searchsorted(t, t[0] + EDGE_BLOCK_S, side="right"))
    if b_tok - a_tok < 2 * min_anchors:
        return []
    inb = (pos >= a_tok) & (pos < b_tok)
    cp, cd = pos[inb] - a_tok, d[inb]
    tb = t[a_tok:b_tok]
    w = np.log1p(0.2 / ch[a_tok:b_tok][cp]) / burst[a_tok:b_tok][cp]
    edge = tb[cp] >= t[-1] - EDGE_SUB_S if at_end else tb[cp] <= t[0] + EDGE_SUB_S
    found = _peaks(cd[edge] - m, w[edge], 1, SMALL_S) + _peaks(cd[edge] - m, w[edge], 1, min_delta_s, SMALL_S)
    if not found:
        return []
    deltas = np.array([0.0] + found)
    C, A, stretches = _stretches(cp, cd, ch[a_tok:b_tok], burst[a_tok:b_tok], deltas, m, sigma, cfg, penalty_nats,
                                 min_anchors, min_delta_s)
    j = len(stretches) - 1 if at_end else 0
    sa, sb, k = stretches[j]
    if k == 0 or len(stretches) < 2:  # the whole edge block off the curve is the blocks' to see
        return []
    pa, pb = (stretches[j - 1], stretches[j]) if at_end else (stretches[0], stretches[1])
    zone = _zone(C, tb, pa[0], pb[0], pb[1], pa[2], pb[2])
    gain = float((C[sb, k] - C[sa, k]) - (C[sb, 0] - C[sa, 0]))
    return [Change(float(tb[sa]), float(tb[sb - 1]), float(deltas[k]), gain, int(round(A[sb, k] - A[sa, k])),
                   zone if at_end else None, None if at_end else zone, zone if at_end else None, None if at_end else zone)]


def _zone(C: np.ndarray, t: np.ndarray, a: int, s: int, b: int, k0: int, k1: int) -> tuple[float, float]:
    """Chat-clock range of the split places between stretches a..s and s..b (at deltas k0, k1)
    within ZONE_NATS of the best: from the last token before the earliest to the first after the latest."""
    pos = np.arange(a + 1, b)
    ll = (C[pos, k0] - C[a, k0]) + (C[b, k1] - C[pos, k1])
    near = pos[ll >= ll.max() - ZONE_NATS]
    return float(t[near.min() - 1]), float(t[near.max()])


def find_changes(ix: TokenIndex, curve: OffsetCurve, chance: np.ndarray, sigma: float, cfg: AlignConfig, *,
                 penalty_nats: float = PENALTY_NATS, min_anchors: float = 5.0, min_delta_s: float = MIN_DELTA_S,
                 edges: bool = True) -> list[Change]:
    """Stretches of the chat where the anchors fit an offset `delta_s` away from `curve` better
    than the curve. chance: per token (index into ix.tok_*) its chance level beside its candidates'
    delay densities (fit.Reaction.chance); sigma: the spread of the reaction delays. edges: the
    stream's first and last chat also searched on their own (_edge_change); the gate's lower bar
    (two anchors) is met there by chance peaks of a +-RANGE_S search (sparse seen seeds: 6 right
    VODs refused for 0 wrong ones caught), so only the estimator's search does it."""
    m = cfg.reaction_median_s
    n_all = len(ix.tok_row)
    if n_all == 0:
        return []
    sel = np.arange(n_all)
    if n_all > MAX_TOKENS:
        sel = sel[np.linspace(0, n_all - 1, MAX_TOKENS).astype(np.int64)]
    t = ix.tok_t[sel]
    off = curve.offset(t)
    c = candidates(ix, off - RANGE_S - 2.0, off + RANGE_S + cfg.reaction_max_s, sel)
    pos = np.searchsorted(sel, c.tok)  # candidate -> position in sel
    d = c.lag - off[pos]
    # bursts: tokens of one word close together in the chat are one piece of evidence
    vt = ix.tok_vocab[sel].astype(np.float64) * 1e7 + t
    order = np.sort(vt)
    burst = np.searchsorted(order, vt + BURST_S, side="right") - np.searchsorted(order, vt - BURST_S, side="left")
    ch = chance[sel]
    span = (float(t[0]), float(t[-1]))
    if span[1] - span[0] <= BLOCK_S:
        blocks = [(-np.inf, np.inf, -np.inf, np.inf)]
    else:
        starts = np.arange(span[0], span[1] - BLOCK_S / 2, BLOCK_S / 2)
        blocks = [(s0, s0 + BLOCK_S, -np.inf if i == 0 else s0 + BLOCK_S / 4, np.inf if i == len(starts) - 1 else s0 + 3 * BLOCK_S / 4)
                  for i, s0 in enumerate(starts)]
    delta_tok = np.zeros(len(sel))  # the delta each token's stretch fits best (0: the curve)
    gain_tok = np.zeros(len(sel))
    anchors_tok = np.zeros(len(sel))
    zones: list[tuple[float, tuple[float, float]]] = []  # (chat time of a change, its zone)
    for lo, hi, mid_lo, mid_hi in blocks:
        a_tok, b_tok = np.searchsorted(t, lo, side="left"), np.searchsorted(t, hi, side="left")
        if b_tok - a_tok < 2 * min_anchors:
            continue
        inb = (pos >= a_tok) & (pos < b_tok)
        cp, cd = pos[inb] - a_tok, d[inb]
        n = b_tok - a_tok
        # rare words weigh more in the histogram: a chance match of a common word is cheap
        w = np.log1p(0.2 / ch[a_tok:b_tok][cp]) / burst[a_tok:b_tok][cp]
        # the block's peaks, and each SUB_S stretch's own top small and large peak (a few echoes at
        # one end of a block are lost among the whole block's chance peaks)
        # (small deltas apart: the curve's own echoes spread over its reaction delays and fill them)
        found = _peaks(cd - m, w, 3, min_delta_s, SMALL_S) + _peaks(cd - m, w, PEAKS, SMALL_S)
        tb_c = t[a_tok:b_tok][cp]
        for s0 in np.arange(tb_c.min(), tb_c.max(), SUB_S) if len(tb_c) else []:
            sub = (tb_c >= s0) & (tb_c < s0 + SUB_S)
            found += [x for x in _peaks(cd[sub] - m, w[sub], 1, SMALL_S) + _peaks(cd[sub] - m, w[sub], 1, min_delta_s, SMALL_S)
                      if all(abs(x - y) >= 1.0 for y in found)]
        deltas = np.array([0.0] + found)
        C, A, stretches = _stretches(cp, cd, ch[a_tok:b_tok], burst[a_tok:b_tok], deltas, m, sigma, cfg, penalty_nats,
                                     min_anchors, min_delta_s)
        tb = t[a_tok:b_tok]
        mine = (tb >= mid_lo) & (tb < mid_hi)
        for i, (sa, sb, k) in enumerate(stretches):
            idx = np.arange(sa, sb)
            keep = idx[mine[sa:sb]] + a_tok
            delta_tok[keep] = deltas[k]
            gain_tok[keep] = (C[sb, k] - C[sa, k]) - (C[sb, 0] - C[sa, 0])
            anchors_tok[keep] = A[sb, k] - A[sa, k]
            if i > 0:
                pa, _, pk = stretches[i - 1]
                z = _zone(C, tb, pa, sa, sb, pk, k)
                if mid_lo <= tb[sa] < mid_hi:
                    zones.append((float(tb[sa]), z))
    # the stretches off the curve, with the zones of their ends
    out: list[Change] = []
    for at_end in (True, False) if edges else ():
        if delta_tok[-1 if at_end else 0] == 0:  # an edge the blocks found on the curve: looked at on its own
            out += _edge_change(t, pos, d, ch, burst, at_end, m, sigma, cfg, penalty_nats, min_anchors, min_delta_s)
    change_at = np.flatnonzero(np.diff(delta_tok) != 0) + 1
    bounds = np.concatenate([[0], change_at, [len(sel)]])

    def zone_at(i: int, own: bool) -> tuple[float, float] | None:
        if i <= 0 or i >= len(sel):
            return None
        mine = [z for tc, z in zones if tc == t[i]] if own else []
        near = mine or [z for tc, z in zones if abs(tc - t[i]) <= BLOCK_S / 4]
        return min(near, key=lambda z: z[1] - z[0]) if near else (float(t[i - 1]), float(t[i]))

    for a, b in zip(bounds[:-1], bounds[1:]):
        if delta_tok[a] == 0:
            continue
        out.append(Change(float(t[a]), float(t[b - 1]), float(delta_tok[a]), float(gain_tok[a:b].max()),
                          int(round(anchors_tok[a:b].max())), zone_at(a, True), zone_at(b, True), zone_at(a, False), zone_at(b, False)))
    return out


def pieces_with_changes(curve: OffsetCurve, changes: list[Change], chat_span: tuple[float, float],
                        min_delta_s: float = MIN_DELTA_S) -> list[Piece]:
    """The pieces for a refit: the curve's segments split where a change starts or ends, each
    stretch at its segment's offset plus the change's delta; neighbours with no jump between them
    (a change that only moves a cut of the curve) join into one piece."""
    segs = curve.segments
    bounds: list[tuple[float, tuple[float, float]]] = []  # (chat time, zone)
    for (lo, hi), s in zip(curve.cut_zones(), [s for _, s in curve._cut_pairs()]):
        bounds.append((s.start_s, (lo, hi)))
    for c in changes:
        for z in (c.zone_from, c.zone_to):
            if z is not None:
                bounds.append(((z[0] + z[1]) / 2, z))
    bounds.sort()
    edges = [chat_span[0]] + [b for b, _ in bounds] + [chat_span[1]]
    seg_ends = np.array([s.end_s for s in segs[:-1]])
    parts = []  # (lo, hi, segment, delta)
    for lo, hi in zip(edges[:-1], edges[1:]):
        mid = (lo + hi) / 2
        k = int(np.searchsorted(seg_ends, mid, side="left"))
        delta = next((c.delta_s for c in changes if (c.zone_from is None or sum(c.zone_from) / 2 <= mid)
                      and (c.zone_to is None or mid <= sum(c.zone_to) / 2)), 0.0)
        parts.append((lo, hi, k, delta))
    groups: list[list[int]] = [[0]]
    for i in range(1, len(parts)):
        b = parts[i][0]
        prev, cur = parts[groups[-1][-1]], parts[i]
        jump = abs(segs[prev[2]].at(b) + prev[3] - segs[cur[2]].at(b) - cur[3])
        if jump < min_delta_s:
            groups[-1].append(i)
        else:
            groups.append([i])
    # a sliver (a few tokens where two blocks' rulings meet) is no stretch of its own
    span_of = lambda g: parts[g[-1]][1] - parts[g[0]][0]  # noqa: E731
    while len(groups) > 1 and min(span_of(g) for g in groups) < MIN_PIECE_S:
        j = min(range(len(groups)), key=lambda i: span_of(groups[i]))
        k = j - 1 if j > 0 else 1
        groups[min(j, k)] = sorted(groups[j] + groups[k])
        del groups[max(j, k)]
    out = []
    for g in groups:
        his = np.array([parts[i][1] for i in g[:-1]])
        ks = [parts[i][2] for i in g]
        ds = [parts[i][3] for i in g]

        def level(t: np.ndarray, his=his, ks=ks, ds=ds) -> np.ndarray:
            j = np.searchsorted(his, t, side="left")
            o = np.array([segs[k].offset_s for k in ks])[j]
            dr = np.array([segs[k].drift_s_per_h for k in ks])[j]
            st = np.array([segs[k].start_s for k in ks])[j]
            return o + dr * (t - st) / 3600.0 + np.array(ds)[j]

        lo = parts[g[0]][0]
        zone = None if not out else next((z[0] - ZONE_PAD_S, z[1] + ZONE_PAD_S) for b, z in bounds if b == lo)
        out.append(Piece(lo, parts[g[-1]][1], float(level(np.array([lo]))[0]), level, zone))
    return out
