"""`vod_source`: what a VOD file is (PyAV probe + checksum), one DuckDB row per VOD."""

import json
from datetime import datetime, timezone

import dagster as dg
import polars as pl

from chatlab.ingest.inbox import VodNotFound, find_vod, sha256_file, vod_fingerprint
from chatlab.media.probe import MediaError, probe
from chatlab.partitions import vod_partition, vods
from chatlab.resources import ChatlabSettings

SCHEMA = {
    "vod_id": pl.String,
    "file_name": pl.String,
    "path": pl.String,
    "chat_path": pl.String,
    "kind": pl.String,
    "size_bytes": pl.Int64,
    "sha256": pl.String,
    "fingerprint": pl.String,
    "container": pl.String,
    "duration_s": pl.Float64,
    "start_time_s": pl.Float64,
    "started_at": pl.Datetime("us", "UTC"),
    "bit_rate": pl.Int64,
    "has_video": pl.Boolean,
    "has_audio": pl.Boolean,
    "video_codec": pl.String,
    "width": pl.Int32,
    "height": pl.Int32,
    "fps": pl.Float64,
    "audio_codec": pl.String,
    "sample_rate": pl.Int32,
    "channels": pl.Int32,
    "streams": pl.String,
    "probed_at": pl.Datetime("us", "UTC"),
}


@dg.asset(
    partitions_def=vods,
    metadata={"partition_expr": "vod_id"},
    group_name="ingest",
    kinds={"pyav", "duckdb"},
    description="The VOD file in the inbox: size, sha256, duration, streams, fps, resolution, start time.",
)
def vod_source(context: dg.AssetExecutionContext, settings: ChatlabSettings) -> dg.Output[pl.DataFrame]:
    vod_id = vod_partition(context)
    try:
        vod = find_vod(settings.layout().inbox, vod_id)
        info = probe(vod.media)
    except (VodNotFound, MediaError) as e:
        raise dg.Failure(description=str(e)) from e
    context.log.info(f"{vod.media.name}: {info.container}, {info.duration_s:.1f} s; hashing {vod.media.stat().st_size:,} bytes")
    v, a = info.video, info.audio
    row = {
        "vod_id": vod_id,
        "file_name": vod.media.name,
        "path": str(vod.media),
        "chat_path": str(vod.chat) if vod.chat else None,
        "kind": vod.kind,
        "size_bytes": vod.media.stat().st_size,
        "sha256": sha256_file(vod.media),
        "fingerprint": vod_fingerprint(vod),
        "container": info.container,
        "duration_s": info.duration_s,
        "start_time_s": info.start_time_s,
        "started_at": info.started_at,
        "bit_rate": info.bit_rate,
        "has_video": v is not None,
        "has_audio": a is not None,
        "video_codec": v.codec if v else None,
        "width": v.width if v else None,
        "height": v.height if v else None,
        "fps": v.fps if v else None,
        "audio_codec": a.codec if a else None,
        "sample_rate": a.sample_rate if a else None,
        "channels": a.channels if a else None,
        "streams": json.dumps(info.streams_dict()),
        "probed_at": datetime.now(timezone.utc),
    }
    if a is None:
        context.log.warning(f"{vod.media.name}: no audio stream; the audio asset will fail for this VOD")
    meta = {
        "path": dg.MetadataValue.path(row["path"]),
        "chat_export": dg.MetadataValue.path(row["chat_path"]) if vod.chat else "none",
        "size_bytes": row["size_bytes"],
        "sha256": row["sha256"],
        "fingerprint": row["fingerprint"],
        "duration_s": round(info.duration_s, 3),
        "container": info.container,
        "streams": dg.MetadataValue.json(info.streams_dict()),
        "started_at": info.started_at.isoformat() if info.started_at else "unknown",
    }
    if v:
        meta |= {"resolution": f"{v.width}x{v.height}", "fps": v.fps or 0.0}
    return dg.Output(pl.DataFrame([row], schema=SCHEMA), metadata=meta)
