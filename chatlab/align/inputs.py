"""The frames alignment works on, from the tables or from plain files.

words: one row per transcript word, sorted by time, with the start and end of its sentence
(`sent_start_s`, `sent_end_s`): a viewer reacts to what the streamer said once it is said, so an
echo's lag is measured from the end of the sentence holding the echoed word, not from the word.
An ASR segment is not a sentence: Whisper groups two or three sentences into one segment (and
sometimes cuts one in two). Nor is every full stop the end of what a viewer reacts to: "Why is
the troll so strong? This is not fair." is one thought said in one breath. So a sentence here
ends where the speaker stops: at terminal punctuation (or a segment end) followed by a pause of
at least `pause_s` (0.45 s: on the demo streams, Whisper base, the pauses inside a line are
0.14-0.48 s and those between lines 0.34 s and up, median 0.95 s), or at any pause of
LONG_PAUSE_S (transcripts without punctuation).
chat: `msg_id, t_s` (chat clock), `text` and whatever else the caller carries along.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl

WORD_COLUMNS = {"seg_id": pl.Int64, "start_s": pl.Float64, "end_s": pl.Float64, "word": pl.String}
SENTENCE_END_RE = r"[.?!…。？！][\"'’”)\]]*$"  # a word that ends a sentence (closing quotes allowed)
SENTENCE_PAUSE_S = 0.45  # default pause after terminal punctuation that ends a sentence ([align] sentence_pause_s)
LONG_PAUSE_S = 1.0  # a pause this long ends a sentence even without punctuation (unpunctuated ASR)


def prepare_words(words: pl.DataFrame, pause_s: float = SENTENCE_PAUSE_S) -> pl.DataFrame:
    """Words with times, sorted, with their sentence: `sent_id`, `sent_start_s`, `sent_end_s`.
    A sentence ends at a word with terminal punctuation or at an ASR segment's end when a pause of
    `pause_s` follows, or before any pause of LONG_PAUSE_S; `seg_id` may be absent."""
    if words.height == 0:
        return pl.DataFrame(schema={**WORD_COLUMNS, "sent_id": pl.Int64, "sent_start_s": pl.Float64, "sent_end_s": pl.Float64})
    df = words if "seg_id" in words.columns else words.with_columns(pl.lit(0, pl.Int64).alias("seg_id"))
    df = df.select([pl.col(c).cast(t) for c, t in WORD_COLUMNS.items()])
    df = df.filter(pl.col("start_s").is_not_null() & pl.col("end_s").is_not_null() & pl.col("word").is_not_null())
    df = df.with_columns(pl.col("word").str.strip_chars(), pl.max_horizontal("start_s", "end_s").alias("end_s"))
    df = df.sort("start_s", "end_s", maintain_order=True)
    pause = (pl.col("start_s").shift(-1) - pl.col("end_s")).fill_null(float("inf"))
    stop = (pl.col("seg_id") != pl.col("seg_id").shift(-1)).fill_null(True) | pl.col("word").str.contains(SENTENCE_END_RE)
    ends = (stop & (pause >= pause_s)) | (pause >= max(LONG_PAUSE_S, pause_s))
    df = df.with_columns(ends.shift(1, fill_value=False).cum_sum().cast(pl.Int64).alias("sent_id"))
    return df.with_columns(
        pl.col("start_s").min().over("sent_id").alias("sent_start_s"),
        pl.col("end_s").max().over("sent_id").alias("sent_end_s"),
    )


def words_from_transcript_json(doc: dict[str, Any]) -> pl.DataFrame:
    """The `chatlab transcribe --json` document as a words frame (seg_id = the segment's index)."""
    rows = [
        (i, float(w["start"]), float(w["end"]), str(w["word"]), None if w.get("probability") is None else float(w["probability"]))
        for i, s in enumerate(doc.get("segments", []))
        for w in s.get("words") or []
        if w.get("start") is not None and w.get("end") is not None
    ]
    # the ASR's word probability rides along (null when absent): a word cut off at a splice gets a low one (align.splice)
    return pl.DataFrame(rows, schema={**WORD_COLUMNS, "probability": pl.Float64}, orient="row")


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
    ok = pl.col("t_s").is_not_null() & pl.col("text").is_not_null()
    if "keep" in chat.columns:
        ok = pl.col("keep").fill_null(False) & ok
    if "keep" not in chat.columns and chat["t_s"].null_count() == 0 and chat["text"].null_count() == 0:
        df = chat  # nothing to drop (e.g. only kept rows were read): no copy
    else:
        df = chat.filter(ok)  # one filter, one copy
    if df.height > 1 and "msg_id" in df.columns and _in_order(df):
        return df  # read sorted already: a stable sort would keep this order
    return df.sort("t_s", "msg_id", maintain_order=True)


def _in_order(df: pl.DataFrame, block: int = 1_000_000) -> bool:
    """Sorted by (t_s, msg_id), no id missing? Checked a block at a time (slices are free), so the
    check costs a block's temporaries, not the chat's."""
    t, i = pl.col("t_s"), pl.col("msg_id")
    ok = ((t.diff() > 0) | ((t.diff() == 0) & i.is_not_null() & i.shift().is_not_null() & (i >= i.shift()))).slice(1).all()
    return all(df.slice(a, block + 1).select(ok).item() for a in range(0, df.height - 1, block))
