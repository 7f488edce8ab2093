"""Tokens as the matcher compares them: lower case, letters and digits, no short or filler words."""

from __future__ import annotations

import polars as pl

TOKEN_RE = r"[\p{L}\p{N}']+"

# Words too common to say which sentence a message echoes (only those >= 4 characters matter).
STOPWORDS = frozenset(
    """that this with have what just like they there their then than them were been from your
    yours will would could should about into over some more very really when where which while
    here okay yeah yes well know think going gonna want wanna need does dont didn't don't can't
    cant it's that's what's i'm you're we're they're lets let's also only even much many most
    make made look good nice right time thing things back come came other these those because
    still first after before again every ever never always being said says chat guys stream""".split()
)


def normalize_word(expr: pl.Expr) -> pl.Expr:
    """A transcript word (Whisper keeps punctuation on it) as a token."""
    return expr.str.to_lowercase().str.extract(r"([\p{L}\p{N}']+)", 1).str.strip_chars("'")


def keep_token(expr: pl.Expr, min_chars: int) -> pl.Expr:
    return (expr.str.len_chars() >= min_chars) & ~expr.is_in(sorted(STOPWORDS))


def chat_tokens(chat: pl.DataFrame, min_chars: int) -> pl.DataFrame:
    """(row, token): the distinct tokens of each chat message, `row` its index in `chat`."""
    return (
        chat.select(pl.int_range(pl.len(), dtype=pl.Int64).alias("row"), pl.col("text").str.to_lowercase().str.extract_all(TOKEN_RE).alias("token"))
        .explode("token")
        .with_columns(pl.col("token").str.strip_chars("'"))
        .filter(pl.col("token").is_not_null() & keep_token(pl.col("token"), min_chars))
        .unique(["row", "token"])
    )
