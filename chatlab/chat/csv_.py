"""CSV (or TSV / semicolon) exports with a header naming the time, user and text columns.

Column names are matched loosely (``time``/``offset``/``timestamp``/``t_s``; ``user``/``author``/
``username``/``display_name``; ``message``/``body``/``text``). A time value may be seconds
(``12.5``), a clock (``1:02:03``), a UNIX time in s/ms/µs, or an ISO timestamp; UNIX and ISO
times are absolute and resolved against the VOD start like other absolute formats.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime, timezone

import polars as pl

_NAMES = {
    "time": ("t_s", "offset", "offset_s", "content_offset_seconds", "time_in_seconds", "seconds", "time", "timestamp", "ts", "created_at", "date", "datetime"),
    "user": ("display_name", "displayname", "user", "username", "user_name", "author", "nick", "name", "login", "commenter", "sender"),
    "login": ("login", "user_login", "username", "nick"),
    "text": ("message", "body", "text", "content", "msg", "comment"),
    "id": ("msg_id", "message_id", "id", "_id", "uuid"),
    "user_id": ("user_id", "author_id", "commenter_id"),
}
_CLOCK = re.compile(r"^(?:(\d+):)?(\d{1,2}):(\d{2}(?:\.\d+)?)$")


def _pick(header: list[str], role: str) -> int | None:
    norm = [h.strip().lower().replace(" ", "_") for h in header]
    for name in _NAMES[role]:
        if name in norm:
            return norm.index(name)
    return None


def _time(value: str) -> tuple[float | None, datetime | None]:
    """(relative seconds, absolute time): exactly one is set, or neither when unreadable."""
    v = value.strip()
    if not v:
        return None, None
    m = _CLOCK.match(v)
    if m:
        return int(m.group(1) or 0) * 3600 + int(m.group(2)) * 60 + float(m.group(3)), None
    try:
        x = float(v)
    except ValueError:
        try:
            dt = datetime.fromisoformat(v.replace("Z", "+00:00"))
        except ValueError:
            return None, None
        return None, (dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)).astimezone(timezone.utc)
    if x > 1e14:
        return None, datetime.fromtimestamp(x / 1e6, timezone.utc)
    if x > 1e11:
        return None, datetime.fromtimestamp(x / 1e3, timezone.utc)
    if x > 1e9:
        return None, datetime.fromtimestamp(x, timezone.utc)
    return x, None


def parse_csv(text: str, rejects: list[dict]) -> pl.DataFrame:
    """Rows of a CSV export in PARSED shape; rows that cannot be read go to rejects."""
    first = text.split("\n", 1)[0]
    delim = max((",", "\t", ";"), key=first.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delim)
    try:
        header = next(reader)
    except StopIteration:
        return pl.DataFrame()
    cols = {role: _pick(header, role) for role in _NAMES}
    if cols["time"] is None or cols["user"] is None or cols["text"] is None:
        raise ValueError(f"CSV header {header!r} does not name a time, a user and a text column")
    if cols["login"] == cols["user"]:
        cols["login"] = None
    rows: dict[str, list] = {k: [] for k in ("msg_id", "t_s", "t_abs", "user", "user_login", "user_id", "text", "source_line", "source_index")}
    width = len(header)
    index = 0
    while True:
        try:
            rec = next(reader)
        except StopIteration:
            break
        except csv.Error as e:
            rejects.append({"source_line": reader.line_num, "reason": f"csv_error: {e}", "raw": ""})
            continue
        line = reader.line_num
        if not rec or not any(x.strip() for x in rec):
            continue
        if len(rec) != width:
            rejects.append({"source_line": line, "source_index": index, "reason": f"bad_row: {len(rec)} fields, the header has {width}", "raw": delim.join(rec)})
            index += 1
            continue
        t_s, t_abs = _time(rec[cols["time"]])
        if t_s is None and t_abs is None:
            rejects.append({"source_line": line, "source_index": index, "reason": f"no_time: unreadable time {rec[cols['time']]!r}", "raw": delim.join(rec)})
            index += 1
            continue
        user = rec[cols["user"]].strip()
        rows["msg_id"].append(rec[cols["id"]] if cols["id"] is not None else None)
        rows["t_s"].append(t_s)
        rows["t_abs"].append(t_abs)
        rows["user"].append(user)
        rows["user_login"].append((rec[cols["login"]] if cols["login"] is not None else user).strip().lower())
        rows["user_id"].append(rec[cols["user_id"]] if cols["user_id"] is not None else None)
        rows["text"].append(rec[cols["text"]])
        rows["source_line"].append(line)
        rows["source_index"].append(index)
        index += 1
    return pl.DataFrame(
        rows,
        schema={"msg_id": pl.String, "t_s": pl.Float64, "t_abs": pl.Datetime("us", "UTC"), "user": pl.String, "user_login": pl.String,
                "user_id": pl.String, "text": pl.String, "source_line": pl.Int64, "source_index": pl.Int64},
    )
