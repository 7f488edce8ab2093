"""The `[align]` settings (and `[vods.<id>.align]` per VOD), with their defaults in code."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

# Offset and a constant reaction delay cannot be told apart from chat alone (both shift every
# message the same way), so the median reaction delay is pinned by this setting; the spread of the
# delays is measured. 4 s is the median seen in live chats and the demo generator's.
REACTION_MEDIAN_S = 4.0
ASR_END_BIAS_S = 0.2


@dataclass(frozen=True)
class AlignConfig:
    max_lag_s: float = 4200.0  # lag search range, both ways (old VODs are off by up to an hour, cuts add more)
    reaction_median_s: float = REACTION_MEDIAN_S
    # Whisper's word times run early: the end of a sentence's last word by ~0.15 s against the true
    # end of speech (measured on the demo streams, Whisper base, against the TTS truth), and its
    # pauses come out longer, so some one-breath lines split early. Anchors' reference is the
    # sentence end plus this (fitted on ASR-like synthetic cases, checked on the demo VODs; 0 for
    # exact word times). Reported with the offsets (figures, settings).
    asr_end_bias_s: float = ASR_END_BIAS_S
    reaction_max_s: float = 20.0  # anchors further than this after the words are not reactions
    fuzzy_min_score: float = 85.0  # rapidfuzz ratio for a chat token to echo a transcript word
    min_token_chars: int = 4
    sentence_pause_s: float = 0.45  # a full stop (or ASR segment end) followed by this pause ends what viewers react to
    window_s: float = 300.0  # coarse lag windows on the chat clock
    min_jump_s: float = 8.0  # a change of offset larger than this between windows is a cut
    min_anchors: int = 10
    # alignment_confident thresholds
    min_confidence: float = 0.5
    max_residual_s: float = 5.0  # robust spread (MAD-sigma) of the anchors around the curve (~1.2-2 s on demo streams: the reaction spread)
    max_abs_offset_s: float = 4200.0
    max_abs_drift_s_per_h: float = 30.0
    # pairs
    context_s: float = 30.0  # transcript seconds before the moment the viewer typed
    chat_k: int = 5  # earlier chat messages in the context
    min_context_words: int = 1
    # a pair's moment is an estimate, off by about the offset's standard error (per segment, from
    # its anchors): its context ends this many of them after the moment (negative: before it), at
    # most context_margin_max_s either way. -3: a word the viewer may not have heard yet stays out.
    # The viewers' own delay luck has heavier tails than the standard error says (a 5-minute
    # stream's echoes 2.5-4 standard errors early, now and then), so one standard error leaked in
    # up to 0.11 of a group's contexts; on the bench's groups -3 keeps that at 0.00-0.03 (pooled)
    # for at most 2 points of coverage, and costs nothing on real speech (the echoed word ends a
    # second or more before the viewer types)
    context_margin_se: float = -3.0
    context_margin_max_s: float = 1.0
    # manual override (per VOD): a fixed offset (+ drift), or [[t_chat, t_speech], ...] anchors
    offset_s: float | None = None
    drift_s_per_h: float = 0.0
    anchors: tuple[tuple[float, float], ...] = ()

    @classmethod
    def from_mapping(cls, section: dict[str, Any]) -> "AlignConfig":
        """From an `[align]` table: keys and types checked by chatlab.settings (errors name the key)."""
        from chatlab.settings import build

        return build(cls, "align", section)

    @property
    def overridden(self) -> bool:
        return self.offset_s is not None or bool(self.anchors)

    def settings(self) -> dict[str, Any]:
        """The settings that shape the offsets (part of the offsets version)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name not in ("context_s", "chat_k", "min_context_words", "context_margin_se", "context_margin_max_s")}
