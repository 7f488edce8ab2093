"""What the chat export says about the offset, as a prior (never as the answer).

TwitchDownloader and the Twitch API name the VOD the chat belongs to and its length (`video.start`
and `video.end` in seconds, or `length`, or the API's `duration` such as "3h8m33s"). When the
recording is as long as that VOD, it is most likely that VOD, and the chat clock is its own clock:
what viewers typed lags the audio only by the stream latency (a few seconds). The estimate then
leans towards that shift where the echoes leave a choice (coarse.coarse_lags) and says how far it
ended from it; a recording of another length (a local capture, a trimmed upload) gets no prior.
Whole-second `content_offset_seconds` are refined from `created_at` by the chat reader itself
(chatlab.chat.twitchdownloader.refine_offsets, as TwitchDownloader's `--dispersion` does).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

LATENCY_S, LATENCY_SIGMA_S = 3.0, 3.0  # Twitch's stream latency: low-latency 2-5 s, normal up to ~10 s
DURATION_TOL_S = 2.0  # lengths this close (or within 0.1 %) are one recording


@dataclass(frozen=True)
class Prior:
    offset_s: float
    sigma_s: float
    source: str


def _seconds(value: Any) -> float | None:
    """Seconds from a number or a Twitch API duration ("3h8m33s", "45m2s", "59s")."""
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        m = re.fullmatch(r"(?:(\d+)h)?(?:(\d+)m)?(?:(\d+(?:\.\d+)?)s)?", value.strip())
        if m and any(m.groups()):
            h, mi, s = (float(x) if x else 0.0 for x in m.groups())
            return h * 3600 + mi * 60 + s
        try:
            return float(value)
        except ValueError:
            return None
    return None


def export_length_s(meta: dict[str, Any]) -> float | None:
    """The VOD's length as the export gives it (`video_start`/`video_end`, `video_length`, `video_duration`)."""
    start, end = _seconds(meta.get("video_start")), _seconds(meta.get("video_end"))
    if start is not None and end is not None and end > start:
        return end - start
    for k in ("video_length", "video_duration"):
        v = _seconds(meta.get(k))
        if v:
            return v
    return None


def prior_from_export(meta: dict[str, Any], recording_s: float | None) -> tuple[Prior | None, str]:
    """(prior, why): a prior at the stream latency when the recording is as long as the VOD the
    export names; None (and the reason) otherwise."""
    length = export_length_s(meta)
    if length is None:
        return None, "the export names no VOD length"
    if recording_s is None:
        return None, "the recording's length is unknown"
    if abs(length - recording_s) > max(DURATION_TOL_S, 0.001 * length):
        return None, f"the recording ({recording_s:.1f} s) is not the VOD the export names ({length:.1f} s)"
    return Prior(LATENCY_S, LATENCY_SIGMA_S, f"export VOD length {length:.1f} s matches the recording ({recording_s:.1f} s): "
                 f"chat on the VOD's clock, shift = stream latency"), "matched"
