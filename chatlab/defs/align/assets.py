"""`offsets` (check `alignment_confident`, blocking), `aligned_pairs` (check `pairs_provenance`)
and `splits` (check `no_leakage`): thin wiring around chatlab.align.

All three are short steps (no pool: DuckLake takes several writers): the estimate for a 10-hour VOD with a million
messages takes seconds, so it runs where its inputs are loaded, and a failed
`alignment_confident` stops `aligned_pairs`, `splits` and the export for that VOD only.
"""


import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import dagster as dg
import numpy as np
import polars as pl

from chatlab.align.audiocut import wav_reader
from chatlab.align.config import AlignConfig
from chatlab.align.curve import OffsetCurve
from chatlab.align.estimate import estimate_offsets, verdict, with_audio
from chatlab.align.pairs import PAIR_BLOCK, build_pairs, empty_pairs, iter_pairs
from chatlab.align.plot import offsets_png
from chatlab.align.prior import Prior, prior_from_export
from chatlab.align.splits import SPLIT_COLUMNS, SplitConfig, assign, fingerprint, leakage
from chatlab.config import Layout
from chatlab.media.audio import audio_path
from chatlab.partitions import vod_partition, vods
from chatlab.resources import SCHEMA, ChatlabSettings, TableStream
from chatlab.storage.lake import ParquetFiles
from chatlab.storage import connect, table_names
from chatlab.defs.metadata import png_md
from chatlab.review import page_url

OFFSETS_COLUMNS = {
    "vod_id": pl.String,
    "offsets_version": pl.String,
    "method": pl.String,  # estimated | override_offset | override_anchors | none
    "offset_s": pl.Float64,  # of the first segment, at its start
    "drift_s_per_h": pl.Float64,
    "n_segments": pl.Int32,
    "segments": pl.String,  # JSON list of {start_s, end_s, offset_s, drift_s_per_h}
    "confidence": pl.Float64,
    "residual_s": pl.Float64,
    "anchors": pl.Int64,
    "reaction_delay_s": pl.Float64,
    "reaction_p10_s": pl.Float64,
    "reaction_p90_s": pl.Float64,
    "passed": pl.Boolean,
    "problems": pl.String,
    "asr_model": pl.String,
    "settings": pl.String,
}


def _config(settings: ChatlabSettings, vod_id: str) -> AlignConfig:
    try:
        return AlignConfig.from_mapping(settings.section("align", vod_id))
    except ValueError as e:
        raise dg.Failure(description=str(e)) from e


def _asr_model(segments: pl.DataFrame) -> str:
    if segments.height == 0 or "asr_model" not in segments.columns:
        return "unknown"
    r = segments.row(0, named=True)
    return f"{r['asr_model']}@{r.get('asr_version') or '?'}"


def _recording_s(layout: Layout, vod_id: str) -> float | None:
    """The recording's length from vod_source (read-only; None when the table or row is not there)."""
    with connect(layout) as con:
        if "vod_source" not in table_names(con, SCHEMA):
            return None
        row = con.execute(f"SELECT duration_s FROM {SCHEMA}.vod_source WHERE vod_id = ?", [vod_id]).fetchone()
    return float(row[0]) if row and row[0] is not None else None


def _export_prior(context: dg.AssetExecutionContext, layout: Layout, vod_id: str) -> tuple[Prior | None, str]:
    """The prior from what `chat` recorded about the export (its `export` metadata: the VOD's start,
    end, length) against the recording's length in vod_source; None and the reason otherwise."""
    recs = context.instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey("chat"), asset_partitions=[vod_id]), limit=1).records
    if not recs or recs[0].asset_materialization is None:
        return None, "no materialization of chat for this VOD to read the export's metadata from"
    export = recs[0].asset_materialization.metadata.get("export")
    if export is None or not isinstance(export.value, dict):
        why = recs[0].asset_materialization.metadata.get("chat_export")
        return None, f"the chat came with no export metadata ({why.value if why is not None else 'no chat export'})"
    return prior_from_export(export.value, _recording_s(layout, vod_id))


def _prior_figures(al: Any, prior: Prior | None, why: str, plain: Any, plain_passed: bool | None) -> dict[str, Any]:
    """Which prior was used and how much it moved the answer: the coarse windows whose choice it
    changed, and the largest difference of the final curve from the estimate made without the prior
    (`plain`, made only when a window moved: otherwise the two are the same estimate, 0 s)."""
    if prior is None:
        return {"prior": f"none: {why}"}
    f = al.figures.get("prior", {})
    out: dict[str, Any] = {"prior": prior.source, "prior_offset_s": prior.offset_s, "prior_sigma_s": prior.sigma_s,
                           "prior_windows_moved": f.get("windows_moved", 0),
                           "prior_estimate_minus_prior_s": f.get("estimate_minus_prior_s"), "prior_moved_answer_s": 0.0}
    if plain is None:
        return out
    if al.curve is None or plain.curve is None:
        out["prior_moved_answer_s"] = f"a curve {'with' if al.curve is not None else 'without'} the prior only"
    else:
        t = np.linspace(min(s.start_s for s in al.curve.segments), max(s.end_s for s in al.curve.segments), 2001)
        out["prior_moved_answer_s"] = round(float(np.max(np.abs(al.curve.offset(t) - plain.curve.offset(t)))), 3)
    out["prior_passed_without_it"] = plain_passed
    return out


def _audio_at_cuts(al: Any, layout: Layout, vod_id: str, cfg: AlignConfig) -> dict[str, Any]:
    """Loose cuts placed by a step in the background inside their ranges (chatlab.align.audiocut),
    from the `audio` artifact, before the gate (a cut the audio pins is no loose cut: estimate.with_audio);
    the curve changes in place, the figures say what moved and why."""
    if al.method != "estimated" or al.curve is None or not any(s.cut_lo_s is not None for s in al.curve.segments):
        return {}
    wav = audio_path(layout, vod_id)
    if not wav.exists():
        return {"audio_at_cuts": f"not used: no audio artifact ({wav.name} of the audio asset)"}
    try:
        with_audio(al, wav_reader(wav), cfg)
        rep = al.figures["audio_at_cuts"]
    except Exception as e:  # noqa: BLE001 - a damaged WAV (wave.Error, ValueError, EOF) must not fail the estimate
        return {"audio_at_cuts": f"not used: {wav.name}: {type(e).__name__}: {e}"}
    md = "| cut (audio s) | range | moved_s | z | step_db | why |\n|---|---|---|---|---|---|\n" + "\n".join(
        f"| {r['cut_s']} | {r['range'][0]}..{r['range'][1]} | {r.get('moved_s', 0.0)} | {r.get('z', '')} | {r.get('step_db', '')} | {r['why']} |"
        for r in rep)
    return {"audio_at_cuts": dg.MetadataValue.md(md), "audio_cuts_moved": sum("moved_s" in r for r in rep)}


KEPT_CHAT = {"where": "keep", "order_by": ["t_s", "msg_id"]}


def _chat_total(layout: Layout, vod_id: str) -> int:
    """Messages in chat_clean for the VOD, kept or not (aligned_pairs reads only the kept ones)."""
    with connect(layout) as con:
        return int(con.execute(f"SELECT count(*) FROM {SCHEMA}.chat_clean WHERE vod_id = ?", [vod_id]).fetchone()[0])


def _num(x: float | None) -> float | None:
    return None if x is None or x != x else round(float(x), 4)


@dg.asset(
    partitions_def=vods,
    # chat_clean: only the kept messages and the columns used, sorted as prepare_chat wants them
    # (it then neither filters nor sorts): a big chat is read in batches and held once (issue 16)
    ins={"transcript_words": dg.AssetIn(), "transcript_segments": dg.AssetIn(),
         "chat_clean": dg.AssetIn(metadata=KEPT_CHAT | {"columns": ["msg_id", "t_s", "text"]})},
    metadata={"partition_expr": "vod_id"},
    group_name="align",
    kinds={"duckdb", "polars"},
    check_specs=[dg.AssetCheckSpec(
        "alignment_confident", asset="offsets", blocking=True,
        description="Confidence, residual, offset and drift within the [align] limits (or a manual override in "
        "[vods.<id>.align]); fails with the reason and stops aligned_pairs and everything after it for this VOD.")],
    description="The chat clock against the audio clock: offset(t) piecewise linear on the chat clock "
    "(t_speech = t_chat - offset(t_chat)), from activity cross-correlation and lexical anchors; one row per VOD.",
)
def offsets(context: dg.AssetExecutionContext, settings: ChatlabSettings, transcript_words: pl.DataFrame,
            transcript_segments: pl.DataFrame, chat_clean: pl.DataFrame):
    vod_id = vod_partition(context)
    cfg = _config(settings, vod_id)
    prior, why = (None, "manual override") if cfg.overridden else _export_prior(context, settings.layout(), vod_id)
    al = estimate_offsets(transcript_words, chat_clean, cfg, prior=prior)
    audio_meta = _audio_at_cuts(al, settings.layout(), vod_id, cfg)
    problems = verdict(al, cfg)
    review = settings.section("review", vod_id)  # the review page's record of this VOD
    if review.get("status") == "rejected":
        # A person looked and said no: the gate stops this VOD's pairs, whatever the figures say.
        problems.append(f"rejected on the review page ({review.get('saved_at', 'no time recorded')})")
    plain, plain_passed = None, None
    if prior is not None and al.figures.get("prior", {}).get("windows_moved", 0):
        plain = estimate_offsets(transcript_words, chat_clean, cfg)  # the same VOD without the prior: what it changed
        plain_passed = not verdict(plain, cfg)
    prior_meta = _prior_figures(al, prior, why, plain, plain_passed)
    asr_model = _asr_model(transcript_segments)
    version = al.curve.version({"asr": asr_model, "settings": cfg.settings()}) if al.curve else "none"
    doc = {**al.to_json(), "vod_id": vod_id, "offsets_version": version, "asr_model": asr_model, "passed": not problems}
    out_dir = settings.layout().artifact_dir("offsets", vod_id)
    out_dir.mkdir(parents=True, exist_ok=True)
    tmp = out_dir / "offsets.json.tmp"
    tmp.write_text(json.dumps(doc, indent=1, default=str), encoding="utf-8")
    os.replace(tmp, out_dir / "offsets.json")
    png = offsets_png(al, f"{vod_id}: {al.method}, confidence {al.confidence:.2f}")
    (out_dir / "offsets.png").write_bytes(png)
    row = {
        "vod_id": vod_id, "offsets_version": version, "method": al.method, "offset_s": _num(al.offset_s),
        "drift_s_per_h": _num(al.drift_s_per_h), "n_segments": len(al.curve.segments) if al.curve else 0,
        "segments": json.dumps(al.curve.to_list() if al.curve else []), "confidence": round(al.confidence, 4),
        "residual_s": _num(al.residual_s), "anchors": al.n_anchors, "reaction_delay_s": _num(al.reaction_delay_s),
        "reaction_p10_s": _num(al.reaction_p10_s), "reaction_p90_s": _num(al.reaction_p90_s), "passed": not problems,
        "problems": "; ".join(problems), "asr_model": asr_model, "settings": json.dumps(cfg.settings(), default=str),
    }
    per_seg = al.figures.get("segments", [])  # each segment's own confidence and anchors (as on the plot)

    def _conf(k: int) -> str:
        return f"{per_seg[k]['confidence']:.2f} | {per_seg[k]['anchors']}" if k < len(per_seg) else "- | -"

    seg_md = ("| start_s | end_s | offset_s | drift_s_per_h | confidence | anchors | cut before it (audio s) |\n"
              "|---|---|---|---|---|---|---|\n") + "\n".join(
        f"| {s['start_s']} | {s['end_s']} | {s['offset_s']} | {s['drift_s_per_h']} | {_conf(k)} | "
        + (f"{s['start_s'] - s['offset_s']:.1f} ({s['cut_lo_s']:.1f}..{s['cut_hi_s']:.1f})" if "cut_lo_s" in s else "") + " |"
        for k, s in enumerate(json.loads(row["segments"])))
    meta: dict[str, Any] = {
        "offset_s": row["offset_s"], "drift_s_per_h": row["drift_s_per_h"], "confidence": row["confidence"],
        "residual_s": row["residual_s"], "anchors": row["anchors"], "reaction_delay_s": row["reaction_delay_s"],
        "reaction_p10_s": row["reaction_p10_s"], "reaction_p90_s": row["reaction_p90_s"],
        "asr_end_bias_s": cfg.asr_end_bias_s,  # the ASR's early sentence ends, added back to the anchors' reference
        "method": al.method, "offsets_version": version, "segments": dg.MetadataValue.md(seg_md),
        **prior_meta, **audio_meta,
        "path": dg.MetadataValue.path(str(out_dir / "offsets.json")),
        "review": dg.MetadataValue.url(page_url(vod_id)),  # `chatlab review`: check and correct this VOD by eye
        "plot": png_md(png, "offsets"),
        "figures": dg.MetadataValue.json(json.loads(json.dumps(al.to_json()["figures"], default=str))),
    }
    yield dg.Output(pl.DataFrame([row], schema=OFFSETS_COLUMNS), metadata={k: v for k, v in meta.items() if v is not None})
    yield dg.AssetCheckResult(
        check_name="alignment_confident", passed=not problems, severity=dg.AssetCheckSeverity.ERROR,
        description="; ".join(problems) if problems else (f"manual override ({al.method})" if al.method.startswith("override") else "confident"),
        metadata={"confidence": row["confidence"], "method": al.method, "reasons": "; ".join(problems) or "none",
                  "min_confidence": cfg.min_confidence, "max_residual_s": cfg.max_residual_s},
    )


def _filter_set(settings: ChatlabSettings, vod_id: str, cfg: AlignConfig) -> str:
    clean = settings.section("chat", vod_id).get("clean", {})
    h = hashlib.sha1(json.dumps(clean, sort_keys=True, default=str).encode()).hexdigest()[:8]
    return f"chat_clean:{h};min_context_words={cfg.min_context_words};context_s={cfg.context_s:g};chat_k={cfg.chat_k}" + (
        f";context_margin_se={cfg.context_margin_se:g};context_margin_max_s={cfg.context_margin_max_s:g}" if cfg.context_margin_se else "")


class LakeChat:
    """The kept chat of one VOD in the lake, read a chat-clock block at a time (pairs.ChatWindows)."""

    def __init__(self, stream: TableStream) -> None:
        self.stream = stream

    def count(self) -> int:
        return int(self.stream.aggregate("count(*) AS n")["n"][0])

    def bounds(self) -> tuple[float, float] | None:
        r = self.stream.aggregate('min("t_s") AS lo, max("t_s") AS hi').row(0)
        return None if r[0] is None else (float(r[0]), float(r[1]))

    def buckets(self, width_s: float) -> list[tuple[int, int]]:
        b = self.stream.aggregate(f'CAST(floor("t_s" / {float(width_s)!r}) AS BIGINT) AS b, count(*) AS n',
                                  'WHERE b IS NOT NULL GROUP BY b ORDER BY b')
        return list(zip(b["b"].to_list(), b["n"].to_list()))

    def read(self, lo: float | None, hi: float | None) -> pl.DataFrame:
        return self.stream.between("t_s", lo, hi).frame()


# A VOD with more kept messages than this is paired a time block at a time, and its pairs go to
# Parquet files under data/tmp/ as they are made (the IO manager inserts from them); fewer: the
# whole chat in memory, as one block.
STREAM_ABOVE = PAIR_BLOCK
BLOCK_ROWS = PAIR_BLOCK  # messages per time block when streamed


@dg.asset(
    partitions_def=vods,
    # chat_clean as for offsets, but as a TableStream: a big chat is read a time block at a time
    ins={"offsets": dg.AssetIn(), "transcript_words": dg.AssetIn(),
         "chat_clean": dg.AssetIn(metadata=KEPT_CHAT | {"stream": True, "columns": ["msg_id", "t_s", "user_hash", "text"]})},
    metadata={"partition_expr": "vod_id"},
    group_name="align",
    kinds={"duckdb", "polars"},
    check_specs=[dg.AssetCheckSpec(
        "pairs_provenance", asset="aligned_pairs",
        description="Every pair has msg_id, offsets version, ASR model and filter set; no context reaches past "
        "the moment the viewer typed; no raw user names.")],
    description="One training pair per kept chat message: the transcript of the last [align] context_s seconds "
    "before t_speech, the last chat_k messages, the message itself, and provenance.",
)
def aligned_pairs(context: dg.AssetExecutionContext, settings: ChatlabSettings, offsets: pl.DataFrame,
                  transcript_words: pl.DataFrame, chat_clean: TableStream):
    vod_id = vod_partition(context)
    cfg = _config(settings, vod_id)
    if offsets.height != 1 or not offsets["passed"][0]:
        why = offsets["problems"][0] if offsets.height else "no offsets row"
        raise dg.Failure(description=f"offsets for {vod_id} did not pass alignment_confident ({why}); "
                         f"fix the input or set [vods.{vod_id}.align] offset_s / anchors")
    o = offsets.row(0, named=True)
    curve = OffsetCurve.from_list(json.loads(o["segments"]))
    prov = {"offsets_version": o["offsets_version"], "asr_model": o["asr_model"], "filter_set": _filter_set(settings, vod_id, cfg)}
    chat = LakeChat(chat_clean)
    tmp_root = settings.layout().root / "tmp"
    tmp_root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="pairs-", dir=tmp_root) as tmp:
        if chat.count() <= STREAM_ABOVE:  # a small chat: in memory, one block
            pairs, report = build_pairs(vod_id, transcript_words, chat_clean.frame(), curve, cfg, **prov)
            blocks, out = [pairs], pairs
        else:
            report = {}
            blocks = iter_pairs(vod_id, transcript_words, chat, curve, cfg, report=report, block_rows=BLOCK_ROWS, **prov)
            out = None
        leaks = missing = n = 0
        preview: list[dict[str, Any]] = []
        parts, columns = [], set()
        for block in blocks:
            n += block.height
            columns |= set(block.columns)
            leaks += int((block["context_end_s"] > block["t_speech_s"] + 1e-6).sum()) if block.height else 0
            missing += int(block.select(pl.any_horizontal(pl.col("msg_id", "offsets_version", "asr_model", "filter_set").is_null()).sum()).item()) if block.height else 0
            if len(preview) < 3 and block.height:
                preview += block.head(3 - len(preview)).select("t_speech_s", "transcript", "target").to_dicts()
            if out is None and block.height:  # written as it is made: only one block's pairs in memory
                parts.append(Path(tmp) / f"part-{len(parts):05d}.parquet")
                block.write_parquet(parts[-1])
        if out is None:
            if not parts:
                parts.append(Path(tmp) / "part-00000.parquet")
                empty_pairs().write_parquet(parts[0])
            out = ParquetFiles(tuple(parts))
        total = _chat_total(settings.layout(), vod_id)  # the input held only the kept messages
        report = {"messages": total, "dropped_by_chat_clean": total - report["messages"] + report["dropped_by_chat_clean"],
                  **{k: v for k, v in report.items() if k not in ("messages", "dropped_by_chat_clean")}}
        raw_names = [c for c in ("user", "user_login", "user_id") if c in columns]
        report_md = "| step | messages |\n|---|---|\n" + "\n".join(f"| {k} | {v} |" for k, v in report.items())
        yield dg.Output(out, metadata={
            "dagster/row_count": n, "filter_report": dg.MetadataValue.md(report_md),
            **{f"filter_{k}": v for k, v in report.items()}, "offsets_version": o["offsets_version"],
            "preview": dg.MetadataValue.json(preview), "parts": len(parts),
        })  # the IO manager writes the parts before the generator goes on (and removes them)
    problems = [f"{leaks} contexts end after t_speech"] if leaks else []
    problems += [f"{missing} rows without provenance"] if missing else []
    problems += [f"raw user columns {raw_names}"] if raw_names else []
    yield dg.AssetCheckResult(check_name="pairs_provenance", passed=not problems, severity=dg.AssetCheckSeverity.ERROR,
                              description="; ".join(problems) or "ok", metadata={"rows": n})


def _other_splits(layout: Layout) -> pl.DataFrame:
    with connect(layout) as con:
        found = "splits" in table_names(con, SCHEMA)
        return con.execute(f"SELECT * FROM {SCHEMA}.splits").pl() if found else pl.DataFrame(schema=SPLIT_COLUMNS)


@dg.asset(
    partitions_def=vods,
    ins={"transcript_words": dg.AssetIn()},
    deps=[dg.AssetKey("aligned_pairs")],
    metadata={"partition_expr": "vod_id"},
    group_name="align",
    kinds={"duckdb"},
    check_specs=[dg.AssetCheckSpec("no_leakage", asset="splits",
                                   description="No VOD in two splits; no near-duplicate streams (transcript MinHash) in different splits.")],
    description="The split (train / validation / test) of the whole VOD: hash of [splits] seed and the VOD's group, "
    "near-duplicate streams grouped, overrides in [splits] overrides or [vods.<id>.splits] split.",
)
def splits(context: dg.AssetExecutionContext, settings: ChatlabSettings, transcript_words: pl.DataFrame):
    vod_id = vod_partition(context)
    section = settings.section("splits", vod_id)
    try:
        cfg = SplitConfig.from_mapping(section)
    except ValueError as e:
        raise dg.Failure(description=str(e)) from e
    if section.get("split"):  # [vods.<id>.splits] split = "test"
        cfg = SplitConfig(**{**cfg.__dict__, "overrides": {**cfg.overrides, vod_id: str(section["split"])}})
        SplitConfig.from_mapping({"overrides": cfg.overrides})
    others = _other_splits(settings.layout())
    row = assign(vod_id, fingerprint(transcript_words), others, cfg)
    r = row.row(0, named=True)
    yield dg.Output(row, metadata={"split": r["split"], "method": r["method"], "group_id": r["group_id"],
                                   "near_duplicate_of": r["near_duplicate_of"] or "none", "similarity": r["similarity"]})
    everything = pl.concat([others.filter(pl.col("vod_id") != vod_id), row])
    problems = leakage(everything, cfg.near_duplicate)
    yield dg.AssetCheckResult(check_name="no_leakage", passed=not problems, severity=dg.AssetCheckSeverity.ERROR,
                              description="; ".join(problems) or "ok",
                              metadata={"vods": everything.height, **{s: int((everything["split"] == s).sum()) for s in ("train", "validation", "test")}})
