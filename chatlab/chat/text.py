"""Plain text chat logs, parsed column-wise with Polars regexes.

- TwitchDownloader text export, relative: ``[h:mm:ss] user: msg`` (also ``[mm:ss]``, and chat-downloader's
  ``[-0:05] Some Name: msg`` before the stream starts);
- its UTC variants: ``[2024-05-01 18:00:05 UTC] user: msg`` (also ISO ``T``/``Z``/offsets);
- ``<unix_ts> <nick>: <text>`` lines (seconds or milliseconds).
A display name may carry the login in parentheses: ``名前 (login): msg``.
"""

from __future__ import annotations

import polars as pl

# A name may hold spaces, brackets and colons not followed by a space (YouTube: "Rianna :P: hi").
_USER = r"(?P<user>(?:[^:]|:[^ ])+?)(?: \((?P<login>[A-Za-z0-9_]+)\))?: (?P<text>.*)$"
REL_RE = r"^\[(?P<neg>-)?(?:(?P<h>\d+):)?(?P<m>\d{1,2}):(?P<s>\d{2}(?:\.\d+)?)\] " + _USER
ABS_RE = r"^\[(?P<ts>\d{4}-\d{2}-\d{2}[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)(?: ?(?P<tz>UTC|GMT|Z|[+-]\d{2}:?\d{2}))?\] " + _USER
UNIX_RE = r"^(?P<ts>\d{9,13}(?:\.\d+)?) (?P<user>[^\s:]+): (?P<text>.*)$"


def parse_text(lines: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """lines: columns line, source_line. Returns (messages in PARSED shape, unmatched lines)."""
    df = lines.with_columns(
        pl.col("line").str.extract_groups(REL_RE).alias("r"),
        pl.col("line").str.extract_groups(ABS_RE).alias("a"),
        pl.col("line").str.extract_groups(UNIX_RE).alias("u"),
    )
    r, a, u = pl.col("r").struct, pl.col("a").struct, pl.col("u").struct
    rel_t = r.field("h").cast(pl.Float64, strict=False).fill_null(0) * 3600 + r.field("m").cast(pl.Float64) * 60 + r.field("s").cast(pl.Float64)
    rel_t = pl.when(r.field("neg") == "-").then(-rel_t).otherwise(rel_t)  # chat-downloader: before the VOD starts
    tz = a.field("tz").fill_null("UTC").str.replace(r"^(UTC|GMT|Z)$", "+00:00").str.replace(r"^([+-]\d{2})(\d{2})$", "${1}:${2}")
    ts = a.field("ts").str.replace(" ", "T").str.replace(r"T(\d{1,2}:\d{2})$", "T${1}:00")
    abs_t = pl.concat_str([ts, tz]).str.to_datetime(format="%Y-%m-%dT%H:%M:%S%.f%:z", strict=False, time_unit="us").dt.convert_time_zone("UTC")
    unix = u.field("ts").cast(pl.Float64, strict=False)
    unix_t = pl.from_epoch((pl.when(unix > 1e11).then(unix * 1000).otherwise(unix * 1e6)).cast(pl.Int64), time_unit="us").dt.replace_time_zone("UTC")
    kind = pl.when(r.field("text").is_not_null()).then(pl.lit("rel")).when(a.field("text").is_not_null()).then(pl.lit("abs")).when(u.field("text").is_not_null()).then(pl.lit("unix"))
    df = df.with_columns(kind.alias("kind"))
    ok = df.filter(pl.col("kind").is_not_null())
    rest = df.filter(pl.col("kind").is_null()).select("line", "source_line")
    pick = lambda f: pl.coalesce(r.field(f), a.field(f), u.field(f) if f != "login" else pl.lit(None, pl.String))  # noqa: E731
    msgs = ok.select(
        pl.lit(None, dtype=pl.String).alias("msg_id"),
        pl.when(pl.col("kind") == "rel").then(rel_t).alias("t_s"),
        pl.when(pl.col("kind") == "abs").then(abs_t).when(pl.col("kind") == "unix").then(unix_t).alias("t_abs"),
        pick("user").str.strip_chars().alias("user"),
        pl.coalesce(pick("login"), pick("user").str.strip_chars()).str.to_lowercase().alias("user_login"),
        pick("text").alias("text"),
        pl.lit("chat").alias("msg_type"),
        "source_line",
    )
    return msgs, rest
