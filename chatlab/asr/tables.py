"""A transcript as the two tables the rest of chatlab reads (stable column order: the DuckDB IO
manager inserts by position), and back."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from chatlab.files import replacing

from chatlab.asr.engine import Segment, Word

SEGMENTS_SCHEMA = {
    "vod_id": pl.String,
    "seg_id": pl.Int64,
    "start_s": pl.Float64,
    "end_s": pl.Float64,
    "text": pl.String,
    "avg_logprob": pl.Float64,
    "no_speech_prob": pl.Float64,
    "compression_ratio": pl.Float64,
    "asr_model": pl.String,
    "asr_version": pl.String,
}
WORDS_SCHEMA = {
    "vod_id": pl.String,
    "seg_id": pl.Int64,
    "word_idx": pl.Int32,
    "start_s": pl.Float64,
    "end_s": pl.Float64,
    "word": pl.String,
    "probability": pl.Float64,
}


def segments_frame(vod_id: str, segments: list[Segment], asr_model: str, asr_version: str) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "vod_id": [vod_id] * len(segments),
            "seg_id": list(range(len(segments))),
            "start_s": [s.start for s in segments],
            "end_s": [s.end for s in segments],
            "text": [s.text.strip() for s in segments],
            "avg_logprob": [s.avg_logprob for s in segments],
            "no_speech_prob": [s.no_speech_prob for s in segments],
            "compression_ratio": [s.compression_ratio for s in segments],
            "asr_model": [asr_model] * len(segments),
            "asr_version": [asr_version] * len(segments),
        },
        schema=SEGMENTS_SCHEMA,
    )


def words_frame(vod_id: str, segments: list[Segment]) -> pl.DataFrame:
    rows = [
        (vod_id, i, j, w.start, w.end, w.word.strip(), w.probability)
        for i, s in enumerate(segments)
        for j, w in enumerate(s.words)
    ]
    return pl.DataFrame(rows, schema=WORDS_SCHEMA, orient="row")


def segments_from_frames(segs: pl.DataFrame, words: pl.DataFrame) -> list[Segment]:
    """Rebuild Segment objects (words with a leading space, as Whisper writes them)."""
    by_seg: dict[int, list[Word]] = {}
    for r in words.sort(["seg_id", "word_idx"]).iter_rows(named=True):
        by_seg.setdefault(r["seg_id"], []).append(Word(r["start_s"], r["end_s"], " " + r["word"], r["probability"]))
    return [
        Segment(r["start_s"], r["end_s"], r["text"], r["avg_logprob"], r["no_speech_prob"], r["compression_ratio"], by_seg.get(r["seg_id"], []))
        for r in segs.sort("seg_id").iter_rows(named=True)
    ]


def write_parquet_atomic(df: pl.DataFrame, path: Path) -> None:
    """Write under a temporary name, then rename: a reader never sees half a file."""
    with replacing(path) as tmp:
        df.write_parquet(tmp)
