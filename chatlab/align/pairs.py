"""`build_pairs`: one training pair per kept chat message, with the context the model sees at
the moment the viewer typed (`t_speech = t_chat - offset(t_chat)`) and its provenance."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol

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
    """(pairs, filter report). chat: the chat_clean columns (msg_id, t_s, user_hash, text, keep).
    The whole chat in memory; `iter_pairs` makes the same rows reading the chat a time block at a time."""
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
    words_ready = prepare_words(words)
    prov = (vod_id, offsets_version, asr_model, filter_set)
    # The messages in blocks: a block's contexts are built, and only its pairs kept, before the
    # next (memory follows the pairs made, not the chat's size); each row depends on its moment only.
    outs, no_context, in_cut = [], 0, 0
    for a in range(0, kept.height, PAIR_BLOCK):
        block, n_cut, n_none = _pairs_block(words_ready, on_audio, kept.slice(a, PAIR_BLOCK), t_speech[a:a + PAIR_BLOCK], curve, cfg, prov)
        outs.append(block)
        in_cut += n_cut
        no_context += n_none
    report["in_cut"] = in_cut
    report["no_context"] = no_context
    out = pl.concat(outs) if outs else empty_pairs()
    report["pairs"] = out.height
    return out, report


def _pairs_block(words_ready: pl.DataFrame, on_audio: pl.DataFrame, rows: pl.DataFrame, t_speech: np.ndarray,
                 curve: OffsetCurve, cfg: AlignConfig, prov: tuple[str, str, str, str]) -> tuple[pl.DataFrame, int, int]:
    """(the pairs of these kept messages, how many were in a cut or doubtful zone, how many had too
    little context). on_audio: (text, t_s on the audio clock) of every message a context may take."""
    vod_id, offsets_version, asr_model, filter_set = prov
    t_chat = rows["t_s"].to_numpy()
    not_before = curve.cut_before(t_speech)
    # the moment is as good as the offset: words ending a little after it may be what was heard
    margin = np.clip(cfg.context_margin_se * curve.offset_se(t_chat), -cfg.context_margin_max_s, cfg.context_margin_max_s)
    user = rows["user_hash"] if "user_hash" in rows.columns else pl.Series("user_hash", [None] * rows.height, pl.String)
    # what viewers wrote while the removed audio played (and where the cut may lie) reacts to audio
    # the VOD does not have, and where a few echoes doubt the curve it may be wrong: no pair
    in_cut = np.zeros(len(t_chat), bool)
    for lo, hi in curve.unpaired_zones():
        in_cut |= (t_chat >= lo) & (t_chat < hi)
    ctx = build_contexts(words_ready, on_audio, t_speech, context_s=cfg.context_s, chat_k=cfg.chat_k,
                         not_before=not_before, end_margin=margin)
    enough = (ctx["n_context_words"] >= cfg.min_context_words).to_numpy()
    keep = pl.Series(enough & ~in_cut)
    block = pl.DataFrame({
        "vod_id": [vod_id] * rows.height,
        "msg_id": rows["msg_id"],
        "user_hash": user,
        "t_chat_s": rows["t_s"],
        "t_speech_s": t_speech,
        "offset_s": t_chat - t_speech,
    }).hstack(ctx.drop("moment_s")).with_columns(
        rows["text"].alias("target"),
        pl.lit(offsets_version).alias("offsets_version"),
        pl.lit(asr_model).alias("asr_model"),
        pl.lit(filter_set).alias("filter_set"),
    )
    out = block.filter(keep).select([pl.col(k).cast(v) for k, v in PAIR_COLUMNS.items()])
    return out, int(in_cut.sum()), int((~enough & ~in_cut).sum())


class ChatWindows(Protocol):
    """A VOD's kept chat messages read a chat-clock stretch at a time (the lake, or a frame)."""

    def count(self) -> int:
        """The messages it holds, whether or not they have a time and text (and, for a frame
        with a `keep` column, whether or not they were kept: as build_pairs counts them)."""

    def bounds(self) -> tuple[float, float] | None:
        """The first and last message time (None: no message has one)."""

    def buckets(self, width_s: float) -> list[tuple[int, int]]:
        """(floor(t_s / width_s), messages) per stretch of width_s with any, in time order."""

    def read(self, lo: float | None, hi: float | None) -> pl.DataFrame:
        """The messages with lo <= t_s < hi (None: no bound), sorted by (t_s, msg_id)."""


@dataclass
class FrameChat:
    """ChatWindows over a frame in memory (the chat_clean columns, `keep` optional)."""

    chat: pl.DataFrame

    def __post_init__(self) -> None:
        self.given = self.chat.height
        self.chat = self.chat.filter(pl.col("keep").fill_null(False)).drop("keep") if "keep" in self.chat.columns else self.chat

    def count(self) -> int:
        return self.given

    def bounds(self) -> tuple[float, float] | None:
        t = self.chat["t_s"].drop_nulls()
        return (float(t.min()), float(t.max())) if t.len() else None

    def buckets(self, width_s: float) -> list[tuple[int, int]]:
        b = self.chat.filter(pl.col("t_s").is_not_null()).group_by((pl.col("t_s") / width_s).floor().cast(pl.Int64).alias("b")).len().sort("b")
        return list(zip(b["b"].to_list(), b["len"].to_list()))

    def read(self, lo: float | None, hi: float | None) -> pl.DataFrame:
        ok = pl.col("t_s").is_not_null()
        if lo is not None:
            ok &= pl.col("t_s") >= lo
        if hi is not None:
            ok &= pl.col("t_s") < hi
        return self.chat.filter(ok).sort("t_s", "msg_id", maintain_order=True)


BUCKET_S = 10.0  # the chat's messages are counted per this many seconds to cut it into blocks


def _blocks(chat: ChatWindows, block_rows: int) -> list[tuple[float | None, float | None]]:
    """Chat-clock stretches [lo, hi) that cover the whole line, each with about block_rows
    messages or fewer (more only where one BUCKET_S stretch alone holds more)."""
    edges: list[float] = []
    n = 0
    for b, k in chat.buckets(BUCKET_S):
        if n and n + k > block_rows:
            edges.append(b * BUCKET_S)
            n = 0
        n += k
    bounds: list[float | None] = [None, *edges, None]
    return list(zip(bounds[:-1], bounds[1:]))


def _offset_range(curve: OffsetCurve, t_lo: float, t_hi: float) -> tuple[float, float]:
    """The least and greatest offset(t) for chat times in [t_lo, t_hi] (piecewise linear: at the
    ends of each segment's stretch)."""
    ends = [s.end_s for s in curve.segments[:-1]]
    pts = [t_lo, t_hi] + [e for e in ends if t_lo <= e <= t_hi] + [np.nextafter(e, np.inf) for e in ends if t_lo <= e < t_hi]
    o = curve.offset(np.array(pts))
    return float(o.min()), float(o.max())


def iter_pairs(vod_id: str, words: pl.DataFrame, chat: ChatWindows, curve: OffsetCurve, cfg: AlignConfig, *,
               offsets_version: str, asr_model: str, filter_set: str, report: dict[str, Any],
               block_rows: int = PAIR_BLOCK) -> Iterator[pl.DataFrame]:
    """build_pairs' rows, a block of about block_rows messages at a time, in the same order,
    reading only what a block needs: its messages, and the messages whose audio-clock time may
    fall in its chat contexts (those up to its last moment and back to the chat_k-th before its
    first, found through the curve's offset range). Memory follows the block and the chat's rate
    (and the curve's offset range), not the chat's length. ``report`` gets build_pairs' filter
    report when the iterator ends."""
    total = chat.count()
    words_ready = prepare_words(words)
    prov = (vod_id, offsets_version, asr_model, filter_set)
    bounds = chat.bounds()
    o_min, o_max = _offset_range(curve, *bounds) if bounds is not None else (0.0, 0.0)
    valid = in_cut = no_context = pairs = 0
    for lo, hi in _blocks(chat, block_rows) if bounds is not None else []:
        rows = prepare_chat(chat.read(lo, hi))
        if rows.height == 0:
            continue
        valid += rows.height
        t_speech = curve.to_speech(rows["t_s"].to_numpy())
        m_lo, m_hi = float(t_speech.min()), float(t_speech.max())
        window, w_speech = rows, t_speech
        back_s = max(cfg.context_s, 60.0)  # how far before the block's first moment its chat context is looked for
        while cfg.chat_k > 0:
            x = m_lo - back_s
            w_lo = min(x + o_min - 1.0, float(rows["t_s"][0]))
            w_hi = max(m_hi + o_max + 1.0, float(rows["t_s"][-1]))
            whole = w_lo <= bounds[0]  # back to the chat's first message: every earlier one is in
            window = prepare_chat(chat.read(None if whole else w_lo, float(np.nextafter(w_hi, np.inf))))
            w_speech = curve.to_speech(window["t_s"].to_numpy())
            if whole or int(((w_speech >= x) & (w_speech < m_lo)).sum()) >= cfg.chat_k:
                break
            back_s *= 4  # a quiet stretch: look further back
        on_audio = window.select("text").with_columns(pl.Series("t_s", w_speech))
        block, n_cut, n_none = _pairs_block(words_ready, on_audio, rows, t_speech, curve, cfg, prov)
        in_cut += n_cut
        no_context += n_none
        pairs += block.height
        yield block
    report.clear()
    report.update({"messages": total, "dropped_by_chat_clean": total - valid, "in_cut": in_cut, "no_context": no_context, "pairs": pairs})
