"""The chat clock against the audio clock, as chatlab's Time convention defines it (DESIGN.md).

``offset(t) = offset_s + drift_s_per_h * t / 3600`` is a function of chat-clock time ``t``, and
``t_speech = t_chat - offset(t_chat)`` is the audio-clock moment a viewer typed. The viewer's
reaction delay is not part of it: for a reaction, ``t_speech = sentence end + reaction delay``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ChatClock:
    offset_s: float
    drift_s_per_h: float

    def offset(self, t_chat: float) -> float:
        return self.offset_s + self.drift_s_per_h * t_chat / 3600.0

    def to_chat(self, t_speech: float) -> float:
        """Solves t_chat - offset(t_chat) = t_speech for t_chat."""
        return (t_speech + self.offset_s) / (1.0 - self.drift_s_per_h / 3600.0)

    def to_speech(self, t_chat: float) -> float:
        return t_chat - self.offset(t_chat)
