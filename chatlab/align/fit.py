"""The fine fit: anchors near each run's coarse lag, the cut between runs, and a robust
piecewise-linear fit (one offset per segment, one drift for the VOD).

A cut is placed by likelihood over where it could be (`locate_cut`), once from the coarse lags and
once more after the fit. The drift is a maximum-likelihood fit on the reaction model (`_ml_fit`).

The lag of an anchor is `offset(t) + reaction delay`. Reaction delays are skewed and spread over
1-15 s, and some anchors are chance matches, so the fit is a median (L1) regression on the
anchors inside the reaction window, with the median reaction delay (`[align] reaction_median_s`)
taken off: the offset is where half the viewers' echoes come earlier than the pinned median.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from chatlab.align.anchors import Candidates, TokenIndex, candidates
from chatlab.align.coarse import Coarse
from chatlab.align.config import AlignConfig
from chatlab.align.curve import CurveSegment, OffsetCurve

EARLY_S = 2.0  # anchors up to this much before "offset + 0" still count (word times are not exact)
MAX_FINE_TOKENS = 400_000
REACTION_SIGMA0 = 0.55  # starting spread (of log delay); fitted from the anchors
PRIOR_TOKENS = 5.0  # a word's echo prior counts all words' prior as this many of its tokens
BURST_S = 10.0  # echoes of one word this close together in the chat count as one (see locate_cut)
CUT_NATS = 3.0  # cut places within this log-likelihood of the best are in a cut's range
EM_ROUNDS = 8


def _lognormal(d: np.ndarray, median: float, sigma: float) -> np.ndarray:
    d = np.maximum(d, 1e-9)
    return np.exp(-((np.log(d) - np.log(median)) ** 2) / (2 * sigma**2)) / (d * sigma * np.sqrt(2 * np.pi))


@dataclass(frozen=True)
class Anchors:
    """The anchors the fit used (one row per candidate pair), for the plot, the table and the check."""

    t_chat: np.ndarray
    t_ref: np.ndarray  # sentence end on the audio clock
    lag: np.ndarray
    weight: np.ndarray  # EM responsibility: how likely this candidate is the word the message echoes
    segment: np.ndarray
    inlier: np.ndarray
    row: np.ndarray  # chat row


def _window_of(coarse: Coarse, t: np.ndarray) -> np.ndarray:
    return np.clip(np.searchsorted(coarse.edges, t, side="right") - 1, 0, len(coarse.lag) - 1)


@dataclass(frozen=True)
class Piece:
    """A stretch of the chat clock at one offset, before the fit: where its tokens are, the offset
    its candidates are looked for around, and the chat-clock range the cut before it may lie in."""

    t_lo: float
    t_hi: float
    offset0: float  # its offset at t_lo (the fit's starting point)
    level: Callable[[np.ndarray], np.ndarray]  # chat clock -> offset the candidates centre on
    zone: tuple[float, float] | None = None  # chat clock (None: the first piece)


def pieces_from_runs(coarse: Coarse, run_list: list[tuple[int, int]], cfg: AlignConfig) -> list[Piece]:
    """One piece per run of coarse windows at one lag; the cut before a run may lie from the last
    window of the run before it to the first window of this one (one window of slack each side)."""
    m, e = cfg.reaction_median_s, coarse.edges
    out = []
    for k, (a, b) in enumerate(run_list):
        def level(t: np.ndarray, a: int = a, b: int = b) -> np.ndarray:  # each window's own lag follows the drift
            return coarse.lag[np.clip(_window_of(coarse, t), a, b)] - m
        zone = None if k == 0 else (float(e[max(run_list[k - 1][1] - 1, 0)]), float(e[min(a + 2, len(e) - 1)]))
        out.append(Piece(float(e[a]), float(e[b + 1]), float(np.nanmedian(coarse.lag[a : b + 1])) - m, level, zone))
    return out


def piece_candidates(ix: TokenIndex, pieces: list[Piece], k: int, cfg: AlignConfig, sel: np.ndarray) -> Candidates:
    """Candidates of the tokens in piece k and in the cut zones either side of it, whose lag is
    within the reaction window of the piece's level."""
    p = pieces[k]
    lo = pieces[k].zone[0] if k > 0 else -np.inf
    hi = pieces[k + 1].zone[1] if k + 1 < len(pieces) else np.inf
    t = ix.tok_t[sel]
    mine = sel[(t >= min(lo, p.t_lo)) & (t <= max(hi, p.t_hi))]
    level = p.level(np.clip(ix.tok_t[mine], p.t_lo, p.t_hi))  # outside its stretch a piece keeps its edge level
    return candidates(ix, level - EARLY_S - 4.0, level + cfg.reaction_max_s + 4.0, mine)


@dataclass
class Reaction:
    """The reaction model the EM fits: the spread of the (lognormal) delays around the pinned
    median, and per vocab id the prior that a chat token of that word echoes the streamer."""

    sigma: float
    prior: np.ndarray

    def chance(self, ix: TokenIndex, vocab: np.ndarray) -> np.ndarray:
        """A token's chance term beside its candidates' delay densities: how many chance
        candidates per second of lag its word brings, weighed by the odds it is no echo at all."""
        pi = self.prior[vocab]
        return (1.0 - pi) / pi * np.maximum(ix.vocab_rate()[vocab], 1e-6)


def locate_cut(ix: TokenIndex, sides: tuple[Candidates, Candidates], offsets: tuple, zone: tuple[float, float],
               reaction: Reaction, cfg: AlignConfig, max_cells: int = 4_000_000) -> tuple[float, float, float, float, float, tuple]:
    """The audio-clock time of the cut between two segments, by likelihood. `offsets[s](t_chat)`
    is side s's offset; `zone` the audio range the cut lies in. A cut at g explains a candidate of
    side 0 only when its sentence ends before g, one of side 1 only when it ends after; each chat
    token is a mixture of its valid candidates' delay densities and chance (as in the EM), so a
    sentence's echoes compete with the other sentences the same message could echo. The cut goes
    midway between the last sentence before it and the first after it. Returns (cut, lo, hi, far_lo,
    far_hi): lo..hi is the audio the cut may lie in, over every place within CUT_NATS of the best;
    far_lo..far_hi the same when the one message that argues most against each place is left out
    (a chance match in a stretch nothing echoes can make a tight range far from the cut). Last, the
    echoes' log-likelihood profile over the zone, (sentence ends; per cut place its earliest and
    latest audio time, as the range's bounds take them, and ll - max): what
    the transcript's own marks at the splice are weighed against (chatlab.align.splice)."""
    m = cfg.reaction_median_s
    parts = []
    for s, (c, off) in enumerate(zip(sides, offsets)):
        d = c.lag - off(ix.tok_t[c.tok])
        f = np.where((d > -EARLY_S) & (d < cfg.reaction_max_s), _lognormal(d, m, reaction.sigma), 0.0)
        ok = f > 0
        parts.append((c.tok[ok], c.occ[ok], f[ok], np.full(int(ok.sum()), s)))
    tok, occ, f, side = (np.concatenate(x) for x in zip(*parts))
    ref = ix.occ_ref[occ]
    lo, hi = zone
    inside = (ref >= lo) & (ref <= hi)
    if not inside.any():
        return (lo + hi) / 2.0, lo, hi, lo, hi, ((), (), (), (0.0,))
    grid, first = np.unique(ref[inside], return_index=True)  # sentences whose side the cut decides
    grid_start = ix.occ_start[occ[inside]][first]
    mine = np.isin(tok, np.unique(tok[inside]))  # tokens whose likelihood depends on the cut
    word_start = ix.occ_word_start[occ[mine]]
    tok, ref, f, side = tok[mine], ref[mine], f[mine], side[mine]
    utok, tpos = np.unique(tok, return_inverse=True)
    n = len(grid)
    if len(utok) * (n + 1) > max_cells:  # bounded memory on huge chats: a spread sample of tokens
        keep_t = np.zeros(len(utok), bool)
        keep_t[:: int(np.ceil(len(utok) * (n + 1) / max_cells))] = True
        sel = keep_t[tpos]
        utok, tpos = np.unique(tok[sel], return_inverse=True)
        ref, f, side, word_start = ref[sel], f[sel], side[sel], word_start[sel]
    # cut j (0..n) lies after grid[j-1] and before grid[j]: a side-0 candidate counts for j past its
    # sentence, a side-1 candidate up to it; sums over j by a difference array per token
    a0 = np.where(ref > hi, n + 1, np.searchsorted(grid, ref, side="right"))  # side 0 valid for j >= a0
    b1 = np.where(ref < lo, -1, np.searchsorted(grid, ref, side="left"))  # side 1 valid for j <= b1
    diff = np.zeros((len(utok), n + 2))
    s0, s1 = side == 0, side == 1
    np.add.at(diff, (tpos[s0], a0[s0]), f[s0])
    np.add.at(diff, (tpos[s1], np.zeros(int(s1.sum()), np.int64)), f[s1])
    np.add.at(diff, (tpos[s1], b1[s1] + 1), -f[s1])
    total = np.cumsum(diff, axis=1)[:, : n + 1] + reaction.chance(ix, ix.tok_vocab[utok])[:, None]
    # viewers echo a memorable line in bursts: tokens of one word close together in the chat are
    # one piece of evidence about which side its sentence is on, not several
    vt = ix.tok_vocab[utok].astype(np.float64) * 1e7 + ix.tok_t[utok]
    order = np.sort(vt)
    burst = np.searchsorted(order, vt + BURST_S, side="right") - np.searchsorted(order, vt - BURST_S, side="left")
    per_tok = np.log(np.maximum(total, 1e-300)) / burst[:, None]
    ll = per_tok.sum(axis=0)
    # the range must not rest on one message: a chance match in a long stretch nothing echoes can
    # make a tight range far from the cut (one token of a rare word is worth several nats), so each
    # place's shortfall against the best is taken without the one message that argues most for the best
    _, msg = np.unique(ix.tok_row[utok], return_inverse=True)
    per_msg = np.zeros((int(msg.max()) + 1 if len(msg) else 0, n + 1))
    np.add.at(per_msg, msg, per_tok)
    j_best = int(np.argmax(ll))
    worst_one = np.maximum((per_msg[:, j_best: j_best + 1] - per_msg).max(axis=0), 0.0) if len(per_msg) else np.zeros(n + 1)
    shortfall = ll[j_best] - ll - worst_one

    def bounds(j: int) -> tuple[float, float, float]:
        """(end of the last sentence before cut place j, start of the first after it, the earliest
        point the cut can be at: the first word of that last sentence chat echoes before)"""
        before = first_echoed = float(grid[j - 1]) if j > 0 else lo
        if j > 0:
            echoed = (side == 0) & (ref == grid[j - 1])
            first_echoed = min(before, float(word_start[echoed].min())) if echoed.any() else before
        after = hi
        if j < n:
            # a sentence may straddle the cut (the words either side of a splice run together):
            # the audio after the cut starts no later than the first word of it chat echoes after
            echoed = (side == 1) & (ref == grid[j])
            after = max(float(grid_start[j]), float(word_start[echoed].min())) if echoed.any() else float(grid_start[j])
        return before, max(before, after), first_echoed

    before, after, _ = bounds(j_best)
    # the range: every cut place nearly as likely as the best (a likelihood ratio of e^-CUT_NATS);
    # and again with one message left out (what the gate weighs: a range one echo makes is fragile)
    near = [bounds(int(j)) for j in np.flatnonzero(ll >= ll.max() - CUT_NATS)]
    far = [bounds(int(j)) for j in np.flatnonzero(shortfall < CUT_NATS)]
    spans = [bounds(j) for j in range(n + 1)]  # each place's audio: from its earliest point to the first sentence after
    profile = (tuple(float(x) for x in grid), tuple(e for _, _, e in spans), tuple(a for _, a, _ in spans),
               tuple(float(x) for x in ll - ll[j_best]))
    return ((before + after) / 2.0, min(e for _, _, e in near), max(a for _, a, _ in near),
            min(e for _, _, e in far), max(a for _, a, _ in far), profile)


def _l1_fit(t: np.ndarray, seg: np.ndarray, y: np.ndarray, w: np.ndarray, starts: np.ndarray, n_seg: int,
            drift: bool, init: np.ndarray, q: float = 0.5, fixed_drift: float | None = None, tol: float = 1e-4) -> np.ndarray:
    """Weighted quantile (q = 0.5: L1) regression y ~ offset[seg] + drift * (t - start[seg]) / 3600
    by IRLS, until no parameter moves by tol; fixed_drift: the drift is given, only the offsets are
    fitted. The design is one
    indicator per segment plus the drift column, so the normal equations are sums per segment:
    the rows are sorted by segment once and each sum is a cumulative sum read at the segment
    bounds (no n x (segments + 1) matrix per iteration; 1M anchors: a few times faster)."""
    order = np.argsort(seg, kind="stable")
    seg, w = seg[order], w[order]
    tau = (t[order] - starts[seg]) / 3600.0
    y = y[order]
    counts = np.bincount(seg, minlength=n_seg)[:n_seg]
    bounds = np.concatenate([[0], np.cumsum(counts)])

    def per_seg(x: np.ndarray) -> np.ndarray:
        c = np.concatenate([[0.0], np.cumsum(x)])
        return c[bounds[1:]] - c[bounds[:-1]]

    beta = init.copy()
    use_tau = drift and fixed_drift is None
    if fixed_drift is not None:
        beta[n_seg] = fixed_drift
        y = y - fixed_drift * tau
    diag = np.arange(n_seg)
    for _ in range(60):
        r = y - np.repeat(beta[:n_seg], counts)
        if use_tau:
            r -= beta[n_seg] * tau
        ww = w * np.where(r > 0, q, 1.0 - q) / np.maximum(np.abs(r), 0.05)
        M = 1e-9 * np.eye(n_seg + 1)
        M[diag, diag] += per_seg(ww)
        b = np.zeros(n_seg + 1)
        wy = ww * y
        b[:n_seg] = per_seg(wy)
        if use_tau:
            wt = ww * tau
            c = per_seg(wt)
            M[:n_seg, n_seg] += c
            M[n_seg, :n_seg] += c
            M[n_seg, n_seg] += float(wt @ tau)
            b[n_seg] = float(wy @ tau)
        new = np.linalg.lstsq(M, b, rcond=None)[0]
        if fixed_drift is not None:
            new[n_seg] = fixed_drift
        elif not drift:
            new[n_seg] = 0.0
        if np.max(np.abs(new - beta)) < tol:
            beta = new
            break
        beta = new
    return beta


def _cut_zone(pieces: list[Piece], k: int) -> tuple[float, float]:
    """The audio range the cut before piece k can lie in: its chat-clock zone at either piece's offset."""
    c0, c1 = pieces[k].zone
    a, b = pieces[k - 1], pieces[k]
    offs = [float(x.level(np.array([np.clip(c, x.t_lo, x.t_hi)]))[0]) for x in (a, b) for c in (c0, c1)]
    return min(c0 - offs[0], c0 - offs[2]), max(c1 - offs[1], c1 - offs[3])


def _segment_pairs(ix: TokenIndex, per_run: list[Candidates], cuts: list[float]) -> tuple[np.ndarray, ...]:
    """(tok, occ, lag, segment) of every run's candidates whose sentence lies in its segment's audio."""
    pieces = []
    for k, c in enumerate(per_run):
        ref = ix.occ_ref[c.occ]
        keep = np.ones(len(c), bool)
        if k > 0:
            keep &= ref >= cuts[k - 1]
        if k < len(cuts):
            keep &= ref < cuts[k]
        pieces.append((c.tok[keep], c.occ[keep], c.lag[keep], np.full(int(keep.sum()), k)))
    return tuple(np.concatenate(x) for x in zip(*pieces))


def _offset_fn(beta: np.ndarray, starts: np.ndarray, k: int):
    n_seg = len(beta) - 1
    return lambda t: beta[k] + beta[n_seg] * (t - starts[k]) / 3600.0


def _ml_fit(t: np.ndarray, seg: np.ndarray, lag: np.ndarray, w: np.ndarray, starts: np.ndarray, n_seg: int,
            init: np.ndarray, m: float, sigma: float) -> np.ndarray:
    """Offsets and drift by maximum likelihood under the reaction model (delays lognormal, median
    m, spread sigma; weights: the EM's responsibilities), by Fisher scoring. The sharp early edge of
    the delays carries most of the information about a slope; a median or quantile fit uses it
    poorly (about 1.4x the error of this on 1-hour cases)."""
    X = np.zeros((len(lag), n_seg + 1))
    X[np.arange(len(lag)), seg] = 1.0
    X[:, n_seg] = (t - starts[seg]) / 3600.0
    info = np.exp(2 * sigma**2) * (1.0 + 1.0 / sigma**2) / m**2  # Fisher information of a shift, per echo
    H = (X * (w * info)[:, None]).T @ X + 1e-9 * np.eye(n_seg + 1)
    beta = init.copy()
    for _ in range(50):
        d = np.maximum(lag - X @ beta, 0.05)
        score = (1.0 + (np.log(d) - np.log(m)) / sigma**2) / d  # d log f / d offset
        step = np.linalg.solve(H, X.T @ (w * score))
        beta = beta + step
        if np.max(np.abs(step)) < 1e-5:
            break
    return beta


def fit_curve(ix: TokenIndex, pieces: list[Piece], cfg: AlignConfig, chat_span: tuple[float, float],
              drift0: float = 0.0) -> tuple[OffsetCurve, Anchors, Reaction]:
    """The curve with one segment per piece (cuts between them placed by likelihood), the anchors
    it used and the reaction model fitted on them. drift0: the drift to start from."""
    m = cfg.reaction_median_s
    sel = np.arange(len(ix.tok_row))
    if len(sel) > MAX_FINE_TOKENS:
        sel = sel[np.linspace(0, len(sel) - 1, MAX_FINE_TOKENS).astype(np.int64)]
    n_seg = len(pieces)
    per_run = [piece_candidates(ix, pieces, k, cfg, sel) for k in range(n_seg)]
    beta = np.array([p.offset0 for p in pieces] + [drift0])
    reaction = Reaction(REACTION_SIGMA0, np.full(max(ix.n_vocab, 1), 0.5))
    zones = [_cut_zone(pieces, k + 1) for k in range(n_seg - 1)]

    def locate(beta: np.ndarray, starts: np.ndarray, reaction: Reaction) -> list[tuple[float, ...]]:
        return [locate_cut(ix, (per_run[k], per_run[k + 1]), (_offset_fn(beta, starts, k), _offset_fn(beta, starts, k + 1)),
                           zones[k], reaction, cfg) for k in range(n_seg - 1)]

    # the cuts from the coarse offsets, the fit given the cuts, then (once) the cuts again from the
    # fitted offsets, drift and reaction model, and the fit again
    cuts = [x[0] for x in locate(beta, np.array([p.t_lo for p in pieces]), reaction)]
    located: list[tuple[float, ...]] = []
    for again in (True, False):
        starts = np.array([chat_span[0]] + [g + beta[k + 1] for k, g in enumerate(cuts)])
        tok, occ, lag, seg = _segment_pairs(ix, per_run, cuts)
        beta, starts, reaction, resp, inlier, keep, span_h = _em(ix, tok, lag, seg, beta, starts, cuts, cfg)
        if not again or n_seg == 1:
            break
        located = locate(beta, starts, reaction)
        cuts = [x[0] for x in located]
    t = ix.tok_t[tok]
    y = lag - m
    if inlier.sum() >= 3 and span_h >= 0.25:
        # the drift by likelihood (it uses the sharp early edge of the delays; a slope does not
        # care where the delays' median is); the offsets are then the medians again
        d_q = _ml_fit(t[keep], seg[keep], lag[keep], resp[keep], starts, n_seg, beta, m, reaction.sigma)[n_seg]
        beta = _l1_fit(t[keep], seg[keep], y[keep], resp[keep], starts, n_seg, drift=True, init=beta, fixed_drift=float(d_q))
        starts[1:] = np.asarray(cuts) + beta[1:n_seg]
    drift = float(beta[n_seg])
    ends = np.append(starts[1:], chat_span[1])
    # a segment's chat-clock end is where its audio ends (the cut), at its own offset
    ends[:-1] = [(g + beta[k] - drift * starts[k] / 3600.0) / (1.0 - drift / 3600.0) for k, g in enumerate(cuts)]
    # where the cut may lie: between the sentences either side, give or take word-time error
    window = [(None,) * 4] + [(float(a) - EARLY_S, float(b) + EARLY_S, float(fa) - EARLY_S, float(fb) + EARLY_S) for _, a, b, fa, fb, _ in located]
    profiles = [((), (), (), ())] + [x[5] for x in located]
    curve = OffsetCurve(tuple(CurveSegment(float(starts[k]), float(ends[k]), float(beta[k]), drift, *window[k][:2],
                                           cut_far_lo_s=window[k][2], cut_far_hi_s=window[k][3],
                                           cut_grid=profiles[k][0], cut_place_lo=profiles[k][1], cut_place_hi=profiles[k][2],
                                           cut_ll=profiles[k][3])
                         for k in range(n_seg)))
    anchors = Anchors(t, ix.occ_ref[occ], lag, resp, seg, inlier & (resp > 0.5), ix.tok_row[tok])
    return curve, anchors, reaction


def _em(ix: TokenIndex, tok: np.ndarray, lag: np.ndarray, seg: np.ndarray, beta: np.ndarray, starts: np.ndarray,
        cuts: list[float], cfg: AlignConfig) -> tuple:
    """The robust fit given the cuts: EM over which candidate (if any) each token echoes, with a
    weighted L1 fit of the offsets (and drift) on the responsibilities."""
    m = cfg.reaction_median_s
    n_seg = len(beta) - 1
    beta, starts = beta.copy(), starts.copy()
    t = ix.tok_t[tok]
    _, tok_pos = np.unique(tok, return_inverse=True)
    n_tok = int(tok_pos.max()) + 1 if len(tok) else 0
    y = lag - m
    inlier = np.zeros(len(y), bool)
    resp = np.zeros(len(y))
    sigma = REACTION_SIGMA0
    # the background of the mixture below: chance candidates of a token per second of lag, from
    # how often its word is said (a filler said every 25 s matches by chance far more often than a
    # name said twice), and the prior that a token echoes at all, per word (a chat word that is
    # never an echo, "wait the X??", learns a prior near 0), shrunk towards all words' prior
    tok_v = ix.tok_vocab[tok]
    uniq_v, tv_pos = np.unique(tok_v, return_inverse=True)
    tok_word = np.zeros(n_tok, np.int64)
    tok_word[tok_pos] = tv_pos
    n_per_word = np.bincount(tok_word, minlength=len(uniq_v)).astype(np.float64)
    rho_tok = np.maximum(ix.vocab_rate()[tok_v], 1e-6)
    prior_all, prior = 0.5, np.full(len(uniq_v), 0.5)
    keep, span_h = np.zeros(len(y), bool), 0.0
    for it in range(EM_ROUNDS):
        pred = beta[seg] + beta[n_seg] * (t - starts[seg]) / 3600.0
        r = y - pred
        inlier = (r > -m - EARLY_S) & (r < cfg.reaction_max_s - m)
        if inlier.sum() < 3:
            break
        # EM responsibilities: each token echoes at most one of its candidates (reaction delays
        # lognormal around the pinned median) or is chance; candidates compete within a token
        f = np.where(inlier, _lognormal(r + m, m, sigma), 0.0)
        tot = np.bincount(tok_pos, weights=f, minlength=n_tok)
        pi = prior[tv_pos]
        resp = f / (tot[tok_pos] + (1.0 - pi) / pi * rho_tok)
        echo = np.bincount(tok_pos, weights=resp, minlength=n_tok)  # P(token is an echo)
        prior_all = float(np.clip(echo.sum() / max(n_tok, 1), 0.01, 0.99))
        prior = np.clip((np.bincount(tok_word, weights=echo, minlength=len(uniq_v)) + PRIOR_TOKENS * prior_all)
                        / (n_per_word + PRIOR_TOKENS), 1e-3, 0.999)
        keep = resp > 1e-3
        span_h = (t[keep].max() - t[keep].min()) / 3600.0 if keep.any() else 0.0
        # early rounds move the responsibilities anyway: a loose fit there, exact in the last two
        beta = _l1_fit(t[keep], seg[keep], y[keep], resp[keep], starts, n_seg, drift=span_h >= 0.25, init=beta,
                       tol=1e-4 if it >= EM_ROUNDS - 2 else 1e-2)
        starts[1:] = np.asarray(cuts) + beta[1:n_seg]  # offset(start) is the segment's offset_s
        d = np.maximum(r[keep] + m, 1e-3)
        sigma = float(np.clip(np.sqrt(np.sum(resp[keep] * (np.log(d) - np.log(m)) ** 2) / resp[keep].sum()), 0.2, 1.5))
    word_prior = np.full(max(ix.n_vocab, int(uniq_v.max()) + 1 if len(uniq_v) else 1), prior_all)
    word_prior[uniq_v] = prior
    return beta, starts, Reaction(sigma, word_prior), resp, inlier, keep, span_h
