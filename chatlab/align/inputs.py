"""The frames alignment works on, from the tables or from plain files.

words: one row per transcript word, sorted by time, with the start and end of its segment
(a viewer reacts to a sentence, so an echo's lag is measured from the sentence's end).
chat: `msg_id, t_s` (chat clock), `text` and whatever else the caller carries along.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl

WORD_COLUMNS = {"seg_id": pl.Int64, "start_s": pl.Float64, "end_s": pl.Float64, "word": pl.String}


def prepare_words(words: pl.DataFrame) -> pl.DataFrame:
    """Words with times, sorted, with `seg_start_s` / `seg_end_s`; `seg_id` may be absent (one segment per word)."""
    if words.height == 0:
        return pl.DataFrame(schema={**WORD_COLUMNS, "seg_start_s": pl.Float64, "seg_end_s": pl.Float64})
    df = words if "seg_id" in words.columns else words.with_columns(pl.int_range(pl.len(), dtype=pl.Int64).alias("seg_id"))
    df = df.select([pl.col(c).cast(t) for c, t in WORD_COLUMNS.items()])
    df = df.filter(pl.col("start_s").is_not_null() & pl.col("end_s").is_not_null() & pl.col("word").is_not_null())
    df = df.with_columns(pl.col("word").str.strip_chars(), pl.max_horizontal("start_s", "end_s").alias("end_s"))
    return df.with_columns(
        pl.col("start_s").min().over("seg_id").alias("seg_start_s"),
        pl.col("end_s").max().over("seg_id").alias("seg_end_s"),
    ).sort("start_s", "end_s", maintain_order=True)


def words_from_transcript_json(doc: dict[str, Any]) -> pl.DataFrame:
    """The `chatlab transcribe --json` document as a words frame (seg_id = the segment's index)."""
    rows = [
        (i, float(w["start"]), float(w["end"]), str(w["word"]))
        for i, s in enumerate(doc.get("segments", []))
        for w in s.get("words") or []
        if w.get("start") is not None and w.get("end") is not None
    ]
    return pl.DataFrame(rows, schema=WORD_COLUMNS, orient="row")


def read_transcript(path: Path) -> tuple[pl.DataFrame, str]:
    """(words, asr model) from a transcript JSON file; a broken file names itself."""
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise ValueError(f"{path}: not a transcript JSON ({e})") from e
    if not isinstance(doc, dict) or not isinstance(doc.get("segments"), list):
        raise ValueError(f"{path}: expected the `chatlab transcribe --json` object with a `segments` list")
    return words_from_transcript_json(doc), str(doc.get("model") or doc.get("asr_model") or "unknown")


def prepare_chat(chat: pl.DataFrame) -> pl.DataFrame:
    """Chat with a time and text, sorted by time; only kept messages when a `keep` column exists."""
    df = chat
    if "keep" in df.columns:
        df = df.filter(pl.col("keep").fill_null(False))
    df = df.filter(pl.col("t_s").is_not_null() & pl.col("text").is_not_null())
    return df.sort("t_s", "msg_id", maintain_order=True)
