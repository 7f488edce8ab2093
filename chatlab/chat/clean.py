"""Cleaning as columns, not deletion: each message gets ``drop_rule`` (null when kept).

Rules run in a fixed order and a message carries the first rule that drops it; the caps
(emote spam, bursts, copypasta, per-user rate) count only messages still kept by the
rules before them, so a bot's spam does not use up a viewer's quota. A cap keeps the
first ``max`` messages of a group inside any ``window_s`` and drops the rest: a message is
dropped when its group already has ``max`` messages in the ``window_s`` seconds before it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, fields
from pathlib import Path
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
    """True where a message's group already has max_n messages in the window before it
    (strictly less than window_s seconds earlier, or at the same time and listed earlier).

    Sorted by (group, time, position), the message max_n places earlier is the oldest of the
    max_n before it: the cap is hit when it is in the same group and inside the window."""
    n = len(t)
    if n == 0:
        return np.zeros(0, bool)
    if max_n <= 0:
        return np.ones(n, bool)
    order = np.lexsort((np.arange(n), t, groups))
    g, ts = groups[order], t[order]
    hit = np.zeros(n, bool)
    if n > max_n:
        same = g[max_n:] == g[:-max_n]
        if window_s is None:
            hit[max_n:] = same
        else:
            # in whole microseconds: a message exactly window_s earlier is outside the window,
            # whatever binary rounding does to 37.3 - 20
            us = np.round(ts * 1e6).astype(np.int64)
            hit[max_n:] = same & (us[:-max_n] > us[max_n:] - int(round(window_s * 1e6)))
    over = np.zeros(n, bool)
    over[order] = hit
    return over


# drop_rule as a small code while the rules run (0: kept); names in RULES order
_NAMES = pl.Series("drop_rule", [None, *RULES], dtype=pl.String)
_CODE = {name: i + 1 for i, name in enumerate(RULES)}
# Equal texts (logins, ids) get equal 64-bit hashes, so a chunk's keys can be kept without its
# text; two different values share one with a chance of about n^2 / 2^65 (3e-6 at 10M messages).
_SEED = 20240501


def _row_keys(df: pl.DataFrame, cfg: CleanConfig) -> pl.DataFrame:
    """What the rules need of each message, as small columns: time, the first simple rule that
    drops it (duplicates apart: they need the whole chat), and the groups the caps count in."""
    norm = normalized(pl.col("text"))
    login = pl.col("user_login").fill_null(pl.col("user").str.to_lowercase())
    simple = [
        ("bot", login.is_in(sorted(cfg.bots)) | pl.col("is_bot")),
        ("moderated", pl.col("moderated")),
        ("notice", (pl.col("msg_type") == "notice") & pl.lit(cfg.drop_notices)),
        ("command", pl.col("is_command")),
        ("empty", pl.col("text").str.strip_chars() == ""),
        ("too_long", pl.col("text").str.len_chars() > cfg.max_chars),
        ("blocklist", _blocklist_expr(cfg.blocklist)),
    ]
    code = pl.lit(0, pl.UInt8)
    for name, cond in reversed(simple):
        code = pl.when(cond.fill_null(False)).then(pl.lit(_CODE[name], pl.UInt8)).otherwise(code)
    return df.select(
        pl.col("t_s").cast(pl.Float64).fill_null(0.0).alias("t"),
        code.alias("code"),
        pl.col("msg_id").hash(_SEED).alias("id"),
        pl.col("emote_only").fill_null(False).alias("emote"),
        norm.fill_null("").hash(_SEED).alias("norm"),
        (norm.str.len_chars() >= cfg.copypasta_min_chars).fill_null(False).alias("long"),
        login.cast(pl.String).fill_null("").hash(_SEED).alias("login"),
    )


def _rule_codes(keys: list[pl.DataFrame], cfg: CleanConfig) -> np.ndarray:
    """The drop_rule code of every message of the chat (the chunks' keys in order)."""
    k = pl.concat(keys, rechunk=False) if len(keys) > 1 else keys[0]  # no copy of the keys
    code = k["code"].to_numpy().copy()
    ids = k["id"].to_numpy()
    order = np.argsort(ids, kind="stable")
    repeat = np.zeros(len(ids), bool)
    repeat[order[1:]] = ids[order][1:] == ids[order][:-1]  # not the first of its msg_id
    code[repeat] = _CODE["duplicate"]
    del ids, order, repeat
    t = k["t"].to_numpy()
    caps = [
        ("emote_spam", k["emote"].to_numpy(), None, cfg.emote_only_max, cfg.emote_only_window_s),
        ("burst", None, "norm", cfg.burst_max, cfg.burst_window_s),
        ("copypasta", k["long"].to_numpy(), "norm", cfg.copypasta_max, None),
        ("rate_limit", None, "login", cfg.user_max, cfg.user_window_s),
    ]
    for name, applies, group, max_n, window in caps:
        mask = code == 0
        if applies is not None:
            mask &= applies
        if not mask.any():
            continue
        g = k[group].to_numpy()[mask] if group else np.zeros(int(mask.sum()), np.uint64)
        over = _over_cap(g, t[mask], max_n, window)
        code[np.flatnonzero(mask)[over]] = _CODE[name]
    return code


def _with_rule(df: pl.DataFrame, codes: np.ndarray) -> pl.DataFrame:
    rule = _NAMES.gather(pl.Series(codes, dtype=pl.UInt32))
    return df.with_columns(rule, rule.is_null().alias("keep"))


def clean(msgs: pl.DataFrame, cfg: CleanConfig | None = None) -> pl.DataFrame:
    """msgs (the chat table) with `drop_rule` (first rule that drops it, null if kept) and `keep`."""
    cfg = cfg or CleanConfig()
    if msgs.height == 0:
        return msgs.with_columns(pl.lit(None, pl.String).alias("drop_rule"), pl.lit(None, pl.Boolean).alias("keep"))
    return _with_rule(msgs, _rule_codes([_row_keys(msgs, cfg)], cfg))


def clean_to_parquet(batches: Iterable[pl.DataFrame], cfg: CleanConfig, folder: Path,
                     prepare: Callable[[pl.DataFrame], pl.DataFrame] = lambda df: df) -> tuple[list[Path], dict[str, int]]:
    """`clean` for a chat bigger than memory, read in batches (in table order): the rules' keys
    are kept per message (about 35 bytes each), each batch's `prepare`d rows go to a Parquet
    part in ``folder``, and the parts get `drop_rule` and `keep` once every rule has run.
    Returns the parts in order and `report`'s counts. The rows are those of `clean`."""
    files, keys = [], []
    for df in batches:
        if df.height == 0:
            continue
        k = _row_keys(df, cfg)
        # owned copies: a column passed through unchanged (t_s, emote_only) would keep the whole
        # batch it came with alive (Arrow from DuckDB frees a batch only when all of it is released)
        keys.append(pl.DataFrame({c: k[c].to_numpy().copy() for c in k.columns}, schema=k.schema))
        files.append(folder / f"clean-{len(files):05d}.parquet")
        prepare(df).write_parquet(files[-1])
    if not files:
        return [], report(pl.DataFrame({"drop_rule": [], "keep": []}, schema={"drop_rule": pl.String, "keep": pl.Boolean}))
    sizes = [k.height for k in keys]
    codes = _rule_codes(keys, cfg)
    del keys
    at = 0
    for f, n in zip(files, sizes):
        _with_rule(pl.read_parquet(f), codes[at:at + n]).write_parquet(f)
        at += n
    counts = dict.fromkeys(RULES, 0)
    for c, n in zip(*np.unique(codes, return_counts=True)):
        if c:
            counts[RULES[c - 1]] = int(n)
    counts["kept"] = int((codes == 0).sum())
    counts["total"] = len(codes)
    return files, counts


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
