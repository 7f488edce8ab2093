"""The corrections saved on the review page: ``<data>/review/overrides.toml``.

Each VOD gets the same ``[vods.<id>.align]`` override ``chatlab.toml`` takes (``offset_s`` and
``drift_s_per_h``, or ``anchors = [[t_chat, t_speech], ...]``; two anchors at one chat time are a
cut: the offset before it, then after it), and a ``[vods.<id>.review]`` record: when, ``source =
"review"``, and whether the VOD was accepted or rejected. ``chatlab.config.load_config`` lays this
file over the settings file, so every stage sees the override.
"""

from __future__ import annotations

import math
import tomllib
from datetime import datetime, timezone
from typing import Any

from chatlab.config import Layout
from chatlab.files import replacing
from chatlab.ingest.inbox import is_valid_vod_id

STATUSES = ("accepted", "rejected", "")
HEADER = ("# Written by `chatlab review`: per-VOD corrections, laid over chatlab.toml's [vods.<id>] sections.\n"
          "# Edit by hand or on the review page; delete a VOD's sections to go back to the estimate.\n")


def read(layout: Layout) -> dict[str, dict[str, Any]]:
    p = layout.review_overrides
    if not p.exists():
        return {}
    try:
        return tomllib.loads(p.read_text(encoding="utf-8")).get("vods", {})
    except tomllib.TOMLDecodeError as e:
        raise ValueError(f"{p}: not valid TOML ({e})") from e


def _num(x: Any, what: str) -> float:
    try:
        v = float(x)
    except (TypeError, ValueError) as e:
        raise ValueError(f"{what}: expected a number, got {x!r}") from e
    if not math.isfinite(v):
        raise ValueError(f"{what}: expected a finite number, got {x!r}")
    return round(v, 4)


def validate_align(align: dict[str, Any]) -> dict[str, Any]:
    """The override as it is stored: exactly one of offset_s (+ drift_s_per_h) or anchors."""
    if "anchors" in align:
        pts = align["anchors"]
        if not isinstance(pts, list) or not pts or not all(isinstance(p, (list, tuple)) and len(p) == 2 for p in pts):
            raise ValueError(f"anchors: expected [[t_chat, t_speech], ...], got {pts!r}")
        if len(pts) > 10_000:
            raise ValueError(f"anchors: {len(pts)} points; at most 10000")
        out = [[_num(a, "anchors t_chat"), _num(b, "anchors t_speech")] for a, b in pts]
        if any(b[0] < a[0] for a, b in zip(out, out[1:])):
            raise ValueError("anchors: expected in chat-clock order (a cut is two anchors at one chat time: before, after)")
        return {"anchors": out}
    if "offset_s" in align:
        return {"offset_s": _num(align["offset_s"], "offset_s"), "drift_s_per_h": _num(align.get("drift_s_per_h", 0.0), "drift_s_per_h")}
    raise ValueError(f"align override: expected offset_s or anchors, got {sorted(align)}")


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(float(v)) if isinstance(v, float) else str(v)
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    raise TypeError(f"cannot write {type(v).__name__} to TOML")


def _dump(vods: dict[str, dict[str, Any]]) -> str:
    lines = [HEADER]
    for vod_id in sorted(vods):
        for stage in sorted(vods[vod_id]):
            lines.append(f"[vods.{vod_id}.{stage}]")
            lines += [f"{k} = {_toml_value(v)}" for k, v in vods[vod_id][stage].items()]
            lines.append("")
    return "\n".join(lines)


def save(layout: Layout, vod_id: str, align: dict[str, Any] | None, status: str = "", note: str = "",
         now: datetime | None = None) -> dict[str, Any]:
    """Write the VOD's override (``align`` None keeps the one there) and its review record; returns the record."""
    if not is_valid_vod_id(vod_id):
        raise ValueError(f"{vod_id!r} is not a VOD id")
    if status not in STATUSES:
        raise ValueError(f"status: expected one of {STATUSES[:2]} or empty, got {status!r}")
    vods = read(layout)
    entry = vods.setdefault(vod_id, {})
    if align is not None:
        entry["align"] = validate_align(align)
    record = {"source": "review", "saved_at": (now or datetime.now(timezone.utc)).isoformat(timespec="seconds")}
    if status:
        record["status"] = status
    elif "status" in entry.get("review", {}):
        record["status"] = entry["review"]["status"]
    if note:
        record["note"] = note[:500]
    entry["review"] = record
    text = _dump(vods)
    tomllib.loads(text)  # never leave a file the settings loader cannot read
    with replacing(layout.review_overrides) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return {"vod_id": vod_id, **entry}


def remove(layout: Layout, vod_id: str) -> dict[str, Any] | None:
    """Take the VOD's sections out of the file (``chatlab forget``); returns what they held, or None."""
    vods = read(layout)
    if vod_id not in vods:
        return None
    gone = vods.pop(vod_id)
    text = _dump(vods)
    tomllib.loads(text)
    with replacing(layout.review_overrides) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return gone
