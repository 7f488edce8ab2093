"""Ground truth of a demo stream, written beside it as ``<name>.truth.json``.

All times are seconds from the first audio sample. Word times are the TTS model's own phoneme
alignment (see speech.py); a segment runs from its first word's start to its last word's end.
Chat rows carry both clocks: ``t_speech`` (audio clock, when the viewer typed) and ``t_chat``
(what the export says); ``t_chat - offset(t_chat) == t_speech`` with
``offset(t) = offset_s + drift_s_per_h * t / 3600`` (DESIGN.md, Time), and for a reaction
``t_speech - reaction_delay_s`` is the end of the segment it reacts to.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .chat import DELAY_MEDIAN_S, DELAY_RANGE_S, DELAY_SIGMA, REACTION_DISTRIBUTION, ChatMessage
from .clock import ChatClock
from .files import write_json
from .speech import Word

LONG_SILENCE_S = 10.0


@dataclass(frozen=True)
class Segment:
    """One sentence as it lies in the stream's audio."""

    start: float
    end: float
    text: str
    words: tuple[Word, ...]
    kind: str
    keywords: tuple[str, ...]


def _r(t: float) -> float:
    return round(float(t), 3)


def long_silences(segments: Sequence[Segment], duration_s: float, min_s: float = LONG_SILENCE_S) -> list[dict[str, float]]:
    """Stretches of at least `min_s` with no speech (lead-in and tail included)."""
    edges = [0.0] + [x for s in segments for x in (s.start, s.end)] + [duration_s]
    gaps = zip(edges[0::2], edges[1::2])
    return [{"start": _r(a), "end": _r(b)} for a, b in gaps if b - a >= min_s]


def truth_dict(*, name: str, seed: int, duration_s: float, sample_rate: int, channels: int, media: str, chat_file: str,
               clock: ChatClock, segments: Sequence[Segment], messages: Sequence[ChatMessage],
               t_chat: dict[str, float], word_times: bool, on_screen: dict[str, float] | None = None,
               overlay: dict[str, Any] | None = None) -> dict[str, Any]:
    chat = []
    for m in sorted(messages, key=lambda m: (t_chat[m.msg_id], m.t_speech)):
        row: dict[str, Any] = {
            "msg_id": m.msg_id, "user": m.user.display_name, "text": m.text, "kind": m.kind,
            "t_speech": _r(m.t_speech), "t_chat": t_chat[m.msg_id],
            "reaction_delay_s": m.reaction_delay_s, "reacts_to": m.reacts_to,
            "dropped": t_chat[m.msg_id] < 0,  # before the recording started: not in the export
        }
        if on_screen is not None:
            row["on_screen_s"] = on_screen.get(m.msg_id)
        chat.append(row)
    return {
        "name": name,
        "seed": seed,
        "duration_s": _r(duration_s),
        "sample_rate": sample_rate,
        "channels": channels,
        "media": media,
        "chat_file": chat_file,
        "offset_s": _r(clock.offset_s),
        "drift_s_per_h": _r(clock.drift_s_per_h),
        "offset_clock": "chat",  # offset(t) takes chat-clock t
        "reaction_delay": {"distribution": REACTION_DISTRIBUTION, "median_s": DELAY_MEDIAN_S, "sigma": DELAY_SIGMA,
                           "min_s": DELAY_RANGE_S[0], "max_s": DELAY_RANGE_S[1]},
        "word_times": "tts_phoneme_durations" if word_times else None,
        "overlay": overlay,
        "long_silences": long_silences(segments, duration_s),
        "segments": [
            {"start": _r(s.start), "end": _r(s.end), "text": s.text, "kind": s.kind, "keywords": list(s.keywords),
             "words": [{"word": w.word, "start": _r(w.start), "end": _r(w.end)} for w in s.words]}
            for s in segments
        ],
        "chat": chat,
    }


def write_truth(path: Path, truth: dict[str, Any]) -> None:
    write_json(path, truth, indent=1)


def read_truth(path: Path) -> dict[str, Any]:
    """A truth file as written; benchmarks score against it."""
    return json.loads(Path(path).read_text(encoding="utf-8"))
