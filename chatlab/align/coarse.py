"""Coarse lag per window of the chat clock, over the whole search range (+-max_lag_s).

For each window, the lags of all candidate anchors go into 1-s bins (smoothed over the spread
of reaction delays); the peak, when it stands out of the chance level, is the window's lag
(`offset + typical reaction`). A window without such a peak falls back on the activity
cross-correlation, then on its neighbours. Consecutive windows at the same lag form a run;
a jump between runs is a cut.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from chatlab.align.activity import xcorr_windows
from chatlab.align.anchors import TokenIndex, candidates
from chatlab.align.config import AlignConfig

SMOOTH_BINS = 5  # about the spread of reaction delays around their mode
MIN_Z = 8.0  # peak significance (Poisson z) that counts as found
RUN_MIN_Z = 14.0  # a run of one window must stand out more: a lone peak is more likely chance
MAX_COARSE_TOKENS = 60_000  # a sample is plenty to find the lag, and keeps the pairs bounded


@dataclass(frozen=True)
class Coarse:
    edges: np.ndarray  # window edges on the chat clock
    lags: np.ndarray  # lag bin centres
    hist: np.ndarray  # [window, lag] smoothed candidate counts
    xcorr: np.ndarray  # [window, lag] activity correlation (z)
    lag: np.ndarray  # chosen lag per window (nan: nothing found)
    z: np.ndarray  # its significance
    source: list[str]  # "anchors" | "activity" | "neighbour" | "none"
    pairs_per_token_s: float  # chance density of candidate pairs (per token, per second of lag)
    prior_moved: tuple = ()  # per window the prior changed: its lag with the prior minus without

    def global_hist(self) -> np.ndarray:
        return self.hist.sum(axis=0)


def _smooth(h: np.ndarray) -> np.ndarray:
    c = np.cumsum(np.pad(h, ((0, 0), (SMOOTH_BINS, 0))), axis=1)
    return c[:, SMOOTH_BINS:] - c[:, :-SMOOTH_BINS]


def _peak_z(row: np.ndarray, n_pairs: float) -> tuple[int, float]:
    k = int(np.argmax(row))
    b = SMOOTH_BINS * n_pairs / max(len(row), 1)
    return k, float((row[k] - b) / np.sqrt(b + 1.0))


def _peak_with_prior(row: np.ndarray, n_pairs: float, lags: np.ndarray, prior, m: float) -> tuple[int, float]:
    """The peak that is most likely once the prior is counted, among the window's separate peaks
    that stand out (MIN_Z): each scored by its evidence (z^2 / 2, a log-likelihood ratio) plus a
    robust log-prior (a normal around the prior's shift, mixed half and half with a flat one over
    the search range), so a prior adds at most a few nats: it chooses between peaks the echoes
    support about equally, and never overrules a clear one."""
    b = SMOOTH_BINS * n_pairs / max(len(row), 1)
    z = (row - b) / np.sqrt(b + 1.0)
    centre = (SMOOTH_BINS - 1) / 2.0
    pad = np.pad(row, SMOOTH_BINS, constant_values=-np.inf)
    local = np.all([row >= pad[SMOOTH_BINS + d : SMOOTH_BINS + d + len(row)] for d in range(-SMOOTH_BINS, SMOOTH_BINS + 1) if d], axis=0)
    peaks = np.flatnonzero(local & (z >= MIN_Z))
    if len(peaks) == 0:
        return _peak_z(row, n_pairs)
    x = lags[peaks] - centre - m - prior.offset_s
    normal = np.exp(-0.5 * (x / prior.sigma_s) ** 2) / (prior.sigma_s * np.sqrt(2 * np.pi))
    score = z[peaks] ** 2 / 2 + np.log(0.5 * normal + 0.5 / (lags[-1] - lags[0]))
    k = int(peaks[np.argmax(score)])
    return k, float(z[k])


def coarse_lags(ix: TokenIndex, chat_t: np.ndarray, speech_events: np.ndarray, cfg: AlignConfig, prior=None) -> Coarse:
    """prior (chatlab.align.prior.Prior, or None): leans each window's choice among its peaks."""
    lo, hi = float(np.min(chat_t)), float(np.max(chat_t))
    n_w = max(1, int(np.ceil((hi - lo) / cfg.window_s)))
    edges = np.linspace(lo, hi + 1e-6, n_w + 1)
    lag_lo, lag_hi = -cfg.max_lag_s, cfg.max_lag_s + cfg.reaction_max_s
    lags = np.arange(lag_lo, lag_hi + 1.0, 1.0)
    n_l = len(lags)
    sel = np.arange(len(ix.tok_row))
    if len(sel) > MAX_COARSE_TOKENS:
        sel = sel[np.linspace(0, len(sel) - 1, MAX_COARSE_TOKENS).astype(np.int64)]
    c = candidates(ix, lag_lo, lag_hi, sel)
    w = np.clip(np.searchsorted(edges, ix.tok_t[c.tok], side="right") - 1, 0, n_w - 1)
    b = np.clip(np.round(c.lag - lag_lo).astype(np.int64), 0, n_l - 1)
    raw = np.bincount(w * n_l + b, minlength=n_w * n_l).reshape(n_w, n_l).astype(np.float64)
    hist = _smooth(raw)
    # the peak bin of a box-smoothed histogram sits at the band's upper edge: report its centre
    centre = (SMOOTH_BINS - 1) / 2.0
    xc = xcorr_windows(chat_t, speech_events, edges, lags)
    lag = np.full(n_w, np.nan)
    z = np.zeros(n_w)
    source = ["none"] * n_w
    moved = []
    for i in range(n_w):
        k, zi = _peak_z(hist[i], raw[i].sum())
        if prior is not None and zi >= MIN_Z:
            kp, zp = _peak_with_prior(hist[i], raw[i].sum(), lags, prior, cfg.reaction_median_s)
            if kp != k:
                moved.append(float(lags[kp] - lags[k]))
            k, zi = kp, zp
        if zi >= MIN_Z:
            lag[i], z[i], source[i] = lags[k] - centre, zi, "anchors"
            continue
        kx = int(np.argmax(xc[i]))
        if xc[i, kx] >= MIN_Z:
            lag[i], z[i], source[i] = lags[kx], float(xc[i, kx]), "activity"
    found = np.flatnonzero(~np.isnan(lag))
    if len(found) == 0:  # no window alone: the whole VOD together (a sparse chat)
        k, zi = _peak_z(hist.sum(axis=0)[None, :][0], raw.sum())
        if zi >= MIN_Z:
            lag[:], z[:], source = lags[k] - centre, zi, ["anchors"] * n_w
    elif len(found) < n_w:
        for i in np.flatnonzero(np.isnan(lag)):
            j = found[np.argmin(np.abs(found - i))]
            lag[i], source[i] = lag[j], "neighbour"
    density = len(c) / max(len(sel), 1) / (lag_hi - lag_lo)
    return Coarse(edges, lags, hist, xc, lag, z, source, density, moved)


def runs(coarse: Coarse, min_jump_s: float) -> list[tuple[int, int]]:
    """[first, last] window index of each run of windows at one lag (drift moves it slowly)."""
    idx = [i for i in range(len(coarse.lag)) if not np.isnan(coarse.lag[i])]
    out: list[list[int]] = []
    for i in idx:
        if out and abs(coarse.lag[i] - coarse.lag[out[-1][1]]) <= min_jump_s:
            out[-1][1] = i
        else:
            out.append([i, i])
    kept = [r for r in out if r[1] > r[0] or coarse.z[r[0]] >= RUN_MIN_Z or len(out) == 1]
    return [(a, b) for a, b in kept] if kept else [(a, b) for a, b in out]
