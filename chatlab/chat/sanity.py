"""`chat_sane`: is a VOD's chat usable? Pure function over the chat table and its rejects."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import polars as pl

TIME_SLACK_S = 60.0  # chat may run a little past the recording (latency, export rounding)


@dataclass
class Sanity:
    passed: bool
    problems: list[str] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)


def check(chat: pl.DataFrame | pl.LazyFrame, n_rejects: int, duration_s: float | None, max_reject_rate: float = 0.05,
          max_outside_rate: float = 0.02) -> Sanity:
    """Times present and sortable (out-of-order input reported), inside the VOD when its duration
    is known, duplicate ids reported, reject rate below the threshold. A LazyFrame (a chat bigger
    than memory) is read a few columns at a time."""
    lf = chat.lazy()
    t = pl.col("t_s")
    agg = lf.select(pl.len().alias("n"), t.null_count().alias("null_t"), t.min().alias("t_min"), t.max().alias("t_max"),
                    pl.col("msg_id").n_unique().alias("ids")).collect().row(0, named=True)
    n = int(agg["n"])
    total = n + n_rejects
    fig: dict[str, Any] = {"messages": n, "rejects": n_rejects}
    problems: list[str] = []
    fig["reject_rate"] = round(n_rejects / total, 4) if total else 0.0
    if total and fig["reject_rate"] > max_reject_rate:
        problems.append(f"reject rate {fig['reject_rate']:.1%} is above {max_reject_rate:.0%}")
    if n == 0:
        return Sanity(not problems, problems, fig)
    null_t = int(agg["null_t"])
    fig["times_missing"] = null_t
    if null_t:
        problems.append(f"{null_t} messages have no time")
    # order as the export listed them (source_index), not as the table is sorted
    by_src = lf.select("source_index", "t_s").collect().sort("source_index", nulls_last=True)["t_s"].drop_nulls()
    fig["out_of_order_in_export"] = int((by_src.diff() < 0).sum()) if by_src.len() > 1 else 0
    del by_src
    fig["duplicate_msg_ids"] = int(n - agg["ids"])
    fig["t_min_s"] = float(agg["t_min"])
    fig["t_max_s"] = float(agg["t_max"])
    if duration_s:
        outside = int(lf.select(((t < -TIME_SLACK_S) | (t > duration_s + TIME_SLACK_S)).sum()).collect().item())
        fig["outside_vod"] = outside
        fig["vod_duration_s"] = round(float(duration_s), 3)
        if outside / n > max_outside_rate:
            problems.append(f"{outside} of {n} messages lie outside the VOD (0..{duration_s:.0f} s ± {TIME_SLACK_S:.0f} s): wrong start time?")
    return Sanity(not problems, problems, fig)
