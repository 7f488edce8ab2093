"""`transcript` (ASR of the `audio` WAV, with its quality checks) and the two tables built from it.

The slow part (hours of Whisper on a long VOD) runs in pool ``asr`` and writes its result to
``data/artifacts/transcript/<vod>/``; a short second step loads it into
``transcript_segments`` and ``transcript_words`` (both in one DuckLake transaction). So no table
write waits on transcription, and a failed ``asr_quality`` (blocking) stops the tables and
everything downstream of them.
"""


import json
import math
from pathlib import Path

import dagster as dg
import polars as pl

from chatlab.asr import quality
from chatlab.asr.tables import segments_frame, words_frame, write_parquet_atomic
from chatlab.asr.transcribe import DEFAULT_WINDOW_S, Transcript, transcribe_file
from chatlab.config import Layout
from chatlab.files import replacing
from chatlab.defs.asr.resources import AsrEngineResource
from chatlab.defs.metadata import table_md
from chatlab.media.audio import audio_path
from chatlab.partitions import vod_partition, vods
from chatlab.resources import GPU_QUEUE, WRITE_STEP_RETRIES, WRITTEN_BY_STEP, ChatlabSettings
from chatlab.storage import LakeWriteConflict, lake_config, replace_tables

TRANSCRIPT = dg.AssetKey("transcript")
PREVIEW_LINES = 12


def transcript_dir(layout: Layout, vod_id: str) -> Path:
    return layout.artifact_dir("transcript", vod_id)


def _fmt(t: float) -> str:
    m, s = divmod(t, 60)
    h, m = divmod(int(m), 60)
    return f"{h}:{m:02d}:{s:04.1f}"


def _preview(t: Transcript) -> str:
    lines = [f"- `{_fmt(s.start)}` {s.text.strip()}" for s in t.segments[:PREVIEW_LINES]]
    return "\n".join(lines) if lines else "_(no speech transcribed)_"


def _clean(m: dict[str, float]) -> dict[str, float | None]:
    # Dagster float metadata cannot hold NaN.
    return {k: (None if isinstance(v, float) and math.isnan(v) else round(v, 4)) for k, v in m.items()}


def _write_json_atomic(obj: object, path: Path) -> None:
    with replacing(path) as tmp:
        tmp.write_text(json.dumps(obj, ensure_ascii=False), encoding="utf-8")


@dg.asset(
    key=TRANSCRIPT,
    deps=[dg.AssetKey("audio")],
    partitions_def=vods,
    pool="asr",
    op_tags=GPU_QUEUE,
    group_name="asr",
    kinds={"whisper"},
    check_specs=[
        dg.AssetCheckSpec(
            "asr_quality",
            asset=TRANSCRIPT,
            blocking=True,
            description="Speech coverage, mean log-probability, repetition loops and words per minute "
            "within the [asr] thresholds; fails (and stops everything built from the transcript) otherwise.",
        ),
        dg.AssetCheckSpec(
            "word_timestamps",
            asset=TRANSCRIPT,
            description="Word times run forward, no runs of zero-length words, no word of several seconds.",
        ),
    ],
    description="Whisper transcript of the VOD's audio with word timestamps (Silero VAD, windows of bounded "
    "length); files under data/artifacts/transcript/<vod>/: transcript.json (the `chatlab transcribe` JSON), "
    "segments.parquet, words.parquet.",
)
def transcript(context: dg.AssetExecutionContext, settings: ChatlabSettings, asr: AsrEngineResource) -> dg.MaterializeResult:
    vod_id = vod_partition(context)
    layout = settings.layout()
    section = settings.section("asr", vod_id)
    wav = audio_path(layout, vod_id)
    if not wav.exists():
        raise dg.Failure(description=f"{wav}: no audio for VOD {vod_id!r}; materialize the `audio` asset first")
    try:
        engine = asr.engine(layout.models, section)
    except (FileNotFoundError, ValueError, RuntimeError) as e:
        raise dg.Failure(description=f"ASR engine: {e}") from e
    window_s = float(section.get("window_s", asr.window_s or DEFAULT_WINDOW_S))

    def progress(a: float, b: float, n: int) -> None:
        context.log.info(f"transcript {vod_id}: {_fmt(a)}–{_fmt(b)} done, {n} segments")

    try:
        t = transcribe_file(wav, engine, window_s=window_s, on_window=progress)
    except ValueError as e:  # empty or undecodable audio: say which file and why
        raise dg.Failure(description=str(e)) from e

    out = transcript_dir(layout, vod_id)
    out.mkdir(parents=True, exist_ok=True)
    seg_df = segments_frame(vod_id, t.segments, t.model_name, t.version)
    word_df = words_frame(vod_id, t.segments)
    write_parquet_atomic(seg_df, out / "segments.parquet")
    write_parquet_atomic(word_df, out / "words.parquet")
    _write_json_atomic(t.to_json(), out / "transcript.json")

    th = quality.Thresholds.from_mapping(section)
    m = quality.measure(t.segments, t.duration, t.speech_s, th)
    ok, reasons = quality.verdict(m, th)
    words = [w for s in t.segments for w in s.words]
    wm = quality.word_time_measures(words, th)
    w_ok, w_reasons = quality.word_time_verdict(wm, th)
    thresholds = {f"limit_{k}": v for k, v in th.__dict__.items()}

    return dg.MaterializeResult(
        metadata={
            "path": dg.MetadataValue.path(str(out / "transcript.json")),
            "duration_s": round(t.duration, 2),
            "elapsed_s": round(t.elapsed_s, 2),
            "real_time_factor": round(t.rtf, 4),
            "language": t.language or "?",
            "language_probability": round(t.language_probability, 3),
            "segments": len(t.segments),
            "words": t.n_words,
            "windows": len(t.windows),
            "asr_model": t.model_name,
            "asr_version": t.version,
            **{f"quality_{k}": v for k, v in _clean(m).items() if k not in ("duration_s", "words", "segments")},
            "preview": dg.MetadataValue.md(_preview(t)),
        },
        check_results=[
            dg.AssetCheckResult(
                check_name="asr_quality",
                passed=ok,
                severity=dg.AssetCheckSeverity.ERROR,
                description="; ".join(reasons) if reasons else "within thresholds",
                metadata={**_clean(m), **thresholds, "reasons": "; ".join(reasons) or "none"},
            ),
            dg.AssetCheckResult(
                check_name="word_timestamps",
                passed=w_ok,
                severity=dg.AssetCheckSeverity.WARN,
                description="; ".join(w_reasons) if w_reasons else "word times sane",
                metadata={**_clean(wm), "reasons": "; ".join(w_reasons) or "none"},
            ),
        ],
    )


@dg.multi_asset(
    outs={
        "transcript_segments": dg.AssetOut(
            metadata={"partition_expr": "vod_id", WRITTEN_BY_STEP: True},
            kinds={"duckdb"},
            description="One row per transcript segment: times, text, decoder scores, ASR model and version.",
        ),
        "transcript_words": dg.AssetOut(
            metadata={"partition_expr": "vod_id", WRITTEN_BY_STEP: True},
            kinds={"duckdb"},
            description="One row per word with its start/end (seconds from the first audio sample) and probability.",
        ),
    },
    deps=[TRANSCRIPT],
    partitions_def=vods,
    group_name="asr",
    name="transcript_tables",
)
def transcript_tables(context: dg.AssetExecutionContext, settings: ChatlabSettings):
    vod_id = vod_partition(context)
    layout = settings.layout()
    d = transcript_dir(layout, vod_id)
    try:
        segs = pl.read_parquet(d / "segments.parquet")
        words = pl.read_parquet(d / "words.parquet")
    except FileNotFoundError as e:
        raise dg.Failure(description=f"{d}: transcript files missing; materialize `transcript` first ({e})") from e
    # Both tables in ONE transaction: a reader (or a run killed between them) never sees a VOD's
    # new segments beside its old words. The IO manager only reads them back (WRITTEN_BY_STEP).
    try:
        snapshot = replace_tables(lake_config(layout, settings.section("storage")),
                                  {"transcript_segments": segs, "transcript_words": words}, "vod_id", [vod_id],
                                  log=context.log.warning)
    except LakeWriteConflict as e:
        context.log.warning(f"{e}; the step runs again")
        raise dg.RetryRequested(max_retries=WRITE_STEP_RETRIES, seconds_to_wait=2.0) from e
    yield dg.Output(
        segs,
        output_name="transcript_segments",
        metadata={
            "rows": segs.height,
            "lake_snapshot": snapshot,
            "preview": table_md(segs.select("seg_id", "start_s", "end_s", "text").head(5)),
        },
    )
    yield dg.Output(words, output_name="transcript_words", metadata={"rows": words.height, "lake_snapshot": snapshot})
