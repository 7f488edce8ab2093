"""Cleaning as columns, not deletion: each message gets ``drop_rule`` (null when kept).

Rules run in a fixed order and a message carries the first rule that drops it; the caps
(emote spam, bursts, copypasta, per-user rate) count only messages still kept by the
rules before them, so a bot's spam does not use up a viewer's quota. A cap keeps the
first ``max`` messages of a group inside any ``window_s`` and drops the rest: a message is
dropped when its group already has ``max`` messages in the ``window_s`` seconds before it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np
import polars as pl

from chatlab.chat.schema import KNOWN_BOTS
from chatlab.slurs import SLURS

RULES = (
    "duplicate",  # the same msg_id twice (overlapping exports)
    "bot",  # known bots + configured
    "moderated",  # removed by a moderator
    "notice",  # system notices (subs, raids), not something a viewer typed
    "command",  # !commands
    "empty",  # nothing but whitespace
    "too_long",  # longer than max_chars (walls of text, pasted logs)
    "blocklist",  # profanity / toxicity screen (configurable word list)
    "emote_spam",  # emote-only messages over the cap per window (all users together)
    "burst",  # identical messages over the cap per window
    "copypasta",  # long messages repeated over the cap in the whole VOD
    "rate_limit",  # one user over the cap per window
)

# Slurs and self-harm taunts (chatlab.slurs, shared with the generation guardrails); `[chat.clean]
# blocklist` and `blocklist_extra` add to them, as `[train] banned_words` does.
DEFAULT_BLOCKLIST = SLURS


@dataclass(frozen=True)
class CleanConfig:
    bots: frozenset[str] = KNOWN_BOTS
    emote_only_max: int = 3
    emote_only_window_s: float = 10.0
    burst_max: int = 2
    burst_window_s: float = 20.0
    copypasta_min_chars: int = 60
    copypasta_max: int = 1
    user_max: int = 4
    user_window_s: float = 30.0
    max_chars: int = 500
    blocklist: tuple[str, ...] = DEFAULT_BLOCKLIST
    drop_notices: bool = True

    @classmethod
    def from_settings(cls, section: dict[str, Any]) -> "CleanConfig":
        """From the `[chat.clean]` settings: any field by name; `bots_extra` and `blocklist_extra` add to the defaults."""
        from chatlab.settings import values as checked  # keys and types (chatlab.settings: the whole [chat.clean])

        section = checked("chat.clean", section)
        kw: dict[str, Any] = {k: v for k, v in section.items() if k in {f.name for f in fields(cls)}}
        if "bots" in kw:
            kw["bots"] = frozenset(b.lower() for b in kw["bots"])
        if "blocklist" in kw:  # adds, never replaces: a setting cannot drop the slurs silently
            kw["blocklist"] = DEFAULT_BLOCKLIST + tuple(w for w in kw["blocklist"] if w not in DEFAULT_BLOCKLIST)
        cfg = cls(**kw)
        if section.get("bots_extra"):
            cfg = cls(**{**cfg.__dict__, "bots": cfg.bots | {b.lower() for b in section["bots_extra"]}})
        if section.get("blocklist_extra"):
            cfg = cls(**{**cfg.__dict__, "blocklist": cfg.blocklist + tuple(section["blocklist_extra"])})
        return cfg


def normalized(text: pl.Expr) -> pl.Expr:
    """The text as repeats are compared: case and spacing ignored (Rust regex has no backreferences)."""
    return text.str.to_lowercase().str.replace_all(r"\s+", " ").str.strip_chars()


def _blocklist_expr(words: tuple[str, ...]) -> pl.Expr:
    if not words:
        return pl.lit(False)
    import re

    alt = "|".join(re.escape(w.lower()) for w in words)
    # Aho-Corasick first (cheap), the word-boundary regex only where a word occurs at all
    maybe = pl.col("text").str.contains_any(list(words), ascii_case_insensitive=True)
    return maybe & pl.col("text").str.to_lowercase().str.contains(rf"(?:^|\W)(?:{alt})(?:$|\W)")


def _over_cap(groups: np.ndarray, t: np.ndarray, max_n: int, window_s: float | None) -> np.ndarray:
    """True where a message's group already has max_n messages in the window before it."""
    n = len(t)
    if n == 0:
        return np.zeros(0, bool)
    order = np.lexsort((np.arange(n), t, groups))
    g, ts = groups[order], t[order]
    idx = np.arange(n)
    first_of_group = np.searchsorted(g, g, side="left")
    if window_s is None:
        left = first_of_group
    else:
        span = float(np.nanmax(t) - np.nanmin(t)) + 2 * window_s + 1.0
        comp = g.astype(np.float64) * span + (ts - np.nanmin(t))
        left = np.maximum(np.searchsorted(comp, comp - window_s, side="right"), first_of_group)
    over = np.zeros(n, bool)
    over[order] = (idx - left) >= max_n
    return over


def clean(msgs: pl.DataFrame, cfg: CleanConfig | None = None) -> pl.DataFrame:
    """msgs (the chat table) with `drop_rule` (first rule that drops it, null if kept) and `keep`."""
    cfg = cfg or CleanConfig()
    if msgs.height == 0:
        return msgs.with_columns(pl.lit(None, pl.String).alias("drop_rule"), pl.lit(None, pl.Boolean).alias("keep"))
    df = msgs.with_columns(normalized(pl.col("text")).alias("_norm"))
    login = pl.col("user_login").fill_null(pl.col("user").str.to_lowercase())
    simple = [
        ("duplicate", ~pl.col("msg_id").is_first_distinct()),
        ("bot", login.is_in(sorted(cfg.bots)) | pl.col("is_bot")),
        ("moderated", pl.col("moderated")),
        ("notice", (pl.col("msg_type") == "notice") & pl.lit(cfg.drop_notices)),
        ("command", pl.col("is_command")),
        ("empty", pl.col("text").str.strip_chars() == ""),
        ("too_long", pl.col("text").str.len_chars() > cfg.max_chars),
        ("blocklist", _blocklist_expr(cfg.blocklist)),
    ]
    rule = pl.lit(None, pl.String)
    for name, cond in reversed(simple):
        rule = pl.when(cond.fill_null(False)).then(pl.lit(name)).otherwise(rule)
    df = df.with_columns(rule.alias("drop_rule"))

    t = df["t_s"].fill_null(0.0).to_numpy()
    caps = [
        ("emote_spam", pl.col("emote_only").fill_null(False), pl.lit(0), cfg.emote_only_max, cfg.emote_only_window_s),
        ("burst", pl.lit(True), pl.col("_norm"), cfg.burst_max, cfg.burst_window_s),
        ("copypasta", pl.col("_norm").str.len_chars() >= cfg.copypasta_min_chars, pl.col("_norm"), cfg.copypasta_max, None),
        ("rate_limit", pl.lit(True), login, cfg.user_max, cfg.user_window_s),
    ]
    for name, applies, group, max_n, window in caps:
        sub = df.select(
            (pl.col("drop_rule").is_null() & applies).alias("a"),
            # equal groups get equal small codes (categorical codes: hashing, no sort)
            group.cast(pl.String).fill_null("").cast(pl.Categorical).to_physical().cast(pl.Int64).alias("g"),
        )
        mask = sub["a"].to_numpy()
        if not mask.any():
            continue
        over = _over_cap(sub["g"].to_numpy()[mask], t[mask], max_n, window)
        hit = np.zeros(len(mask), bool)
        hit[np.flatnonzero(mask)[over]] = True
        df = df.with_columns(pl.when(pl.Series(hit)).then(pl.lit(name)).otherwise(pl.col("drop_rule")).alias("drop_rule"))
    return df.drop("_norm").with_columns(pl.col("drop_rule").is_null().alias("keep"))


def report(cleaned: pl.DataFrame) -> dict[str, int]:
    """Messages dropped per rule (every rule listed, zeros included), kept and total."""
    counts = dict.fromkeys(RULES, 0)
    if cleaned.height:
        for rule, n in cleaned.group_by("drop_rule").len().iter_rows():
            if rule is not None:
                counts[rule] = int(n)
    counts["kept"] = int(cleaned["keep"].sum()) if cleaned.height else 0
    counts["total"] = cleaned.height
    return counts
