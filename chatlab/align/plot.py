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

    fig, (a1, a2) = plt.subplots(2, 1, figsize=(8, 6), dpi=80)
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
        for z0, z1 in al.curve.cut_zones():  # chat typed while removed audio played: no pairs
            a1.axvspan(z0, z1, color="tab:orange", alpha=0.2, lw=0)
        lo = min(s.offset_s for s in al.curve.segments)
        hi = max(s.offset_s for s in al.curve.segments)
        a1.set_ylim(lo - 10, hi + 25)
    a1.set_xlabel("chat clock (s)")
    a1.set_ylabel("lag = t_chat - sentence end (s)")
    a1.set_title(title or f"offset curve ({al.method}, confidence {al.confidence:.2f})")
    if al.coarse is not None:
        h = al.coarse.global_hist()
        x = al.coarse.xcorr.mean(axis=0)
        a2.plot(al.coarse.lags, h / max(h.max(), 1e-9), lw=0.8, label="anchor lags")
        a2.plot(al.coarse.lags, x / max(np.abs(x).max(), 1e-9), lw=0.8, alpha=0.7, label="activity xcorr")
        a2.legend(loc="upper right", fontsize=8)
    a2.set_xlabel("lag (s)")
    a2.set_ylabel("score (normalised)")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()
