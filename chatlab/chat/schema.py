"""The normalized chat schema: one column order for every format, so tables stay stable.

Every parser produces the *intermediate* columns (``PARSED``); ``finalize`` derives the
rest (roles, flags, source columns) the same way for all formats.
"""

from __future__ import annotations

import polars as pl

EMOTE = pl.Struct({"id": pl.String, "begin": pl.Int32, "end": pl.Int32})  # char offsets in text, end exclusive

# What a family parser returns (before roles/flags are derived).
PARSED: dict[str, pl.DataType] = {
    "msg_id": pl.String,
    "t_s": pl.Float64,  # seconds from VOD start, when the format says so (else null until resolved)
    "t_abs": pl.Datetime("us", "UTC"),  # wall-clock time, when the format has it
    "user": pl.String,  # display name
    "user_login": pl.String,
    "user_id": pl.String,
    "badges": pl.List(pl.String),  # badge set names: subscriber, moderator, ...
    "text": pl.String,
    "emotes": pl.List(EMOTE),
    "bits": pl.Int64,
    "msg_type": pl.String,  # chat | action | notice
    "moderated": pl.Boolean,  # removed by a moderator (IRC CLEARMSG / CLEARCHAT)
    "source_line": pl.Int64,  # 1-based line in the (decompressed) file, for line formats
    "source_index": pl.Int64,  # 0-based record index
}

# The `chat` table without vod_id (the Dagster layer puts vod_id first).
MESSAGE: dict[str, pl.DataType] = {
    "msg_id": pl.String,
    "t_s": pl.Float64,
    "t_abs": pl.Datetime("us", "UTC"),
    "user": pl.String,
    "user_login": pl.String,
    "user_id": pl.String,
    "user_hash": pl.String,
    "badges": pl.List(pl.String),
    "is_broadcaster": pl.Boolean,
    "is_moderator": pl.Boolean,
    "is_subscriber": pl.Boolean,
    "is_vip": pl.Boolean,
    "is_bot": pl.Boolean,
    "is_command": pl.Boolean,
    "text": pl.String,
    "emotes": pl.List(EMOTE),
    "emote_only": pl.Boolean,
    "bits": pl.Int64,
    "msg_type": pl.String,
    "moderated": pl.Boolean,
    "source_format": pl.String,
    "source_file": pl.String,
    "source_line": pl.Int64,
    "source_index": pl.Int64,
}

REJECT: dict[str, pl.DataType] = {
    "source_file": pl.String,
    "source_format": pl.String,
    "source_line": pl.Int64,
    "source_index": pl.Int64,
    "byte_offset": pl.Int64,
    "reason": pl.String,
    "raw": pl.String,  # the record as read, cut at RAW_MAX characters
}

RAW_MAX = 2000

# Known chat bots (lower-case logins); settings add more.
KNOWN_BOTS = frozenset(
    """nightbot streamelements streamlabs moobot fossabot wizebot deepbot phantombot botisimo
    coebot ankhbot stay_hydrated_bot sery_bot pretzelrocks soundalerts commanderroot anotherttvviewer
    streamholics lurxx own3d kofistreambot blerp tangiabot songlistbot creatisbot restreambot
    streamstickers frostytoolsdotcom""".split()
)


def empty(columns: dict[str, pl.DataType]) -> pl.DataFrame:
    return pl.DataFrame(schema=columns)


def conform(df: pl.DataFrame, columns: dict[str, pl.DataType]) -> pl.DataFrame:
    """Exactly these columns, in this order, with these dtypes (missing ones null)."""
    if df.width == 0 or df.height == 0 and not set(df.columns) & set(columns):
        return empty(columns)  # a select of literals alone would make one row
    exprs = []
    for name, dtype in columns.items():
        if name in df.columns:
            exprs.append(pl.col(name).cast(dtype))
        else:
            exprs.append(pl.lit(None, dtype=dtype).alias(name))
    return df.select(exprs)


def rejects_frame(rows: list[dict]) -> pl.DataFrame:
    """Reject rows (dicts with any REJECT keys) as a frame; raw text cut to RAW_MAX."""
    if not rows:
        return empty(REJECT)
    fixed = []
    for r in rows:
        raw = r.get("raw")
        if isinstance(raw, (bytes, bytearray)):
            raw = bytes(raw[: RAW_MAX * 4]).decode("utf-8", "replace")
        if raw is not None and len(raw) > RAW_MAX:
            raw = raw[:RAW_MAX] + f"…[{len(raw) - RAW_MAX} more chars]"
        fixed.append({k: (raw if k == "raw" else r.get(k)) for k in REJECT})
    return pl.DataFrame(fixed, schema=REJECT)
