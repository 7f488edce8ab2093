"""Can the chat read off the picture be trusted? The figures and the reasons (no dagster here:
the chat_ocr_readable check and ``chatlab ocr`` both use them)."""

from __future__ import annotations

from typing import Any


def readability(result: Any, min_confidence: float) -> dict[str, Any]:
    """The figures the chat_ocr_readable check judges by (all of them go in its metadata)."""
    s = result.stats
    n = len(result.messages)
    confs = sorted(result.line_confidences)

    def q(p: float) -> float:
        return round(confs[min(len(confs) - 1, int(p * len(confs)))], 4) if confs else 0.0

    det = result.detection
    return {
        "messages": n,
        "region_confidence": round(det.confidence if det is not None else 1.0, 3),
        "region_method": result.region_method,
        "frames": s["samples"],
        "frames_unreadable": s["bad_frames"],
        "frames_with_text": s.get("frames_with_text", 0),
        "frames_text_unread": s.get("frames_text_unread", 0),
        "lines_seen": s.get("lines_seen", 0),
        "lines_recognised": s["lines_read"],
        "orphan_lines": s.get("orphan_lines", 0),
        "low_confidence_messages": sum(1 for m in result.messages if m.confidence < min_confidence),
        "line_confidence_p10": q(0.1),
        "line_confidence_median": q(0.5),
        "line_confidence_p90": q(0.9),
        "line_confidence_below_0_7": round(sum(c < 0.7 for c in confs) / len(confs), 4) if confs else 0.0,
    }


def unreadable_reasons(f: dict[str, Any], section: dict[str, Any]) -> list[str]:
    """Why the OCR'd chat cannot be trusted; empty when it can. Limits from [ocr] (per VOD too)."""
    from chatlab.ocr.verify import MIN_CONFIDENCE

    max_low = float(section.get("max_low_confidence", 0.2))
    max_bad = float(section.get("max_bad_frames", 0.05))
    min_region = float(section.get("min_region_confidence", MIN_CONFIDENCE))
    min_median = float(section.get("min_line_confidence", 0.8))
    max_unread = float(section.get("max_text_unread", 0.5))
    reasons = []
    n = f["messages"]
    if f["region_method"] == "auto" and f["region_confidence"] < min_region:
        reasons.append(f"chat region found with low confidence {f['region_confidence']:.2f} (limit {min_region:.2f}): "
                       "see the candidates picture; set [vods.<id>.ocr] region")
    if n == 0 and f["frames_with_text"]:
        reasons.append(f"text seen in {f['frames_with_text']} frames but no message read "
                       f"({f['lines_seen']} lines, none opening with 'name:')")
    elif n == 0:
        reasons.append("no messages recovered")
    if f["frames_with_text"] and f["frames_text_unread"] / f["frames_with_text"] > max_unread:
        reasons.append(f"{f['frames_text_unread']} of {f['frames_with_text']} frames with text gave no message "
                       f"(limit {max_unread:.0%})")
    if n and f["line_confidence_median"] < min_median:
        reasons.append(f"reading is poor: median line confidence {f['line_confidence_median']:.2f} "
                       f"(limit {min_median:.2f}), {f['line_confidence_below_0_7']:.0%} of lines below 0.7")
    if n and f["low_confidence_messages"] / n > max_low:
        reasons.append(f"{f['low_confidence_messages'] / n:.0%} of messages low-confidence (limit {max_low:.0%})")
    if f["frames"] and f["frames_unreadable"] / f["frames"] > max_bad:
        reasons.append(f"{f['frames_unreadable'] / f['frames']:.0%} of sampled frames unreadable (limit {max_bad:.0%})")
    return reasons
