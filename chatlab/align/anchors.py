"""Lexical anchors: chat messages that echo a word the streamer said shortly before.

Every chat token is matched (exactly, else with rapidfuzz: "draggon", "dragons") against the
transcript's vocabulary once; then each (message, word occurrence) pair inside a lag range is a
candidate anchor whose lag is `t_chat - end of the sentence holding the word`. Pairs come from
sorted arrays and `searchsorted`, never a loop over messages.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl
from rapidfuzz import fuzz, process

from chatlab.align.text import chat_tokens, keep_token, normalize_word


@dataclass(frozen=True)
class TokenIndex:
    """Transcript word occurrences sorted by (vocab id, time) and the chat tokens that match them."""

    occ_key: np.ndarray  # vocab_id * span + (sentence end - t0): one sorted array for every word
    occ_ref: np.ndarray  # the sentence end (audio clock) of each occurrence, in key order
    occ_start: np.ndarray  # the sentence start
    occ_word_start: np.ndarray  # the word's own start (a sentence may straddle a cut: see fit.locate_cut)
    tok_row: np.ndarray  # chat row of each matched token
    tok_vocab: np.ndarray  # its vocab id
    tok_t: np.ndarray  # the message's chat-clock time
    t0: float
    span: float
    n_vocab: int
    fuzzy_matches: int

    @property
    def empty(self) -> bool:
        return len(self.tok_row) == 0 or len(self.occ_key) == 0

    def vocab_rate(self) -> np.ndarray:
        """Occurrences per second of transcript, per vocab id: the chance density of a token's
        candidate pairs per second of lag."""
        ids = np.floor(self.occ_key / self.span).astype(np.int64)
        return np.bincount(ids, minlength=max(self.n_vocab, int(ids.max()) + 1 if len(ids) else 1)) / self.span


def _vocabulary(words: pl.DataFrame, min_chars: int, min_spacing_s: float) -> pl.DataFrame:
    """Transcript tokens with their occurrences; words said so often that two occurrences are
    typically within one reaction window cannot tell sentences apart and are left out."""
    tok = words.with_columns(normalize_word(pl.col("word")).alias("token")).filter(pl.col("token").is_not_null() & keep_token(pl.col("token"), min_chars))
    if tok.height == 0:
        return tok.with_columns(pl.lit(0, pl.Int64).alias("vocab_id"))
    duration = max(float(words["end_s"].max() - words["start_s"].min()), 1.0)
    counts = tok.group_by("token").len()
    keep = counts.filter(pl.col("len") <= max(1.0, duration / min_spacing_s)).sort("token")
    keep = keep.with_columns(pl.int_range(pl.len(), dtype=pl.Int64).alias("vocab_id")).select("token", "vocab_id")
    return tok.join(keep, on="token", how="inner")


def _match(chat_tok: pl.DataFrame, vocab: pl.DataFrame, min_score: float) -> tuple[pl.DataFrame, int]:
    """chat token -> vocab id: exact matches first, rapidfuzz (ratio) for the rest, one best match each."""
    names = vocab.select("token", "vocab_id").unique("token")
    distinct = chat_tok.select("token").unique()
    exact = distinct.join(names, on="token", how="inner")
    rest = distinct.join(names, on="token", how="anti")["token"].to_list()
    if not rest or names.height == 0:
        return exact, 0
    choices = names["token"].to_list()
    scores = process.cdist(rest, choices, scorer=fuzz.ratio, score_cutoff=min_score, dtype=np.uint8, workers=-1)
    best = scores.argmax(axis=1)
    hit = scores[np.arange(len(rest)), best] > 0
    fuzzy = pl.DataFrame({"token": np.array(rest, dtype=object)[hit].tolist(), "vocab_id": names["vocab_id"].to_numpy()[best[hit]]},
                         schema={"token": pl.String, "vocab_id": pl.Int64})
    return pl.concat([exact, fuzzy]), int(hit.sum())


def build_index(words: pl.DataFrame, chat: pl.DataFrame, *, min_chars: int, min_score: float, min_spacing_s: float) -> TokenIndex:
    """words: prepare_words output; chat: prepare_chat output (rows are referred to by index)."""
    occ = _vocabulary(words, min_chars, min_spacing_s)
    ctok = chat_tokens(chat, min_chars) if chat.height else pl.DataFrame(schema={"row": pl.Int64, "token": pl.String})
    matched, n_fuzzy = _match(ctok, occ, min_score) if occ.height and ctok.height else (pl.DataFrame(schema={"token": pl.String, "vocab_id": pl.Int64}), 0)
    toks = ctok.join(matched, on="token", how="inner").select("row", "vocab_id").unique().sort("row", "vocab_id")
    t_chat = chat["t_s"].to_numpy()
    if occ.height:
        t0 = float(occ["sent_end_s"].min()) - 1.0
        span = float(occ["sent_end_s"].max() - t0) + 1.0
    else:
        t0, span = 0.0, 1.0
    occ = occ.with_columns((pl.col("vocab_id").cast(pl.Float64) * span + (pl.col("sent_end_s") - t0)).alias("key")).sort("key")
    rows = toks["row"].to_numpy()
    return TokenIndex(
        occ_key=occ["key"].to_numpy(), occ_ref=occ["sent_end_s"].to_numpy(), occ_start=occ["sent_start_s"].to_numpy(),
        occ_word_start=occ["start_s"].to_numpy(), tok_row=rows, tok_vocab=toks["vocab_id"].to_numpy(), tok_t=t_chat[rows] if len(rows) else np.zeros(0),
        t0=t0, span=span, n_vocab=int(occ["vocab_id"].n_unique()) if occ.height else 0, fuzzy_matches=n_fuzzy,
    )


@dataclass(frozen=True)
class Candidates:
    tok: np.ndarray  # index into the index's tok_* arrays
    occ: np.ndarray  # index into occ_*
    lag: np.ndarray  # t_chat - sentence end

    def __len__(self) -> int:
        return len(self.tok)


def candidates(ix: TokenIndex, lag_lo: np.ndarray | float, lag_hi: np.ndarray | float, tok_sel: np.ndarray | None = None,
               max_pairs: int = 30_000_000) -> Candidates:
    """Every (token, occurrence) pair with lo <= t_chat - sentence end <= hi (bounds per token or scalar)."""
    sel = np.arange(len(ix.tok_row)) if tok_sel is None else tok_sel
    if ix.empty or len(sel) == 0:
        z = np.zeros(0, np.int64)
        return Candidates(z, z, np.zeros(0))
    base = ix.tok_vocab[sel].astype(np.float64) * ix.span - ix.t0
    t = ix.tok_t[sel]
    lo = np.searchsorted(ix.occ_key, base + t - np.broadcast_to(lag_hi, t.shape), side="left")
    hi = np.searchsorted(ix.occ_key, base + t - np.broadcast_to(lag_lo, t.shape), side="right")
    # keys outside [vocab*span, (vocab+1)*span) belong to other words
    lo = np.maximum(lo, np.searchsorted(ix.occ_key, base + ix.t0, side="left"))
    hi = np.minimum(hi, np.searchsorted(ix.occ_key, base + ix.t0 + ix.span, side="left"))
    n = np.maximum(hi - lo, 0)
    total = int(n.sum())
    if total > max_pairs:  # keep memory bounded: thin the tokens evenly
        keep = np.arange(len(sel))[:: int(np.ceil(total / max_pairs))]
        return candidates(ix, np.broadcast_to(lag_lo, t.shape)[keep], np.broadcast_to(lag_hi, t.shape)[keep], sel[keep], max_pairs)
    tok = np.repeat(sel, n)
    starts = np.repeat(lo - np.cumsum(n) + n, n)
    occ = starts + np.arange(total)
    return Candidates(tok, occ, ix.tok_t[tok] - ix.occ_ref[occ])
