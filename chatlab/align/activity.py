"""Activity cross-correlation: the chat's message rate against the transcript's sentence ends.

Chat gets busy a few seconds after the streamer finishes a sentence, so the rate of messages on
the chat clock, correlated against the sentence ends on the audio clock, peaks near
`offset + reaction`. It needs no shared words (any language, emote-only chats) but is weaker
than lexical anchors; it is computed per window of the chat clock, so cuts show up as jumps.
"""

from __future__ import annotations

import numpy as np

BIN_S = 1.0


def _series(t: np.ndarray, t0: float, n: int) -> np.ndarray:
    idx = np.floor((t - t0) / BIN_S).astype(np.int64)
    idx = idx[(idx >= 0) & (idx < n)]
    return np.bincount(idx, minlength=n).astype(np.float64)


def xcorr_windows(chat_t: np.ndarray, speech_t: np.ndarray, edges: np.ndarray, lags: np.ndarray) -> np.ndarray:
    """[window, lag] correlation of each chat-clock window's message rate with the speech events
    (z-scored over the lags, so windows compare); zeros where a window has no chat or no speech."""
    out = np.zeros((len(edges) - 1, len(lags)))
    if len(chat_t) == 0 or len(speech_t) == 0:
        return out
    s0 = float(np.floor(speech_t.min())) - 1.0
    ns = int(np.ceil((speech_t.max() - s0) / BIN_S)) + 2
    x = _series(speech_t, s0, ns)
    x -= x.mean()
    c0 = float(np.floor(chat_t.min()))
    nc = int(np.ceil((chat_t.max() - c0) / BIN_S)) + 2
    y_all = _series(chat_t, c0, nc)
    n = 1 << int(np.ceil(np.log2(nc + ns + 1)))
    fx = np.conj(np.fft.rfft(x, n))
    # lag L = (c0 + i) - (s0 + j): entry k = i - j of the circular correlation
    k = np.round((lags - (c0 - s0)) / BIN_S).astype(np.int64)
    valid = (k > -ns) & (k < nc)
    for w in range(len(edges) - 1):
        a = int(max(0, np.floor((edges[w] - c0) / BIN_S)))
        b = int(min(nc, np.ceil((edges[w + 1] - c0) / BIN_S)))
        if b <= a:
            continue
        y = np.zeros(nc)
        y[a:b] = y_all[a:b]
        if not y.any():
            continue
        c = np.fft.irfft(np.fft.rfft(y, n) * fx, n)
        row = np.where(valid, c[k % n], 0.0)
        sd = row.std()
        out[w] = (row - row.mean()) / sd if sd > 0 else 0.0
    return out
