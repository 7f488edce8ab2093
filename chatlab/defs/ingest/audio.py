"""`audio`: the VOD's speech track as 16 kHz mono, loudness-normalised WAV on disk, plus a DuckDB row."""

from pathlib import Path

import dagster as dg
import polars as pl

from chatlab.ingest.inbox import sha256_file
from chatlab.media.audio import TARGET_LUFS, audio_path, extract_audio
from chatlab.media.probe import MediaError
from chatlab.partitions import vod_partition, vods
from chatlab.resources import ChatlabSettings

SCHEMA = {
    "vod_id": pl.String,
    "path": pl.String,
    "duration_s": pl.Float64,
    "sample_rate": pl.Int32,
    "loudness_in_lufs": pl.Float64,
    "loudness_out_lufs": pl.Float64,
    "true_peak_in_dbtp": pl.Float64,
    "gain_db": pl.Float64,
    "size_bytes": pl.Int64,
    "sha256": pl.String,
    "source_sha256": pl.String,
}
# Audio much shorter than the container says means a truncated or damaged file.
COMPLETE_RATIO = 0.98


@dg.asset(
    partitions_def=vods,
    metadata={"partition_expr": "vod_id"},
    group_name="ingest",
    kinds={"ffmpeg", "duckdb"},
    check_specs=[dg.AssetCheckSpec("audio_complete", asset="audio", description="The audio covers the whole VOD.")],
    description=f"16 kHz mono WAV at {TARGET_LUFS:g} LUFS (EBU R128, one gain for the whole VOD), streamed through ffmpeg.",
)
def audio(context: dg.AssetExecutionContext, settings: ChatlabSettings, vod_source: pl.DataFrame):
    vod_id = vod_partition(context)
    source = vod_source.row(0, named=True)
    src = Path(source["path"])
    dst = audio_path(settings.layout(), vod_id)
    last = [0.0]

    def progress(fraction: float) -> None:
        if fraction >= last[0] + 0.1 or fraction >= 1.0 > last[0]:
            last[0] = fraction
            context.log.info(f"audio {vod_id}: {fraction:.0%}")

    try:
        result = extract_audio(src, dst, on_progress=progress)
    except MediaError as e:
        raise dg.Failure(description=str(e)) from e
    row = {
        "vod_id": vod_id,
        "path": str(result.path),
        "duration_s": result.duration_s,
        "sample_rate": result.sample_rate,
        "loudness_in_lufs": result.loudness_in_lufs,
        "loudness_out_lufs": result.loudness_out_lufs,
        "true_peak_in_dbtp": result.true_peak_in_dbtp,
        "gain_db": result.gain_db,
        "size_bytes": result.size_bytes,
        "sha256": sha256_file(result.path),
        "source_sha256": source["sha256"],
    }
    expected = float(source["duration_s"] or 0.0)
    ratio = result.duration_s / expected if expected > 0 else 1.0
    yield dg.Output(
        pl.DataFrame([row], schema=SCHEMA),
        metadata={
            "path": dg.MetadataValue.path(row["path"]),
            "duration_s": round(result.duration_s, 3),
            "loudness_in_lufs": result.loudness_in_lufs,
            "loudness_out_lufs": result.loudness_out_lufs,
            "gain_db": result.gain_db,
            "size_bytes": result.size_bytes,
            "sha256": row["sha256"],
        },
    )
    yield dg.AssetCheckResult(
        check_name="audio_complete",
        passed=ratio >= COMPLETE_RATIO,
        severity=dg.AssetCheckSeverity.WARN,
        description=None
        if ratio >= COMPLETE_RATIO
        else f"{src.name}: audio ends at {result.duration_s:.1f} s but the file says {expected:.1f} s; truncated or damaged?",
        metadata={"audio_s": round(result.duration_s, 3), "container_s": round(expected, 3), "ratio": round(ratio, 4)},
    )
