"""TwitchDownloader JSON (every format generation) and the Twitch v5/API comment shape.

Both keep comments as ``{_id, created_at, content_offset_seconds, commenter{display_name,
_id, name}, message{body, bits_spent, fragments, user_badges, emoticons, user_notice_params,
is_action}}``. Old v1 files have no ``FileInfo`` and a top-level ``emotes``; new ones have
``FileInfo``, ``streamer``, ``video{created_at,start,end,chapters}``, ``embeddedData``. The
records are read by DuckDB from the NDJSON that ``jsonstream`` cut out of the file.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import polars as pl

COLUMNS = {
    "_id": "VARCHAR",
    "created_at": "VARCHAR",
    "content_offset_seconds": "DOUBLE",
    "commenter": "STRUCT(display_name VARCHAR, _id VARCHAR, name VARCHAR)",
    "message": (
        "STRUCT(body VARCHAR, bits_spent BIGINT, is_action BOOLEAN,"
        " fragments STRUCT(text VARCHAR, emoticon STRUCT(emoticon_id VARCHAR))[],"
        " user_badges STRUCT(_id VARCHAR, version VARCHAR)[],"
        # TwitchDownloader's early exports (Newtonsoft, as the Twitch v5 API) spell the key "msg-id",
        # later ones "msg_id": both mark a system notice (sub, resub, raid).
        ' user_notice_params STRUCT(msg_id VARCHAR, "msg-id" VARCHAR),'
        ' emoticons STRUCT(_id VARCHAR, "begin" BIGINT, "end" BIGINT)[])'
    ),
}

# Emote spans: the export's own (end inclusive) or, when absent, rebuilt from the fragments.
SELECT = """
SELECT _id AS msg_id,
       content_offset_seconds AS t_s,
       TRY_CAST(created_at AS TIMESTAMPTZ) AS t_abs,
       commenter.display_name AS "user",
       lower(commenter.name) AS user_login,
       commenter._id AS user_id,
       list_transform(message.user_badges, lambda b: b._id) AS badges,
       coalesce(message.body, CASE WHEN len(message.fragments) > 0 THEN array_to_string(list_transform(message.fragments, lambda f: f.text), '') END) AS text,
       CASE WHEN len(message.emoticons) > 0
            THEN list_transform(message.emoticons, lambda e: {{'id': e._id, 'begin': e."begin", 'end': e."end" + 1}})
            ELSE list_filter(list_transform(message.fragments, lambda f, i:
                   CASE WHEN f.emoticon.emoticon_id IS NOT NULL THEN {{
                     'id': f.emoticon.emoticon_id,
                     'begin': length(array_to_string(list_transform(message.fragments[1:i-1], lambda g: g.text), '')),
                     'end': length(array_to_string(list_transform(message.fragments[1:i], lambda g: g.text), ''))}} END),
                 lambda x: x IS NOT NULL)
       END AS emotes,
       message.bits_spent AS bits,
       CASE WHEN coalesce(message.user_notice_params.msg_id, message.user_notice_params."msg-id") IS NOT NULL THEN 'notice'
            WHEN message.is_action THEN 'action' ELSE 'chat' END AS msg_type
FROM {src}
"""


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value or value.startswith("0001-"):
        return None
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)


def export_meta(meta: dict[str, Any]) -> dict[str, Any]:
    """What the file says about itself: version, channel, VOD id and start time."""
    out: dict[str, Any] = {}
    fi = meta.get("FileInfo") or {}
    v = fi.get("Version") if isinstance(fi, dict) else None
    if isinstance(v, dict):
        out["export_version"] = f"{v.get('Major')}.{v.get('Minor')}.{v.get('Patch')}"
    elif meta:
        out["export_version"] = "1 (no FileInfo)"
    streamer = meta.get("streamer") or {}
    if isinstance(streamer, dict) and streamer.get("name"):
        out["channel"] = streamer.get("name")
    video = meta.get("video") or {}
    if isinstance(video, dict):
        if video.get("id"):
            out["video_id"] = str(video.get("id"))
        start = _parse_time(video.get("created_at"))
        if start is not None:
            out["start_time"] = start
        for k in ("start", "end", "length", "duration"):
            if video.get(k) is not None:
                out[f"video_{k}"] = video.get(k)
    return out


def refine_offsets(df: pl.DataFrame, export_start: datetime | None = None) -> tuple[pl.DataFrame, bool]:
    """New exports round content_offset_seconds down to whole seconds; created_at - (video start)
    gives the fraction. The start is estimated from the rows themselves and a refined time
    is used only where it stays inside [offset, offset + 1), so cuts in the VOD are safe."""
    ok = df.filter(pl.col("t_s").is_not_null() & pl.col("t_abs").is_not_null())
    if ok.height < 2 or not (ok["t_s"] == ok["t_s"].round(0)).all():
        return df, False
    base = ok.select((pl.col("t_abs").dt.epoch("us") / 1e6 - pl.col("t_s")).alias("b"))["b"]
    start = float(base.min() or 0.0)  # created_at - floor(offset) lies in [start, start + 1): the least is closest
    if export_start is not None:
        # the export's video.created_at, when (nearly) every row agrees with it, beats an estimate from few rows
        v = export_start.timestamp()
        if ((base >= v - 1e-3) & (base < v + 1.0)).mean() >= 0.95:
            start = v
    refined = pl.col("t_abs").dt.epoch("us") / 1e6 - start
    inside = (refined >= pl.col("t_s")) & (refined < pl.col("t_s") + 1.0)
    out = df.with_columns(pl.when(inside.fill_null(False)).then(refined.round(3)).otherwise(pl.col("t_s")).alias("t_s"))
    return out, True
