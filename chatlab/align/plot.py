"""The offsets plot for the asset metadata: anchor lags and the fitted curve over chat time
(shaded: the chat around each cut that gets no pairs), and the coarse lag scores (anchors and
activity) summed over the VOD."""

from __future__ import annotations

import io

import numpy as np

from chatlab.align.estimate import Alignment


def offsets_png(al: Alignment, title: str = "") -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=(9, 6.5), dpi=80)
    grid = fig.add_gridspec(2, 2, height_ratios=(3, 2))
    a1, a2, a3 = fig.add_subplot(grid[0, :]), fig.add_subplot(grid[1, 0]), fig.add_subplot(grid[1, 1])
    if al.anchors is not None and len(al.anchors.t_chat):
        an = al.anchors
        n = len(an.t_chat)
        pick = np.linspace(0, n - 1, min(n, 20_000)).astype(np.int64)  # a readable, bounded scatter
        inl = an.inlier[pick]
        a1.scatter(an.t_chat[pick][~inl], an.lag[pick][~inl], s=2, c="0.75", label="candidates")
        a1.scatter(an.t_chat[pick][inl], an.lag[pick][inl], s=3, c="tab:blue", label="anchors")
    if al.curve is not None:
        for s in al.curve.segments:
            t = np.linspace(s.start_s, max(s.end_s, s.start_s + 1), 50)
            a1.plot(t, al.curve.offset(t), c="tab:red", lw=1.5)
            a1.plot(t, al.curve.offset(t) + (al.reaction_delay_s if np.isfinite(al.reaction_delay_s) else 0), c="tab:red", lw=0.8, ls="--")
        for s, info in zip(al.curve.segments, al.figures.get("segments", [])):  # each segment's own confidence
            mid = (s.start_s + s.end_s) / 2
            a1.annotate(f"conf {info['confidence']:.2f}, {info['anchors']} anchors", (mid, s.at(mid) + 18), fontsize=7, ha="center",
                        color="tab:red" if info["confidence"] < 0.5 else "0.3")
        for z0, z1 in al.curve.cut_zones():  # chat typed while removed audio played: no pairs
            a1.axvspan(z0, z1, color="tab:orange", alpha=0.2, lw=0)
        for z0, z1 in al.curve.doubtful_zones():  # a few echoes fit another offset: no pairs either
            a1.axvspan(z0, z1, color="tab:purple", alpha=0.15, lw=0)
        lo = min(s.offset_s for s in al.curve.segments)
        hi = max(s.offset_s for s in al.curve.segments)
        a1.set_ylim(lo - 10, hi + 25)
    a1.set_xlabel("chat clock (s)")
    a1.set_ylabel("lag = t_chat - sentence end (s)")
    a1.set_title(title or f"offset curve ({al.method}, confidence {al.confidence:.2f})")
    if al.coarse is not None:
        lags = al.coarse.lags
        h = al.coarse.global_hist()
        x = np.convolve(al.coarse.xcorr.mean(axis=0), np.ones(5) / 5, mode="same")  # over the reaction spread
        a2.plot(lags, h / max(h.max(), 1e-9), lw=0.8, label="echo lags")
        a2.plot(lags, x / max(np.abs(x).max(), 1e-9), lw=0.8, alpha=0.7, label="chat activity vs speech")
        a2.set_xlabel("lag (s)")
        a2.set_title("every lag searched", fontsize=9)
        a2.set_ylabel("score (normalised)")
        # each window's scores lined up on the lag found for it: the two signals should peak at 0
        half = 30
        rel = np.arange(-half, half + 1)
        rows = [(w, int(round(lag - lags[0]))) for w, lag in enumerate(al.coarse.lag)
                if np.isfinite(lag) and half <= round(lag - lags[0]) < len(lags) - half]
        if rows:
            hh = np.mean([al.coarse.hist[w, k - half : k + half + 1] for w, k in rows], axis=0)
            xx = np.mean([al.coarse.xcorr[w, k - half : k + half + 1] for w, k in rows], axis=0)
            a3.plot(rel, hh / max(hh.max(), 1e-9), lw=1.0, label="echo lags")
            a3.plot(rel, xx / max(np.abs(xx).max(), 1e-9), lw=1.0, label="chat activity vs speech")
            a3.axvline(0, c="0.5", lw=0.5)
        a3.set_xlabel("lag minus the window's lag (s)")
        a3.set_title(f"{len(rows)} windows lined up on their lag", fontsize=9)
        a3.legend(loc="upper right", fontsize=7)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()
