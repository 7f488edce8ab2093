"""The evaluation's pictures (PNG): ranking curve, length histogram, discriminator accuracy."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def ranking_curve(curves: dict[str, dict[str, list[float]]], path: Path) -> Path:
    """recall@k against k, one line per system, PMI (solid) and raw likelihood (dashed)."""
    plt = _plt()
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4), dpi=100, sharey=True)
    for ax, how in zip(axes, ("pmi", "raw")):
        for name, c in curves.items():
            if c.get(how):
                ax.plot(range(1, len(c[how]) + 1), c[how], label=name, lw=2 if name == "adapter" else 1)
        ax.set_xscale("log")
        ax.set_xlabel("k (of the candidates)")
        ax.set_title(f"recall@k, {how} score")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("recall@k")
    axes[1].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, format="png")
    plt.close(fig)
    return path


def length_histogram(lengths: dict[str, list[int]], path: Path) -> Path:
    """Words per message: real chat against each system's generations."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 3.4), dpi=100)
    top = max([max(v) for v in lengths.values() if v] + [1])
    bins = list(range(0, min(top, 40) + 2))
    for name, v in lengths.items():
        if v:
            ax.hist([min(x, 40) for x in v], bins=bins, histtype="step", lw=2.5 if name in ("real", "adapter") else 1, label=name)
    ax.set_xlabel("words per message (40+ in the last bin)")
    ax.set_ylabel("messages")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, format="png")
    plt.close(fig)
    return path


def discriminator_bars(disc: dict[str, dict[str, dict[str, Any]]], path: Path, limit: float | None = None) -> Path:
    """Cross-validated accuracy (and its 95% interval) of each classifier, per system."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.5, 3.4), dpi=100)
    names = list(disc)
    kinds = ["embedding", "bag_of_words"]
    w = 0.38
    for j, kind in enumerate(kinds):
        acc = [disc[n][kind]["accuracy"] for n in names]
        lo = [a - disc[n][kind]["ci_low"] for a, n in zip(acc, names)]
        hi = [disc[n][kind]["ci_high"] - a for a, n in zip(acc, names)]
        ax.bar([i + (j - 0.5) * w for i in range(len(names))], acc, w, yerr=[lo, hi], capsize=3, label=kind)
    ax.axhline(0.5, color="grey", ls=":", lw=1, label="chance")
    if limit is not None:
        ax.axhline(limit, color="red", ls="--", lw=1, label=f"check limit {limit}")
    ax.set_xticks(range(len(names)), names, fontsize=8, rotation=15)
    ax.set_ylim(0, 1)
    ax.set_ylabel("real-or-generated accuracy")
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, format="png")
    plt.close(fig)
    return path
