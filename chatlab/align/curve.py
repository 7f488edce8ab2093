"""The offset curve: `offset(t)` on the chat clock, piecewise linear, as DESIGN.md (Time) writes it.

A segment's `offset(t) = offset_s + drift_s_per_h * (t - start_s) / 3600` for chat-clock `t`; a
time belongs to the first segment that ends at or after it (times past the last end use the last
one). A cut leaves a gap on the chat clock between one segment's end and the next one's start
(the audio of that stretch was removed); a message in the gap takes the next segment's offset,
so its context is the audio before the cut: the last thing the viewer could have heard.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

ALGORITHM = "align-4"  # bump when the estimator changes: it is part of every offsets version


@dataclass(frozen=True)
class CurveSegment:
    start_s: float
    end_s: float
    offset_s: float
    drift_s_per_h: float


@dataclass(frozen=True)
class OffsetCurve:
    segments: tuple[CurveSegment, ...]

    @classmethod
    def constant(cls, offset_s: float, drift_s_per_h: float = 0.0, start_s: float = 0.0, end_s: float = 0.0) -> "OffsetCurve":
        return cls((CurveSegment(start_s, end_s, offset_s, drift_s_per_h),))

    def offset(self, t_chat: np.ndarray | float) -> np.ndarray:
        t = np.asarray(t_chat, dtype=np.float64)
        starts = np.array([s.start_s for s in self.segments])
        ends = np.array([s.end_s for s in self.segments[:-1]])
        k = np.searchsorted(ends, t, side="left")
        o = np.array([s.offset_s for s in self.segments])[k]
        d = np.array([s.drift_s_per_h for s in self.segments])[k]
        return o + d * (t - starts[k]) / 3600.0

    def to_speech(self, t_chat: np.ndarray | float) -> np.ndarray:
        """t_speech = t_chat - offset(t_chat): when, on the audio clock, the viewer typed."""
        t = np.asarray(t_chat, dtype=np.float64)
        return t - self.offset(t)

    def breaks(self) -> list[float]:
        return [s.start_s for s in self.segments[1:]]

    def to_list(self) -> list[dict[str, float]]:
        return [{k: round(v, 4) for k, v in asdict(s).items()} for s in self.segments]

    @classmethod
    def from_list(cls, rows: list[dict[str, Any]]) -> "OffsetCurve":
        return cls(tuple(CurveSegment(float(r["start_s"]), float(r["end_s"]), float(r["offset_s"]), float(r["drift_s_per_h"])) for r in rows))

    def version(self, extra: dict[str, Any] | None = None) -> str:
        """A short content hash: the same curve (and settings) gives the same version everywhere."""
        blob = json.dumps({"algorithm": ALGORITHM, "segments": self.to_list(), "extra": extra or {}}, sort_keys=True, default=str)
        return f"{ALGORITHM}-{hashlib.sha1(blob.encode()).hexdigest()[:12]}"
