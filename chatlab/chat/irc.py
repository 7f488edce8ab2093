"""Raw Twitch IRC lines with tags, parsed column-wise with Polars regexes.

``@badge-info=;badges=broadcaster/1;display-name=Foo;emotes=25:0-4;id=<uuid>;tmi-sent-ts=<ms>;user-id=1
:foo!foo@foo.tmi.twitch.tv PRIVMSG #chan :text``. PRIVMSG is a message, USERNOTICE a system
notice (sub, raid) kept with msg_type ``notice``; CLEARMSG / CLEARCHAT are moderation
events that mark the messages they removed; other commands (JOIN, PING, 001, ...) are
counted as not-messages. A leading ``[timestamp]`` (client logs) is read when there are no tags.
"""

from __future__ import annotations

import polars as pl

LINE_RE = (
    r"^(?:\[(?P<pre>[0-9][^\]]*)\] )?(?:@(?P<tags>\S*) )?:(?P<prefix>\S+) (?P<cmd>[A-Z]+|\d{3})"
    r"(?: (?P<chan>[#&]?[^ :]\S*))?(?: :(?P<text>.*)| (?P<word>[^ :]\S*))?$"
)
MESSAGE_CMDS = ("PRIVMSG", "USERNOTICE")


def _tag(name: str) -> pl.Expr:
    return pl.col("tags").str.extract(rf"(?:^|;){name}=([^;]*)", 1)


def _unescape(e: pl.Expr) -> pl.Expr:
    # IRCv3 tag escaping
    return e.str.replace_all("\\s", " ", literal=True).str.replace_all("\\:", ";", literal=True).str.replace_all("\\\\", "\\", literal=True)


def _emotes(df: pl.DataFrame) -> pl.DataFrame:
    """The `emotes` tag (id:0-4,6-10/id2:12-16) as a list of {id, begin, end} per row."""
    e = df.select("row", pl.col("emotes_tag")).filter(pl.col("emotes_tag").str.len_chars() > 0)
    if e.height == 0:
        return df.with_columns(pl.lit([], dtype=pl.List(pl.Struct({"id": pl.String, "begin": pl.Int32, "end": pl.Int32}))).alias("emotes"))
    e = (
        e.with_columns(pl.col("emotes_tag").str.split("/"))
        .explode("emotes_tag")
        .with_columns(
            pl.col("emotes_tag").str.extract(r"^([^:]+):", 1).alias("id"),
            pl.col("emotes_tag").str.extract(r":(.*)$", 1).str.split(",").alias("rng"),
        )
        .explode("rng")
        .with_columns(
            pl.col("rng").str.extract(r"^(\d+)-", 1).cast(pl.Int32, strict=False).alias("begin"),
            (pl.col("rng").str.extract(r"-(\d+)$", 1).cast(pl.Int32, strict=False) + 1).alias("end"),
        )
        .filter(pl.col("begin").is_not_null())
        .sort("row", "begin")
        .group_by("row", maintain_order=True)
        .agg(pl.struct("id", "begin", "end").alias("emotes"))
    )
    return df.join(e, on="row", how="left").with_columns(pl.col("emotes").fill_null([]))


def parse_irc(lines: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame, dict[str, int]]:
    """lines: columns line, source_line. Returns (messages, moderation events, unmatched lines,
    counts of IRC commands that are not messages)."""
    df = lines.with_columns(pl.col("line").str.extract_groups(LINE_RE).alias("g")).unnest("g")
    # RFC 1459/2812: the last parameter needs its ':' only when it holds a space or starts with ':'
    # (one-word messages such as `PRIVMSG #chan forsenParty` come without it)
    df = df.with_columns(pl.coalesce("text", "word").alias("text")).drop("word")
    matched = df.filter(pl.col("prefix").is_not_null())
    rest = df.filter(pl.col("prefix").is_null()).select("line", "source_line")
    sent = _tag("tmi-sent-ts").cast(pl.Int64, strict=False)
    pre = pl.col("pre").str.to_datetime(time_zone="UTC", strict=False, time_unit="us")
    t_abs = pl.when(sent.is_not_null()).then(pl.from_epoch(sent, time_unit="ms").dt.replace_time_zone("UTC")).otherwise(pre)
    nick = pl.col("prefix").str.extract(r"^([^!@]+)", 1)
    msgs = matched.filter(pl.col("cmd").is_in(MESSAGE_CMDS)).with_row_index("row")
    text = pl.col("text").fill_null("")
    is_action = text.str.starts_with("\x01ACTION ")
    login = pl.when(pl.col("cmd") == "USERNOTICE").then(_tag("login")).otherwise(nick).str.to_lowercase()
    msgs = msgs.with_columns(
        _tag("id").alias("msg_id"),
        pl.lit(None, dtype=pl.Float64).alias("t_s"),
        t_abs.alias("t_abs"),
        pl.coalesce(_unescape(_tag("display-name")).replace("", None), login).alias("user"),
        login.alias("user_login"),
        _tag("user-id").alias("user_id"),
        _tag("badges").str.split(",").list.eval(pl.element().str.split("/").list.first()).list.eval(pl.element().filter(pl.element() != "")).alias("badges"),
        pl.when(pl.col("cmd") == "USERNOTICE")
        .then(pl.concat_str([_unescape(_tag("system-msg")).fill_null(""), text], separator=" ").str.strip_chars())
        .when(is_action)
        .then(text.str.strip_prefix("\x01ACTION ").str.strip_suffix("\x01"))
        .otherwise(text)
        .alias("text"),
        _tag("emotes").fill_null("").alias("emotes_tag"),
        _tag("bits").cast(pl.Int64, strict=False).fill_null(0).alias("bits"),
        pl.when(pl.col("cmd") == "USERNOTICE").then(pl.lit("notice")).when(is_action).then(pl.lit("action")).otherwise(pl.lit("chat")).alias("msg_type"),
    )
    msgs = _emotes(msgs).drop("row", "emotes_tag")
    mod = matched.filter(pl.col("cmd").is_in(("CLEARMSG", "CLEARCHAT"))).select(
        "cmd",
        _tag("target-msg-id").alias("target_msg_id"),
        pl.when(pl.col("cmd") == "CLEARCHAT").then(pl.col("text").str.to_lowercase()).otherwise(_tag("login").str.to_lowercase()).alias("target_login"),
        t_abs.alias("t_abs"),
    )
    other = matched.filter(~pl.col("cmd").is_in(MESSAGE_CMDS)).group_by("cmd").len()
    counts = {f"not_a_message_irc_{k}": int(v) for k, v in other.iter_rows()}
    return msgs, mod, rest, counts


def apply_moderation(msgs: pl.DataFrame, mod: pl.DataFrame, window_s: float = 600.0) -> pl.DataFrame:
    """Mark messages a moderator removed: CLEARMSG by id; CLEARCHAT (ban/timeout) of a user
    removes that user's messages of the last `window_s` seconds before the event."""
    moderated = pl.lit(False)
    if mod.height:
        ids = mod.filter(pl.col("target_msg_id").is_not_null())["target_msg_id"].unique()
        moderated = pl.col("msg_id").is_in(ids.implode())
        bans = mod.filter((pl.col("cmd") == "CLEARCHAT") & pl.col("target_login").is_not_null() & pl.col("t_abs").is_not_null())
        if bans.height:
            hit = (
                msgs.select("msg_idx", "user_login", "t_abs")
                .join(bans.select("target_login", pl.col("t_abs").alias("ban_t")), left_on="user_login", right_on="target_login")
                .filter((pl.col("t_abs") <= pl.col("ban_t")) & (pl.col("t_abs") > pl.col("ban_t") - pl.duration(seconds=window_s)))
                ["msg_idx"].unique()
            )
            moderated = moderated | pl.col("msg_idx").is_in(hit.implode())
    return msgs.with_columns(moderated.fill_null(False).alias("moderated"))
