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


def check(chat: pl.DataFrame, n_rejects: int, duration_s: float | None, max_reject_rate: float = 0.05, max_outside_rate: float = 0.02) -> Sanity:
    """Times present and sortable (out-of-order input reported), inside the VOD when its duration
    is known, duplicate ids reported, reject rate below the threshold."""
    n = chat.height
    total = n + n_rejects
    fig: dict[str, Any] = {"messages": n, "rejects": n_rejects}
    problems: list[str] = []
    fig["reject_rate"] = round(n_rejects / total, 4) if total else 0.0
    if total and fig["reject_rate"] > max_reject_rate:
        problems.append(f"reject rate {fig['reject_rate']:.1%} is above {max_reject_rate:.0%}")
    if n == 0:
        return Sanity(not problems, problems, fig)
    null_t = int(chat["t_s"].null_count())
    fig["times_missing"] = null_t
    if null_t:
        problems.append(f"{null_t} messages have no time")
    # order as the export listed them (source_index), not as the table is sorted
    by_src = chat.sort("source_index", nulls_last=True)["t_s"].drop_nulls()
    fig["out_of_order_in_export"] = int((by_src.diff() < 0).sum()) if by_src.len() > 1 else 0
    fig["duplicate_msg_ids"] = int(n - chat["msg_id"].n_unique())
    fig["t_min_s"] = float(chat["t_s"].min())
    fig["t_max_s"] = float(chat["t_s"].max())
    if duration_s:
        outside = int(((chat["t_s"] < -TIME_SLACK_S) | (chat["t_s"] > duration_s + TIME_SLACK_S)).sum())
        fig["outside_vod"] = outside
        fig["vod_duration_s"] = round(float(duration_s), 3)
        if outside / n > max_outside_rate:
            problems.append(f"{outside} of {n} messages lie outside the VOD (0..{duration_s:.0f} s ± {TIME_SLACK_S:.0f} s): wrong start time?")
    return Sanity(not problems, problems, fig)
