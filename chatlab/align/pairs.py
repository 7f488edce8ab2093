"""`build_pairs`: one training pair per kept chat message, with the context the model sees at
the moment the viewer typed (`t_speech = t_chat - offset(t_chat)`) and its provenance."""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from chatlab.align.config import AlignConfig
from chatlab.align.context import build_contexts
from chatlab.align.curve import OffsetCurve
from chatlab.align.inputs import prepare_chat, prepare_words

PAIR_COLUMNS = {
    "vod_id": pl.String,
    "msg_id": pl.String,
    "user_hash": pl.String,
    "t_chat_s": pl.Float64,
    "t_speech_s": pl.Float64,
    "offset_s": pl.Float64,
    "context_start_s": pl.Float64,
    "context_end_s": pl.Float64,
    "n_context_words": pl.Int32,
    "transcript": pl.String,
    "chat_context": pl.String,
    "n_chat_context": pl.Int32,
    "target": pl.String,
    "offsets_version": pl.String,
    "asr_model": pl.String,
    "filter_set": pl.String,
}


PAIR_BLOCK = 200_000  # messages whose contexts are built at a time


def empty_pairs() -> pl.DataFrame:
    return pl.DataFrame(schema=PAIR_COLUMNS)


def build_pairs(vod_id: str, words: pl.DataFrame, chat: pl.DataFrame, curve: OffsetCurve, cfg: AlignConfig, *,
                offsets_version: str, asr_model: str, filter_set: str) -> tuple[pl.DataFrame, dict[str, int]]:
    """(pairs, filter report). chat: the chat_clean columns (msg_id, t_s, user_hash, text, keep)."""
    report: dict[str, Any] = {"messages": chat.height}
    kept = prepare_chat(chat)
    report["dropped_by_chat_clean"] = chat.height - kept.height
    if kept.height == 0:
        report |= {"in_cut": 0, "no_context": 0, "pairs": 0}
        return empty_pairs(), report
    t_chat = kept["t_s"].to_numpy()
    t_speech = curve.to_speech(t_chat)
    # sorted once here (build_contexts sorts it the same way, stably; on sorted input that is free);
    # without a cut the speech times are in chat order already: marked sorted, nothing copied
    if bool(np.all(t_speech[1:] >= t_speech[:-1])):
        on_audio = kept.select("text").with_columns(pl.Series("t_s", t_speech).set_sorted())
    else:
        on_audio = kept.select("text").with_columns(pl.Series("t_s", t_speech)).sort("t_s", maintain_order=True)
    not_before = curve.cut_before(t_speech)
    # the moment is as good as the offset: words ending a little after it may be what was heard
    margin = np.clip(cfg.context_margin_se * curve.offset_se(t_chat), -cfg.context_margin_max_s, cfg.context_margin_max_s)
    words_ready = prepare_words(words)
    user = kept["user_hash"] if "user_hash" in kept.columns else pl.Series("user_hash", [None] * kept.height, pl.String)
    # what viewers wrote while the removed audio played (and where the cut may lie) reacts to audio
    # the VOD does not have, and where a few echoes doubt the curve it may be wrong: no pair
    in_cut = np.zeros(len(t_chat), bool)
    for lo, hi in curve.unpaired_zones():
        in_cut |= (t_chat >= lo) & (t_chat < hi)
    report["in_cut"] = int(in_cut.sum())
    # The messages in blocks: a block's contexts are built, and only its pairs kept, before the
    # next (memory follows the pairs made, not the chat's size); each row depends on its moment only.
    outs, no_context = [], 0
    for a in range(0, kept.height, PAIR_BLOCK):
        b = min(a + PAIR_BLOCK, kept.height)
        ctx = build_contexts(words_ready, on_audio, t_speech[a:b], context_s=cfg.context_s, chat_k=cfg.chat_k,
                             not_before=not_before[a:b] if not_before is not None else None, end_margin=margin[a:b])
        enough = (ctx["n_context_words"] >= cfg.min_context_words).to_numpy()
        no_context += int((~enough & ~in_cut[a:b]).sum())
        keep = pl.Series(enough & ~in_cut[a:b])
        block = pl.DataFrame({
            "vod_id": [vod_id] * (b - a),
            "msg_id": kept["msg_id"].slice(a, b - a),
            "user_hash": user.slice(a, b - a),
            "t_chat_s": kept["t_s"].slice(a, b - a),
            "t_speech_s": t_speech[a:b],
            "offset_s": t_chat[a:b] - t_speech[a:b],
        }).hstack(ctx.drop("moment_s")).with_columns(
            kept["text"].slice(a, b - a).alias("target"),
            pl.lit(offsets_version).alias("offsets_version"),
            pl.lit(asr_model).alias("asr_model"),
            pl.lit(filter_set).alias("filter_set"),
        )
        outs.append(block.filter(keep).select([pl.col(k).cast(v) for k, v in PAIR_COLUMNS.items()]))
    report["no_context"] = no_context
    out = pl.concat(outs) if outs else empty_pairs()
    report["pairs"] = out.height
    return out, report
