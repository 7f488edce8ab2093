"""The offset curve: `offset(t)` on the chat clock, piecewise linear, as DESIGN.md (Time) writes it.

A segment's `offset(t) = offset_s + drift_s_per_h * (t - start_s) / 3600` for chat-clock `t`; a
time belongs to the first segment that ends at or after it (times past the last end use the last
one). A cut leaves a gap on the chat clock between one segment's end and the next one's start:
the audio of that stretch was removed, so what viewers wrote then reacts to audio the VOD does
not have. A segment after a cut also carries the audio-clock range its cut may lie in
(`cut_lo_s`..`cut_hi_s`: the chat's echoes pin a cut only to the sentences either side of it);
`cut_zones` turns that into the chat-clock stretch whose messages cannot be paired safely.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

ALGORITHM = "align-8"  # bump when the estimator changes: it is part of every offsets version


@dataclass(frozen=True)
class CurveSegment:
    start_s: float
    end_s: float
    offset_s: float
    drift_s_per_h: float
    cut_lo_s: float | None = None  # audio clock: where the cut before this segment may lie (None: first segment, or exact)
    cut_hi_s: float | None = None
    # chat-clock stretches in this segment that a few anchors fit at another offset: too little to
    # change the curve or fail the VOD, too much to trust it there, so they get no pairs
    doubt: tuple[tuple[float, float], ...] = ()
    # the standard error of this segment's offset (its anchors' spread over their square root):
    # how far a pair's moment may be off, which the context's end allows for (pairs.py)
    offset_se_s: float | None = None
    # where the cut may lie if the one echo that bounds its range most was chance (the gate weighs
    # this: a tight range one message makes, in a long stretch nothing echoes, is no pinned cut)
    cut_far_lo_s: float | None = None
    cut_far_hi_s: float | None = None
    # the echoes' log-likelihood of the cut's place (relative to the best): cut_ll[j] for a cut
    # after j of the sentences whose ends are cut_grid (audio clock), which may lie anywhere in
    # cut_place_lo[j]..cut_place_hi[j] (a sentence may straddle the cut). The estimate's own
    # working (the words at a splice are weighed against it), not in the offsets JSON
    cut_grid: tuple[float, ...] = field(default=(), repr=False)
    cut_place_lo: tuple[float, ...] = field(default=(), repr=False)
    cut_place_hi: tuple[float, ...] = field(default=(), repr=False)
    cut_ll: tuple[float, ...] = field(default=(), repr=False)

    def at(self, t_chat: float) -> float:
        return self.offset_s + self.drift_s_per_h * (t_chat - self.start_s) / 3600.0

    def cut_ll_at(self, t_speech: np.ndarray) -> np.ndarray:
        """The echoes' log-likelihood (relative to the best place) of the cut before this segment
        lying at each audio-clock time; 0 everywhere when unknown."""
        t = np.asarray(t_speech, dtype=np.float64)
        if not self.cut_ll:
            return np.zeros(t.shape)
        ll = np.asarray(self.cut_ll)
        base = ll[np.searchsorted(np.asarray(self.cut_grid), t, side="right")]  # by the sentences ended by t
        if not self.cut_place_lo:
            return base
        # a splice mid-sentence: the ASR's sentence may straddle the cut (its echoed words on one
        # side), so a time takes the best place whose span holds it
        lo, hi = np.asarray(self.cut_place_lo), np.asarray(self.cut_place_hi)
        held = (lo[None, :] <= t.reshape(-1, 1)) & (t.reshape(-1, 1) <= hi[None, :])
        return np.maximum(base, np.where(held, ll[None, :], -np.inf).max(axis=1).reshape(t.shape))


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

    def offset_se(self, t_chat: np.ndarray | float) -> np.ndarray:
        """Per chat-clock time, its segment's offset standard error (0 where none is known)."""
        t = np.asarray(t_chat, dtype=np.float64)
        ends = np.array([s.end_s for s in self.segments[:-1]])
        se = np.array([s.offset_se_s or 0.0 for s in self.segments])
        return se[np.searchsorted(ends, t, side="left")]

    def to_speech(self, t_chat: np.ndarray | float) -> np.ndarray:
        """t_speech = t_chat - offset(t_chat): when, on the audio clock, the viewer typed."""
        t = np.asarray(t_chat, dtype=np.float64)
        return t - self.offset(t)

    def breaks(self) -> list[float]:
        return [s.start_s for s in self.segments[1:]]

    def _cut_pairs(self) -> list[tuple[CurveSegment, CurveSegment]]:
        """(segment, next) where the offset jumps: a cut. Segments that join with no jump (a manual
        override's anchor points) are one stretch of audio."""
        return [(prev, s) for prev, s in zip(self.segments, self.segments[1:])
                if s.cut_lo_s is not None or abs(prev.at(prev.end_s) - s.at(prev.end_s)) > 1e-3]

    def cuts(self) -> list[float]:
        """The audio-clock time of each cut (where the segment after it starts)."""
        return [s.start_s - s.offset_s for _, s in self._cut_pairs()]

    def cut_before(self, t_speech: np.ndarray | float) -> np.ndarray:
        """Per audio-clock moment, the last cut at or before it (-inf: none). A context starts no
        earlier: the audio before a cut was heard minutes before, the removed stretch between."""
        t = np.atleast_1d(np.asarray(t_speech, dtype=np.float64))
        cuts = np.array(self.cuts())
        if len(cuts) == 0:
            return np.full(len(t), -np.inf)
        k = np.searchsorted(cuts, t, side="right")
        return np.where(k > 0, cuts[np.maximum(k - 1, 0)], -np.inf)

    def cut_zones(self) -> list[tuple[float, float]]:
        """Per cut, the chat-clock stretch [from, to) whose messages may react to removed audio: the
        gap between the segments, widened to every place the cut may lie (`cut_lo_s`..`cut_hi_s`)."""
        zones = []
        for prev, s in self._cut_pairs():
            lo = prev.end_s if s.cut_lo_s is None else min(prev.end_s, s.cut_lo_s + prev.at(prev.end_s))
            hi = s.start_s if s.cut_hi_s is None else max(s.start_s, s.cut_hi_s + s.offset_s)
            zones.append((lo, hi))
        return zones

    def doubtful_zones(self) -> list[tuple[float, float]]:
        return [z for s in self.segments for z in s.doubt]

    def unpaired_zones(self) -> list[tuple[float, float]]:
        """Chat-clock stretches whose messages get no pair: the cut zones and the doubtful ones."""
        return self.cut_zones() + self.doubtful_zones()

    def to_list(self) -> list[dict[str, Any]]:
        out = []
        for s in self.segments:
            row: dict[str, Any] = {k: round(v, 4) for k, v in asdict(s).items() if v is not None and k not in ("doubt", "cut_grid", "cut_place_lo", "cut_place_hi", "cut_ll")}
            if s.doubt:
                row["doubt"] = [[round(a, 3), round(b, 3)] for a, b in s.doubt]
            out.append(row)
        return out

    @classmethod
    def from_list(cls, rows: list[dict[str, Any]]) -> "OffsetCurve":
        def opt(r: dict[str, Any], k: str) -> float | None:
            return None if r.get(k) is None else float(r[k])

        return cls(tuple(CurveSegment(float(r["start_s"]), float(r["end_s"]), float(r["offset_s"]), float(r["drift_s_per_h"]),
                                      opt(r, "cut_lo_s"), opt(r, "cut_hi_s"), tuple((float(a), float(b)) for a, b in r.get("doubt", ())),
                                      opt(r, "offset_se_s"), opt(r, "cut_far_lo_s"), opt(r, "cut_far_hi_s"))
                         for r in rows))

    def version(self, extra: dict[str, Any] | None = None) -> str:
        """A short content hash: the same curve (and settings) gives the same version everywhere."""
        blob = json.dumps({"algorithm": ALGORITHM, "segments": self.to_list(), "extra": extra or {}}, sort_keys=True, default=str)
        return f"{ALGORITHM}-{hashlib.sha1(blob.encode()).hexdigest()[:12]}"
