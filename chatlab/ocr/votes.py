"""One message read on many frames: the reading most like the others is its text.

Chat text straight on a moving picture (no panel) is read anew on every frame, and the ground
behind it changes the reading now and then ('Waiffle4897', 'ucky_wolf'). The first reading is not
the best one: each frame that shows the message again adds a reading, and the message takes the
reading closest to all of them (the medoid: one odd misread cannot win against the rest).
(A message read on one frame only is kept: on a panel whose later frames read only the new
lines, a real message can be read once; dropping such one-offs lost one in the OCR asset test.)
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from rapidfuzz import fuzz


@dataclass(frozen=True)
class Reading:
    user: str
    text: str
    confidence: float


def medoid(readings: Sequence[Reading]) -> Reading:
    """The reading with the largest confidence-weighted likeness to all readings (itself too, so
    a reading read often wins; on a tie the first)."""
    if len(readings) <= 2:
        return max(readings, key=lambda r: r.confidence) if len(readings) == 2 and \
            readings[0].confidence < readings[1].confidence - 0.1 else readings[0]
    best, best_score = readings[0], -1.0
    for a in readings:
        key = f"{a.user}: {a.text}"
        s = sum(b.confidence * fuzz.ratio(key, f"{b.user}: {b.text}") for b in readings)
        if s > best_score + 1e-9:
            best, best_score = a, s
    return best


def vote(readings: Sequence[Reading]) -> Reading:
    """The message's name and text across its readings: the name is the spelling read most often
    (a misread name is most often one frame's: 'unnyByte' once, 'SunnyByte' twice; on a tie the
    medoid's), the text the medoid of the readings with that name."""
    if len(readings) <= 2:
        return medoid(readings)
    counts = Counter(r.user for r in readings)
    top = max(counts.values())
    leaders = [u for u, n in counts.items() if n == top]
    user = leaders[0] if len(leaders) == 1 else medoid(readings).user
    best = medoid([r for r in readings if r.user == user])
    return Reading(user, best.text, best.confidence)
