"""Chat assets: `chat` + `chat_rejects` (one parse, two tables, check `chat_sane`) and `chat_clean`."""


import itertools
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import dagster as dg
import polars as pl

from chatlab.chat import parse_file
from chatlab.chat.clean import RULES, CleanConfig, clean, clean_to_parquet, report
from chatlab.chat.detect import DEFAULT_MAX_BYTES
from chatlab.chat.privacy import anonymize_text, load_salt
from chatlab.chat.sanity import check
from chatlab.chat.schema import KNOWN_BOTS, MESSAGE, REJECT, empty
from chatlab.config import Layout
from chatlab.defs.ocr.assets import messages_path
from chatlab.ingest.inbox import VodNotFound, find_vod
from chatlab.partitions import vod_partition, vods
from chatlab.resources import SCHEMA, ChatlabSettings, TableStream
from chatlab.storage import connect, table_names
from chatlab.defs.metadata import counts_md

CHAT_COLUMNS = {"vod_id": pl.String, **MESSAGE}
REJECT_COLUMNS = {"vod_id": pl.String, **REJECT}
# chat_clean: the message columns a training pair may see (no raw names), plus the decision.
CLEAN_COLUMNS = {
    "vod_id": pl.String,
    **{c: MESSAGE[c] for c in ("msg_id", "t_s", "user_hash", "text", "is_broadcaster", "is_moderator",
                               "is_subscriber", "is_vip", "is_bot", "is_command", "emote_only", "bits", "msg_type")},
    "keep": pl.Boolean,
    "drop_rule": pl.String,
}


# An export bigger than this on disk is parsed with parse_file(spill=...): its messages never sit in
# memory as one table (bounded memory for any size, issue 16). Below it the in-memory parse is
# faster; both give the same rows.
SPILL_ABOVE_BYTES = 16 << 20
BATCH_ROWS = 250_000  # chat_clean reads the chat in batches of this many messages


def _with_vod(df, vod_id: str, columns: dict[str, pl.DataType]):
    return df.with_columns(pl.lit(vod_id, pl.String).alias("vod_id")).select([pl.col(c).cast(t) for c, t in columns.items()])


def _vod_source(layout: Layout, vod_id: str) -> dict[str, Any]:
    """duration_s and started_at from the vod_source table, when it is there (it may not be yet)."""
    with connect(layout) as con:  # read-only: never waits for a writer
        if "vod_source" not in table_names(con, SCHEMA):
            return {}
        row = con.execute(f"SELECT duration_s, started_at FROM {SCHEMA}.vod_source WHERE vod_id = ?", [vod_id]).fetchone()
    if not row:
        return {}
    started = row[1]
    if isinstance(started, datetime) and started.tzinfo is None:
        started = started.replace(tzinfo=timezone.utc)
    return {"duration_s": row[0], "started_at": started}


def _start_time(conf: dict[str, Any], source: dict[str, Any]) -> tuple[datetime | None, str]:
    """The VOD's wall-clock start: `[vods.<id>.chat] start_time` wins, then vod_source; else the
    parser falls back to the export's metadata, then to the first message."""
    value = conf.get("start_time")
    if value:
        dt = value if isinstance(value, datetime) else datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        return (dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)), "config [vods.<id>.chat] start_time"
    if source.get("started_at"):
        return source["started_at"], "vod_source.started_at"
    return None, ""


@dg.multi_asset(
    outs={
        "chat": dg.AssetOut(
            metadata={"partition_expr": "vod_id"},
            kinds={"duckdb", "polars"},
            description="Every chat message of the VOD in one normalized schema (private: raw user names).",
        ),
        "chat_rejects": dg.AssetOut(
            metadata={"partition_expr": "vod_id"},
            kinds={"duckdb"},
            description="Records of the chat export that could not be read: file, line/index, reason, raw text.",
        ),
    },
    partitions_def=vods,
    deps=[dg.AssetKey("vod_source"), dg.AssetKey("chat_ocr")],
    group_name="chat",
    check_specs=[
        dg.AssetCheckSpec(
            "chat_sane",
            asset="chat",
            description="Times present and sortable, inside the VOD when its duration is known, duplicates reported, reject rate below [chat] max_reject_rate.",
        )
    ],
)
def chat_import(context: dg.AssetExecutionContext, settings: ChatlabSettings):
    vod_id = vod_partition(context)
    layout = settings.layout()
    conf = settings.section("chat", vod_id)
    try:
        vod = find_vod(layout.inbox, vod_id)
    except VodNotFound as e:
        raise dg.Failure(description=str(e)) from e
    source = _vod_source(layout, vod_id)
    # vod_source runs first in the per-VOD job. Without its row the start time and the duration
    # bound are unknown: said here, and chat_sane fails rather than passing a weaker test.
    no_source = "" if source else (f"no vod_source row for VOD {vod_id!r}: its start time and duration are unknown, "
                                   "so chat times cannot be checked against the VOD (materialize vod_source first)")
    if no_source:
        context.log.warning(no_source)
    start, start_source = _start_time(conf, source)
    bots = KNOWN_BOTS | {b.lower() for b in conf.get("clean", {}).get("bots_extra", [])}
    meta: dict[str, Any] = {}
    rcounts: dict[str, int] = {}
    ocr_file = messages_path(layout, vod_id)
    tmp_root = layout.root / "tmp"
    tmp_root.mkdir(parents=True, exist_ok=True)
    # the spilled parse's sorted Parquet lives here until the IO manager has stored it
    with tempfile.TemporaryDirectory(prefix=f"chat-{vod_id}-", dir=tmp_root) as tmp:
        yield from _chat_outputs(context, vod, vod_id, conf, source, no_source, start, start_source, bots, meta, rcounts,
                                 ocr_file, layout, Path(tmp))


def _chat_outputs(context, vod, vod_id, conf, source, no_source, start, start_source, bots, meta, rcounts, ocr_file,
                  layout, tmp: Path):
    if vod.chat is None and ocr_file.exists():
        # No export, but `chat_ocr` read the chat off the video: those messages are the chat.
        msgs, rej = pl.read_parquet(ocr_file), empty(REJECT)
        meta["chat_export"] = "none: messages read from the video by chat_ocr"
        meta["format"] = "ocr"
        meta["time_basis"] = "ocr: first seen on screen (seconds from the first audio sample; includes the stream delay)"
    elif vod.chat is None:
        msgs, rej = empty(MESSAGE), empty(REJECT)
        meta["chat_export"] = "none, and no chat found in the video: empty table"
        meta["time_basis"] = "none (no chat export)"
    else:
        t0 = time.perf_counter()
        big = vod.chat.stat().st_size > SPILL_ABOVE_BYTES
        r = parse_file(vod.chat, start_time=start, start_source=start_source, salt=load_salt(layout.root), bots=bots,
                       max_bytes=int(conf.get("max_bytes", DEFAULT_MAX_BYTES)), spill=tmp if big else None)
        msgs, rej, rcounts = (r.lazy() if r.parquet else r.messages), r.rejects, r.reject_counts()
        context.log.info(r.summary())
        meta |= {
            "chat_export": dg.MetadataValue.path(vod.chat.name),
            "format": r.format,
            "time_basis": r.time_basis,
            "start_time": r.start_time.isoformat() if r.start_time else "unknown",
            "parse_s": round(time.perf_counter() - t0, 3),
            "export": dg.MetadataValue.json({k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in r.meta.items()}),
            "notes": dg.MetadataValue.json({k: v for k, v in r.stats.items() if k not in ("parsed", "rejected")}),
        }
    chat_df = _with_vod(msgs, vod_id, CHAT_COLUMNS)  # a LazyFrame after a spilled parse
    rej_df = _with_vod(rej, vod_id, REJECT_COLUMNS)
    sanity = check(chat_df, rej_df.height, source.get("duration_s"), float(conf.get("max_reject_rate", 0.05)))
    n_msgs = sanity.figures["messages"]
    if no_source:
        sanity.problems.append(no_source)
        sanity.passed = False
        meta["vod_source"] = no_source
    meta |= {
        "parsed": n_msgs,
        "rejected": rej_df.height,
        "users": int(chat_df.lazy().select(pl.col("user_hash").n_unique()).collect().item()) if n_msgs else 0,
        "rejects_by_reason": counts_md(rcounts or {"none": 0}, "reason"),
        "dagster/row_count": n_msgs,
    }
    meta |= {f"rejected_{k}": v for k, v in rcounts.items()}
    yield dg.Output(chat_df, output_name="chat", metadata=meta)
    yield dg.Output(
        rej_df,
        output_name="chat_rejects",
        metadata={"dagster/row_count": rej_df.height, "rejects_by_reason": counts_md(rcounts or {"none": 0}, "reason"), **{f"rejected_{k}": v for k, v in rcounts.items()}},
    )
    yield dg.AssetCheckResult(
        check_name="chat_sane",
        asset_key="chat",
        passed=sanity.passed,
        severity=dg.AssetCheckSeverity.ERROR,
        description="; ".join(sanity.problems) or "ok",
        metadata={k: v for k, v in sanity.figures.items()},
    )


@dg.asset(
    partitions_def=vods,
    metadata={"partition_expr": "vod_id"},
    ins={"chat": dg.AssetIn(metadata={"stream": True})},
    group_name="chat",
    kinds={"duckdb", "polars"},
    description="The chat with the cleaning rules applied as columns (keep, drop_rule); no raw user names, @mentions replaced.",
)
def chat_clean(context: dg.AssetExecutionContext, settings: ChatlabSettings, chat: TableStream):
    vod_id = vod_partition(context)
    cfg = CleanConfig.from_settings(settings.section("chat", vod_id).get("clean", {}))
    tmp_root = settings.layout().root / "tmp"
    tmp_root.mkdir(parents=True, exist_ok=True)

    def private_columns_out(df: pl.DataFrame) -> pl.DataFrame:
        return df.with_columns(anonymize_text(pl.col("text")).alias("text")).select(
            [pl.col(c).cast(t) for c, t in CLEAN_COLUMNS.items() if c not in ("keep", "drop_rule")])

    # The chat is read in batches and cleaned on small per-message keys (chatlab.chat.clean):
    # memory stays bounded whatever the chat's size; the parts are stored by the IO manager.
    # A chat of one batch (most VODs) is cleaned in memory: the same rows, no files.
    batches = chat.batches(BATCH_ROWS)
    head = list(itertools.islice(batches, 2))
    with tempfile.TemporaryDirectory(prefix=f"chat_clean-{vod_id}-", dir=tmp_root) as tmp:
        if len(head) < 2:
            cleaned = clean(head[0], cfg) if head else None
            counts = report(cleaned) if cleaned is not None else report(pl.DataFrame(schema={"drop_rule": pl.String, "keep": pl.Boolean}))
            out = (private_columns_out(cleaned).with_columns(cleaned["drop_rule"], cleaned["keep"]) if cleaned is not None
                   else pl.DataFrame(schema=CLEAN_COLUMNS))
            out = out.select([pl.col(c).cast(t) for c, t in CLEAN_COLUMNS.items()])
        else:
            files, counts = clean_to_parquet(itertools.chain(head, batches), cfg, Path(tmp), private_columns_out)
            out = pl.scan_parquet(files).select([pl.col(c).cast(t) for c, t in CLEAN_COLUMNS.items()])
        dropped = {k: v for k, v in counts.items() if k in RULES}
        meta = {
            "kept": counts["kept"],
            "total": counts["total"],
            "filter_report": counts_md(dropped, "rule"),
            "dagster/row_count": counts["total"],
            **{f"dropped_{k}": v for k, v in dropped.items()},
        }
        yield dg.Output(out, metadata=meta)
