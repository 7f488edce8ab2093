"""What the model sees at a moment: the transcript of the last `context_s` seconds and the last
`chat_k` chat messages before it. One function for training pairs and for inference.

`build_contexts` is the batch version (sorted arrays + `searchsorted` for the intervals, one
Polars binary slice of the joined transcript for the text); `build_context` is the same code for
one moment, so a pair and a live prediction at the same moment see byte-identical text.

The moment is on the audio clock. A word is in the context when it starts at or after
`moment - context_s` and ends at or before the moment: nothing the viewer had not heard yet.
Chat messages count when their audio-clock time `t_s` is strictly before the moment.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

CONTEXT_S = 30.0
CHAT_K = 5
CONTEXT_COLUMNS = {
    "moment_s": pl.Float64,
    "context_start_s": pl.Float64,
    "context_end_s": pl.Float64,  # end of the last word in the context (<= moment_s)
    "n_context_words": pl.Int32,
    "transcript": pl.String,
    "chat_context": pl.String,  # earlier messages, oldest first, one per line
    "n_chat_context": pl.Int32,
}


def _transcript_bytes(words: pl.DataFrame) -> tuple[bytes, np.ndarray, np.ndarray]:
    """The words joined by single spaces, as UTF-8, with each word's byte start and end."""
    text = words["word"].fill_null("").str.strip_chars().str.replace_all(r"\s+", " ")
    lens = text.str.len_bytes().cast(pl.Int64).to_numpy()
    starts = np.concatenate([[0], np.cumsum(lens + 1)[:-1]]) if len(lens) else np.zeros(0, np.int64)
    return " ".join(text.to_list()).encode("utf-8"), starts, starts + lens


def _chat_windows(texts: pl.Series, k: int) -> pl.Series:
    """For each row j: the texts of rows j-k+1 .. j joined by newlines (fewer at the start)."""
    df = pl.DataFrame({"t": texts.fill_null("").str.replace_all(r"[\r\n]+", " ")})
    parts = [pl.col("t").shift(i) for i in range(k - 1, -1, -1)]
    return df.select(pl.concat_str(parts, separator="\n", ignore_nulls=True).alias("w"))["w"]


def _chat_windows_at(texts: pl.Series, k: int, rows: np.ndarray) -> pl.Series:
    """_chat_windows(texts, k) at these rows only (memory grows with the rows asked for, not
    with the chat)."""
    rows = np.asarray(rows, dtype=np.int64)
    parts = {}
    for i in range(k - 1, -1, -1):
        at = rows - i
        got = texts.gather(pl.Series(np.maximum(at, 0))) if len(rows) else texts.clear()
        parts[f"p{i}"] = got.fill_null("").str.replace_all(r"[\r\n]+", " ").set(pl.Series(at < 0), None)
    return pl.DataFrame(parts).select(pl.concat_str(list(parts), separator="\n", ignore_nulls=True).alias("w"))["w"]


def build_contexts(words: pl.DataFrame, chat: pl.DataFrame, moments: np.ndarray | pl.Series | list[float], *,
                   context_s: float = CONTEXT_S, chat_k: int = CHAT_K, not_before: np.ndarray | None = None,
                   end_margin: np.ndarray | float | None = None) -> pl.DataFrame:
    """One row per moment (in the given order), CONTEXT_COLUMNS.

    words: start_s, end_s, word (any order); chat: t_s (audio clock), text (any order).
    not_before: per moment, no word before this audio time (the last cut before the moment:
    the viewer did not hear the audio on the far side of it).
    end_margin: per moment (or one for all), words ending up to this much after the moment count
    too, or (negative) only words ending this much before it (a training pair's moment is an
    estimate: pairs.py gives the offset's own uncertainty); the chat context stays strictly before the moment."""
    m = np.asarray(moments, dtype=np.float64)
    m_end = m if end_margin is None else m + np.asarray(end_margin, dtype=np.float64)
    first = m - context_s if not_before is None else np.maximum(m - context_s, np.asarray(not_before, dtype=np.float64))
    w = words.select("start_s", "end_s", "word").drop_nulls(["start_s", "end_s"]).sort("start_s", "end_s", maintain_order=True)
    blob, b_start, b_end = _transcript_bytes(w)
    starts = w["start_s"].to_numpy()
    ends_max = np.maximum.accumulate(w["end_s"].to_numpy()) if w.height else np.zeros(0)
    lo = np.searchsorted(starts, first, side="left")
    hi = np.searchsorted(ends_max, m_end, side="right")
    n_words = np.maximum(hi - lo, 0)
    has = n_words > 0
    off = np.where(has, b_start[np.minimum(lo, max(len(b_start) - 1, 0))] if len(b_start) else 0, 0)
    length = np.where(has, (b_end[np.maximum(hi - 1, 0)] if len(b_end) else 0) - off, 0)
    c = chat.select("t_s", "text").drop_nulls("t_s").sort("t_s", maintain_order=True)
    c_hi = np.searchsorted(c["t_s"].to_numpy(), m, side="left")  # messages strictly before the moment
    idx = np.maximum(c_hi - 1, 0)
    if chat_k > 0 and c.height:
        chat_ctx = _chat_windows_at(c["text"], chat_k, idx)  # only the windows the moments use
    else:
        chat_ctx = pl.Series("w", [""] * len(m))
    frame = pl.DataFrame({
        "moment_s": m,
        "context_start_s": np.where(has, starts[np.minimum(lo, max(len(starts) - 1, 0))] if len(starts) else np.nan, np.nan),
        "context_end_s": np.where(has, ends_max[np.maximum(hi - 1, 0)] if len(ends_max) else np.nan, np.nan),
        "n_context_words": n_words.astype(np.int32),
        "off": off.astype(np.int64),
        "len": length.astype(np.int64),
        "chat_context": chat_ctx,
        "n_chat_context": np.minimum(c_hi, chat_k).astype(np.int32),
        "has_chat": c_hi > 0,
    })
    return frame.with_columns(
        pl.lit(blob, dtype=pl.Binary).bin.slice(pl.col("off"), pl.col("len")).cast(pl.String).alias("transcript"),
        pl.when(pl.col("has_chat") & pl.lit(chat_k > 0)).then(pl.col("chat_context")).otherwise(pl.lit("")).alias("chat_context"),
        pl.col("context_start_s", "context_end_s").fill_nan(None),  # no words: null, not NaN
    ).select([pl.col(k).cast(v) for k, v in CONTEXT_COLUMNS.items()])


def build_context(words: pl.DataFrame, chat: pl.DataFrame, moment: float, *, context_s: float = CONTEXT_S,
                  chat_k: int = CHAT_K, not_before: float | None = None, end_margin: float | None = None) -> dict[str, Any]:
    """The context at one moment (inference): the same code as the batch, so the same text (a live
    moment is exact: no end_margin; a pair's, as pairs.py sets it, rebuilds that pair's text)."""
    nb = None if not_before is None else np.array([not_before])
    return build_contexts(words, chat, [moment], context_s=context_s, chat_k=chat_k, not_before=nb,
                          end_margin=end_margin).row(0, named=True)
