"""The fine fit: anchors near each run's coarse lag, the cut between runs, and a robust
piecewise-linear fit (one offset per segment, one drift for the VOD).

The lag of an anchor is `offset(t) + reaction delay`. Reaction delays are skewed and spread over
1-15 s, and some anchors are chance matches, so the fit is a median (L1) regression on the
anchors inside the reaction window, with the median reaction delay (`[align] reaction_median_s`)
taken off: the offset is where half the viewers' echoes come earlier than the pinned median.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from chatlab.align.anchors import Candidates, TokenIndex, candidates
from chatlab.align.coarse import Coarse
from chatlab.align.config import AlignConfig
from chatlab.align.curve import CurveSegment, OffsetCurve

EARLY_S = 2.0  # anchors up to this much before "offset + 0" still count (word times are not exact)
MAX_FINE_TOKENS = 400_000
REACTION_SIGMA0 = 0.55  # starting spread (of log delay); fitted from the anchors
DRIFT_QUANTILE = 0.2  # the lag quantile the drift is fitted on (see fit_curve)
PRIOR_TOKENS = 5.0  # a word's echo prior counts all words' prior as this many of its tokens


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


def run_candidates(ix: TokenIndex, coarse: Coarse, run: tuple[int, int], cfg: AlignConfig, sel: np.ndarray) -> Candidates:
    """Candidates of the tokens in the run's windows (and one window either side, where the cut may
    lie) whose lag is within the reaction window of the run's own coarse lag."""
    a, b = run
    w_lo, w_hi = max(a - 1, 0), min(b + 1, len(coarse.lag) - 1)
    t = ix.tok_t[sel]
    mine = sel[(t >= coarse.edges[w_lo]) & (t < coarse.edges[w_hi + 1])]
    w = np.clip(_window_of(coarse, ix.tok_t[mine]), a, b)  # outside windows take the run's edge lag
    level = coarse.lag[w] - cfg.reaction_median_s
    return candidates(ix, level - EARLY_S - 4.0, level + cfg.reaction_max_s + 4.0, mine)


def _token_weights(c: Candidates) -> np.ndarray:
    _, inv, cnt = np.unique(c.tok, return_inverse=True, return_counts=True)
    return 1.0 / cnt[inv]


def split_point(ref: np.ndarray, start: np.ndarray, label: np.ndarray, weight: np.ndarray) -> float:
    """The audio-clock time of a cut between label 0 (before) and 1 (after). Each sentence takes the
    label most of its anchors' weight votes for; the split of the sentences that agrees with the
    most weight wins, placed midway between the last sentence before and the first one after."""
    sent, inv = np.unique(ref, return_inverse=True)
    net = np.bincount(inv, weights=np.where(label == 1, weight, -weight), minlength=len(sent))
    s_start = np.zeros(len(sent))
    s_start[inv] = start
    voted = net != 0
    sent, s_start, lab, wt = sent[voted], s_start[voted], (net[voted] > 0).astype(int), np.abs(net[voted])
    if len(sent) == 0:
        return float(np.median(ref))
    before = np.concatenate([[0.0], np.cumsum(wt * (lab == 0))])  # label-0 weight left of each split
    after = np.concatenate([np.cumsum((wt * (lab == 1))[::-1])[::-1], [0.0]])
    k = int(np.argmax(before + after))  # split before sentence k
    if k == 0:
        return float(s_start[0])
    if k == len(sent):
        return float(sent[-1])
    return (float(sent[k - 1]) + max(float(sent[k - 1]), float(s_start[k]))) / 2.0


def _l1_fit(t: np.ndarray, seg: np.ndarray, y: np.ndarray, w: np.ndarray, starts: np.ndarray, n_seg: int,
            drift: bool, init: np.ndarray, q: float = 0.5, fixed_drift: float | None = None) -> np.ndarray:
    """Weighted quantile (q = 0.5: L1) regression y ~ offset[seg] + drift * (t - start[seg]) / 3600
    by IRLS; fixed_drift: the drift is given, only the offsets are fitted."""
    tau = (t - starts[seg]) / 3600.0
    X = np.zeros((len(y), n_seg + 1))
    X[np.arange(len(y)), seg] = 1.0
    X[:, n_seg] = tau if drift else 0.0
    beta = init.copy()
    if fixed_drift is not None:
        beta[n_seg] = fixed_drift
        y = y - fixed_drift * X[:, n_seg]
        X[:, n_seg] = 0.0
    for _ in range(60):
        r = y - X @ beta
        ww = w * np.where(r > 0, q, 1.0 - q) / np.maximum(np.abs(r), 0.05)
        A = X * ww[:, None]
        new = np.linalg.lstsq(A.T @ X + 1e-9 * np.eye(n_seg + 1), A.T @ y, rcond=None)[0]
        if fixed_drift is not None:
            new[n_seg] = fixed_drift
        elif not drift:
            new[n_seg] = 0.0
        if np.max(np.abs(new - beta)) < 1e-4:
            beta = new
            break
        beta = new
    return beta


def fit_curve(ix: TokenIndex, coarse: Coarse, run_list: list[tuple[int, int]], cfg: AlignConfig,
              chat_span: tuple[float, float]) -> tuple[OffsetCurve, Anchors]:
    m = cfg.reaction_median_s
    sel = np.arange(len(ix.tok_row))
    if len(sel) > MAX_FINE_TOKENS:
        sel = sel[np.linspace(0, len(sel) - 1, MAX_FINE_TOKENS).astype(np.int64)]
    per_run = [run_candidates(ix, coarse, r, cfg, sel) for r in run_list]
    levels = [float(np.nanmedian(coarse.lag[a : b + 1])) - m for a, b in run_list]

    # cuts: where, on the audio clock, one run's anchors end and the next one's begin
    cuts: list[float] = []
    for k in range(len(run_list) - 1):
        zone = (coarse.edges[max(run_list[k][1] - 1, 0)], coarse.edges[min(run_list[k + 1][0] + 2, len(coarse.edges) - 1)])
        parts = []
        for lab, c in ((0, per_run[k]), (1, per_run[k + 1])):
            t = ix.tok_t[c.tok]
            inside = (t >= zone[0]) & (t < zone[1])
            lag_res = c.lag - (levels[k + lab]) - m
            near = inside & (lag_res > -m - EARLY_S) & (lag_res < cfg.reaction_max_s - m)
            parts.append((ix.occ_ref[c.occ[near]], ix.occ_start[c.occ[near]], np.full(int(near.sum()), lab), _token_weights(c)[near]))
        ref, start, lab, wt = (np.concatenate(x) for x in zip(*parts))
        cuts.append(split_point(ref, start, lab, wt) if len(ref) else float(coarse.edges[run_list[k + 1][0]] - levels[k + 1]))

    # segment k covers audio [cut_{k-1}, cut_k); on the chat clock it starts at cut + its offset
    starts = np.array([chat_span[0]] + [g + levels[k + 1] for k, g in enumerate(cuts)])
    pieces = []
    for k, c in enumerate(per_run):
        audio_ok = np.ones(len(c), bool)
        if k > 0:
            audio_ok &= ix.occ_ref[c.occ] >= cuts[k - 1]
        if k < len(cuts):
            audio_ok &= ix.occ_ref[c.occ] < cuts[k]
        keep = audio_ok
        pieces.append((c.tok[keep], c.occ[keep], c.lag[keep], np.full(int(keep.sum()), k)))
    tok, occ, lag, seg = (np.concatenate(x) for x in zip(*pieces)) if pieces else (np.zeros(0, np.int64),) * 4
    t = ix.tok_t[tok]
    _, tok_pos = np.unique(tok, return_inverse=True)
    n_tok = int(tok_pos.max()) + 1 if len(tok) else 0
    n_seg = len(run_list)
    beta = np.array(levels + [0.0])
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
    for _ in range(8):
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
        beta = _l1_fit(t[keep], seg[keep], y[keep], resp[keep], starts, n_seg, drift=span_h >= 0.25, init=beta)
        starts[1:] = np.asarray(cuts) + beta[1:n_seg]  # offset(start) is the segment's offset_s
        d = np.maximum(r[keep] + m, 1e-3)
        sigma = float(np.clip(np.sqrt(np.sum(resp[keep] * (np.log(d) - np.log(m)) ** 2) / resp[keep].sum()), 0.2, 1.5))
    w = resp
    if inlier.sum() >= 3 and span_h >= 0.25:
        # the drift from a lower quantile of the lags: the early edge of the reaction delays is
        # sharper than their median (about half the variance for lognormal delays), and a slope
        # does not care which quantile it follows; the offsets are then the medians again
        d_q = _l1_fit(t[keep], seg[keep], y[keep], resp[keep], starts, n_seg, drift=True, init=beta, q=DRIFT_QUANTILE)[n_seg]
        beta = _l1_fit(t[keep], seg[keep], y[keep], resp[keep], starts, n_seg, drift=True, init=beta, fixed_drift=float(d_q))
        starts[1:] = np.asarray(cuts) + beta[1:n_seg]
    drift = float(beta[n_seg])
    ends = np.append(starts[1:], chat_span[1])
    # a segment's chat-clock end is where its audio ends (the cut), at its own offset
    ends[:-1] = [(g + beta[k] - drift * starts[k] / 3600.0) / (1.0 - drift / 3600.0) for k, g in enumerate(cuts)]
    curve = OffsetCurve(tuple(CurveSegment(float(starts[k]), float(ends[k]), float(beta[k]), drift) for k in range(n_seg)))
    anchors = Anchors(t, ix.occ_ref[occ], lag, w, seg, inlier & (w > 0.5), ix.tok_row[tok])
    return curve, anchors
