"""What the review page shows, assembled from the tables (``tables``), the artifacts and the
saved overrides: the VOD list, one VOD's summary, a message's pair, the evaluation samples."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import polars as pl

from chatlab import config as cfg
from chatlab.align.config import AlignConfig
from chatlab.config import Layout
from chatlab.ingest.inbox import is_valid_vod_id
from chatlab.review import overrides, tables
from chatlab.review.peaks import read_info
from chatlab.review.timeline import curve_of, curve_points, why_no_pair

PEAKS_ASSET = "review_peaks"


def check_vod_id(vod_id: str) -> str:
    if not isinstance(vod_id, str) or not is_valid_vod_id(vod_id):
        raise LookupError(f"{vod_id!r} is not a VOD id (1-64 of a-z, 0-9, _ and -)")
    return vod_id


def align_config(layout: Layout, vod_id: str) -> AlignConfig:
    return AlignConfig.from_mapping(cfg.section(cfg.load_config(None, layout.root), "align", vod_id))


def _one(df: pl.DataFrame) -> dict[str, Any] | None:
    return df.row(0, named=True) if df.height else None


def offsets_row(layout: Layout, vod_id: str) -> dict[str, Any] | None:
    return _one(tables.per_vod(layout, "offsets", vod_id))


def vod_ids(layout: Layout) -> list[str]:
    ids = set(tables.counts(layout, "vod_source")) | set(tables.counts(layout, "chat_clean"))
    return sorted(v for v in ids if is_valid_vod_id(v))


def _checks(off: dict[str, Any] | None, pairs: int, audio: dict[str, Any] | None) -> dict[str, str]:
    out = {}
    if off is not None:
        out["alignment_confident"] = "passed" if off["passed"] else f"failed: {off['problems']}"
    if audio is not None:
        out["audio"] = f"{audio['duration_s']:.0f} s"
    out["pairs"] = str(pairs)
    return out


def vod_list(layout: Layout) -> list[dict[str, Any]]:
    saved = overrides.read(layout)
    pairs = tables.counts(layout, "aligned_pairs")
    msgs = tables.counts(layout, "chat_clean")
    offs = {r["vod_id"]: r for r in tables.all_rows(layout, "offsets").iter_rows(named=True)}
    spl = {r["vod_id"]: r["split"] for r in tables.all_rows(layout, "splits", "vod_id, split").iter_rows(named=True)}
    audio = {r["vod_id"]: r for r in tables.all_rows(layout, "audio", "vod_id, duration_s").iter_rows(named=True)}
    out = []
    for v in vod_ids(layout):
        o = offs.get(v)
        rec = saved.get(v, {})
        out.append({
            "vod_id": v, "duration_s": audio.get(v, {}).get("duration_s"), "messages": msgs.get(v, 0), "pairs": pairs.get(v, 0),
            "method": o and o["method"], "confidence": o and o["confidence"], "offset_s": o and o["offset_s"],
            "passed": o and o["passed"], "problems": o and o["problems"], "split": spl.get(v),
            "override": rec.get("align"), "review": rec.get("review"), "checks": _checks(o, pairs.get(v, 0), audio.get(v)),
        })
    return out


def media_paths(layout: Layout, vod_id: str) -> dict[str, Path]:
    """The audio WAV and the VOD's video, only where they lie inside the data layout."""
    out = {}
    wav = layout.artifact_dir("audio", vod_id) / "audio.wav"
    if wav.is_file():
        out["audio"] = wav
    src = _one(tables.per_vod(layout, "vod_source", vod_id, "path, has_video"))
    if src and src["has_video"] and src["path"]:
        p = Path(src["path"]).resolve()
        inbox = layout.inbox.resolve()
        if p.is_file() and p.is_relative_to(inbox):  # a table row never points the page outside the inbox
            out["video"] = p
    return out


def vod_summary(layout: Layout, vod_id: str) -> dict[str, Any]:
    check_vod_id(vod_id)
    chat = tables.chat_times(layout, vod_id)
    # the chat's text is read meanwhile, for the list the page asks for next
    threading.Thread(target=tables.chat, args=(layout, vod_id), daemon=True).start()
    off = offsets_row(layout, vod_id)
    curve = curve_of(off)
    peaks = read_info(layout.artifact_dir(PEAKS_ASSET, vod_id))
    audio = _one(tables.per_vod(layout, "audio", vod_id, "duration_s"))
    duration = (audio or {}).get("duration_s") or (peaks.duration_s if peaks else None)
    if duration is None:
        duration = float(chat["t_s"].max() or 0.0) if chat.height else 0.0
    saved = overrides.read(layout).get(vod_id, {})
    acfg = align_config(layout, vod_id)
    spl = _one(tables.per_vod(layout, "splits", vod_id, "split, method"))
    media = media_paths(layout, vod_id)
    return {
        "vod_id": vod_id, "duration_s": duration, "messages": chat.height,
        "kept": int(chat["keep"].sum()) if chat.height else 0,
        "pairs": tables.counts(layout, "aligned_pairs").get(vod_id, 0),
        "offsets": None if off is None else {k: off[k] for k in ("method", "offset_s", "drift_s_per_h", "confidence", "residual_s",
                                                                  "anchors", "reaction_delay_s", "passed", "problems", "offsets_version")},
        "segments": json.loads(off["segments"]) if off else [],
        "points": curve_points(curve) if curve else [],
        "cut_zones": curve.cut_zones() if curve else [],
        "chat_span": [float(chat["t_s"].min()), float(chat["t_s"].max())] if chat.height else [0.0, 0.0],
        "reaction_delay_s": (off or {}).get("reaction_delay_s") or acfg.reaction_median_s,
        "peaks": None if peaks is None else peaks.__dict__,
        "split": spl, "override": saved.get("align"), "review": saved.get("review"),
        "media": {k: f"/media/{vod_id}/{k}" for k in media},
    }


def _examples(layout: Layout) -> pl.DataFrame:
    """The current training set's rows (prompt, completion as the model trained on them), if built."""
    from chatlab.train import pipeline

    try:
        version = pipeline.current_version(layout)
    except FileNotFoundError:
        return pl.DataFrame()
    p = pipeline.training_set_root(layout) / version / "examples.parquet"
    key = (str(p), p.stat().st_mtime_ns if p.exists() else 0)
    hit = _EXAMPLES.get("key")
    if hit != key:
        _EXAMPLES.clear()
        _EXAMPLES.update(key=key, df=pl.read_parquet(p) if p.exists() else pl.DataFrame(), version=version)
    return _EXAMPLES["df"]


_EXAMPLES: dict[str, Any] = {}


def message_detail(layout: Layout, vod_id: str, i: int) -> dict[str, Any]:
    """Message ``i`` (chat-clock order) and its pair as training sees it, or why it has none."""
    check_vod_id(vod_id)
    chat = tables.chat(layout, vod_id)
    if not 0 <= i < chat.height:
        raise LookupError(f"{vod_id}: no message {i} (the VOD has {chat.height})")
    msg = chat.row(i, named=True)
    off = offsets_row(layout, vod_id)
    curve = curve_of(off)
    acfg = align_config(layout, vod_id)
    out: dict[str, Any] = {"message": msg, "t_speech_s": float(curve.to_speech(msg["t_s"])) if curve else None}
    pairs = tables.pairs(layout, vod_id)
    row = _one(pairs.filter(pl.col("msg_id") == msg["msg_id"])) if pairs.height else None
    if row is None:
        out["pair"] = None
        out["why"] = why_no_pair(msg, off, curve, acfg)
        return out
    ex = _examples(layout)
    hit = _one(ex.filter((pl.col("vod_id") == vod_id) & (pl.col("msg_id") == msg["msg_id"]))) if ex.height else None
    if hit is not None:
        prompt, completion = hit["prompt"], hit["completion"]
        source = f"training set {_EXAMPLES.get('version')} ({hit['split']}): the exact prompt and completion the model saw"
    else:
        from chatlab.train.dataset import context_of, normalize_pairs
        from chatlab.train.prompt import build_prompt

        split = (tables.per_vod(layout, "splits", vod_id, "split")["split"].to_list() or [None])[0]
        norm = normalize_pairs(pl.DataFrame([row], schema=pairs.schema), {vod_id: split or "train"})
        if norm.height == 0:
            out.update(pair=None, why={"reason": "empty target", "detail": "the message is empty once cleaned for training"})
            return out
        r = norm.row(0, named=True)
        prompt, completion = build_prompt(context_of(r)), r["target"]
        source = ("the one prompt template (chatlab/train/prompt.py) on this pair; not in a training set yet, so shown "
                  "before training's cut to [train] max_prompt_tokens (the oldest transcript words go first)")
    out["pair"] = {"prompt": prompt, "completion": completion, "source": source,
                   **{k: row[k] for k in ("t_chat_s", "t_speech_s", "context_start_s", "context_end_s", "n_context_words",
                                          "offsets_version", "asr_model", "filter_set")}}
    return out


def evaluation_view(layout: Layout, limit: int = 500) -> dict[str, Any]:
    """The latest evaluation on the held-out streams: each system's figures (the adapter, the base
    model, any baselines), per-VOD scores, and the samples side by side at their moments with their
    scores. Reads ``samples.parquet`` (one row per test moment: real message, ``gen_<system>``,
    ``nll_/rank_*`` scores) where the evaluation wrote one, else the samples in ``evaluation.json``,
    placed at their moment through the training set's test rows (same VOD, same text)."""
    from chatlab.train import pipeline

    try:
        version = pipeline.current_version(layout)
    except FileNotFoundError as e:
        return {"available": False, "why": str(e)}
    where = pipeline.evaluation_dir(layout, version)
    p = where / "evaluation.json"
    if not p.exists():
        return {"available": False, "why": f"{p}: no evaluation for training set {version}; run `chatlab train`"}
    ev = json.loads(p.read_text(encoding="utf-8"))
    systems = ev.get("systems") or {k: ev[k] for k in ("adapter", "base") if isinstance(ev.get(k), dict)}
    samples = []
    if (where / "samples.parquet").exists():
        df = pl.read_parquet(where / "samples.parquet")
        gen_cols = [c for c in df.columns if c.startswith("gen_")]
        if gen_cols:
            df = df.filter(pl.any_horizontal(pl.col(gen_cols).is_not_null()))
        score_cols = [c for c in df.columns if c.startswith(("nll_", "rank_"))]
        for r in df.sort("vod_id", "t_s").head(limit).iter_rows(named=True):
            samples.append({"vod_id": r["vod_id"], "t_s": r.get("t_s"), "real": r.get("real"), "msg_id": r.get("msg_id"),
                            "generated": {c[4:]: r[c] for c in gen_cols},
                            "scores": {c: r[c] for c in score_cols if r[c] is not None}})
    else:
        ex = _examples(layout)
        test = ex.filter(pl.col("split") == "test") if ex.height else ex
        for s in ev.get("samples", [])[:limit]:
            m = test.filter((pl.col("vod_id") == s.get("vod_id")) & (pl.col("completion") == s.get("real"))) if test.height else test
            times = sorted(m["t_s"].to_list()) if m.height else []
            gen = {k[4:] if k.startswith("gen_") else k: v for k, v in s.items() if k not in ("vod_id", "real", "t_s") and isinstance(v, str)}
            scores = {k: v for k, v in s.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
            samples.append({"vod_id": s.get("vod_id"), "t_s": s.get("t_s", times[0] if times else None), "real": s.get("real"),
                            "generated": gen, "scores": scores, "matches": len(times)})
    return {"available": True, "version": version, "systems": systems, "per_vod": ev.get("per_vod"),
            "passed": ev.get("passed"), "reasons": ev.get("reasons"), "samples": samples}
