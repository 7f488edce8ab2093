"""Scoring OCR'd chat against a demo stream's ground truth, and the ``chatlab bench ocr`` run.

Matching rule (issue 5): a recovered message matches a true one when the user is equal and the text
similarity (rapidfuzz ratio) is at least 0.9; each true message matches at most one recovered one,
the nearest in time. Reported: recall, precision, CER of matched texts, first-seen timing error
against the frame the overlay first showed the message, and speed as a multiple of real time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rapidfuzz import fuzz
from rapidfuzz.distance import Levenshtein

from chatlab.ocr.dedupe import OcrMessage

MATCH_SIMILARITY = 0.9


@dataclass(frozen=True)
class TrueMessage:
    t_s: float  # first frame that shows it
    user: str
    text: str


def truth_messages(truth: dict[str, Any], start_s: float = 0.0, end_s: float | None = None) -> list[TrueMessage]:
    """Messages of a demo truth file that are on screen within [start_s, end_s]."""
    if not truth.get("overlay"):
        raise ValueError("the truth file has no overlay: generate the demo with overlay=True (chatlab demo --overlay)")
    out = []
    for c in truth["chat"]:
        t = c.get("on_screen_s")
        if t is None or t < start_s or (end_s is not None and t > end_s):
            continue
        out.append(TrueMessage(float(t), c["user"], c["text"]))
    return sorted(out, key=lambda m: m.t_s)


def score(recovered: Sequence[OcrMessage], truth: Sequence[TrueMessage], time_tol_s: float = 2.0) -> dict[str, Any]:
    pairs = []
    for i, r in enumerate(recovered):
        for j, t in enumerate(truth):
            if r.user == t.user and fuzz.ratio(r.text, t.text) >= 100 * MATCH_SIMILARITY:
                pairs.append((abs(r.t_s - t.t_s), i, j))
    pairs.sort()
    used_r: set[int] = set()
    used_t: set[int] = set()
    matched = []
    for dt, i, j in pairs:
        if i in used_r or j in used_t:
            continue
        used_r.add(i)
        used_t.add(j)
        matched.append((recovered[i], truth[j], dt))
    n_chars = sum(len(t.text) for _, t, _ in matched)
    errs = sum(Levenshtein.distance(r.text, t.text) for r, t, _ in matched)
    dts = sorted(dt for _, _, dt in matched)
    missed = [truth[j] for j in range(len(truth)) if j not in used_t]
    extra = [recovered[i] for i in range(len(recovered)) if i not in used_r]
    return {
        "true": len(truth),
        "recovered": len(recovered),
        "matched": len(matched),
        "recall": round(len(matched) / len(truth), 4) if truth else float("nan"),
        "precision": round(len(matched) / len(recovered), 4) if recovered else float("nan"),
        "cer": round(errs / n_chars, 4) if n_chars else float("nan"),
        "time_within_2s": round(sum(dt <= time_tol_s for dt in dts) / len(dts), 4) if dts else float("nan"),
        "time_median_abs_s": round(dts[len(dts) // 2], 3) if dts else float("nan"),
        "time_p95_abs_s": round(dts[min(len(dts) - 1, int(0.95 * len(dts)))], 3) if dts else float("nan"),
        "missed": [f"{m.t_s:.1f} {m.user}: {m.text}" for m in missed[:25]],
        "extra": [f"{m.t_s:.1f} {m.user}: {m.text}" for m in extra[:25]],
    }
