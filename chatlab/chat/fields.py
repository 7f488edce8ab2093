"""One field mapper for chat records in JSON, JSONL and CSV, whatever their key style.

A record is flattened into paths (``message.body``); each path gets a normalized name
(``message_body``: camelCase split, leading underscores dropped, parts joined by ``_``), so
``message.body``, ``message_body`` and ``messageBody`` are the same field. Each column of the
chat schema has a ranked list of names it may come from; a sample of records decides which
are present. Per record the first candidate that holds a usable value wins, so a field that is
a string in some records and an object holding a name in others is read either way. Times may
be offsets in seconds, milliseconds or microseconds, ``h:mm:ss`` text, UNIX times in s/ms/µs or
ISO timestamps; the unit comes from the field's name and the size of its values.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import polars as pl

# Ranked candidates per column (normalized names). A candidate that names an object (after
# flattening: a prefix of other paths) is not a leaf and is skipped there.
TEXT = ("message_body", "body", "message_message", "message_text", "text_message", "message", "text", "content", "msg",
        "comment", "message_content", "chat_message", "line")
USER = ("commenter_display_name", "author_display_name", "user_display_name", "sender_display_name", "display_name", "displayname",
        "author_name", "sender_username", "user_name", "username", "commenter_name", "commenter_login", "author", "user", "nick",
        "nickname", "sender", "name", "login", "from", "chatter", "user_login")
LOGIN = ("commenter_name", "commenter_login", "user_login", "login", "sender_slug", "sender_username", "author_login", "username",
         "user_name", "nick", "author_name", "name")
USER_ID = ("commenter_id", "author_id", "user_id", "sender_id", "author_channel_id", "author_external_channel_id", "commenter_uid")
MSG_ID = ("id", "message_id", "msg_id", "uuid", "comment_id")
# (name, kind): rel = offset into the VOD, abs = wall clock, auto = decided by the values
TIME = (("content_offset_seconds", "rel"), ("time_in_seconds", "rel"), ("video_offset_time_msec", "rel"), ("offset_seconds", "rel"),
        ("content_offset_ms", "rel"), ("offset_ms", "rel"), ("offset", "rel"), ("t_s", "rel"), ("video_offset", "rel"), ("seconds", "rel"),
        ("relative_time", "rel"), ("elapsed", "rel"),
        ("created_at", "abs"), ("timestamp", "auto"), ("timestamp_usec", "abs"), ("tmi_sent_ts", "abs"), ("sent_at", "abs"),
        ("published_at", "abs"), ("datetime", "abs"), ("date", "abs"), ("time", "auto"), ("ts", "auto"), ("t", "auto"),
        # rounded clock text: only when the record has no other time
        ("time_text", "fallback"), ("timestamp_text", "fallback"))
TYPE = ("message_type", "msg_type", "type")
BADGES = ("author_badges", "message_user_badges", "user_badges", "badges", "sender_identity_badges", "tags_badges")
FRAGMENTS = ("message_fragments", "fragments", "message_runs", "runs")
BITS = ("message_bits_spent", "bits_spent", "bits")
AMOUNT = ("amount", "money_text", "purchase_amount_text", "purchase_amount", "money_amount", "money")
EMOTES = ("emotes", "message_emoticons", "emoticons", "message_emotes")
_ROLES = {"text": TEXT, "user": USER, "user_login": LOGIN, "user_id": USER_ID, "msg_id": MSG_ID, "msg_type": TYPE,
          "badges": BADGES, "fragments": FRAGMENTS, "bits": BITS, "emotes": EMOTES, "amount": AMOUNT}
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_CLOCK = re.compile(r"^(-)?(?:(\d+):)?(\d{1,2}):(\d{2}(?:\.\d+)?)$")
_NUM = re.compile(r"^-?\d+(?:\.\d+)?$")
_CHAT_TYPES = ("", "chat", "message", "text_message", "textmessage", "privmsg", "text", "comment", "chatmessage", "chat_message")


def norm(parts: tuple[str, ...] | str) -> str:
    if isinstance(parts, str):
        parts = tuple(re.split(r"[.\s/]+", parts))
    out = []
    for p in parts:
        p = _CAMEL.sub("_", p).lower().strip("_")
        out.append(re.sub(r"[^a-z0-9]+", "_", p).strip("_"))
    return "_".join(x for x in out if x)


def flatten(rec: Any, prefix: tuple[str, ...] = (), out: dict | None = None, depth: int = 0) -> dict[tuple[str, ...], Any]:
    """Leaf paths of a record (lists are leaves); `__typename` and the like dropped."""
    out = {} if out is None else out
    if isinstance(rec, dict) and depth < 6:
        for k, v in rec.items():
            if isinstance(k, str) and not k.startswith("__"):
                flatten(v, prefix + (k,), out, depth + 1)
    else:
        out[prefix] = rec
    return out


def _get(rec: Any, path: tuple[str, ...]) -> Any:
    for p in path:
        if not isinstance(rec, dict):
            return None
        rec = rec.get(p)
    return rec


def _scalar_text(v: Any) -> str | None:
    if isinstance(v, str):
        return v
    if isinstance(v, bool) or v is None:
        return None
    if isinstance(v, (int, float)):
        return str(v)
    return None


def parse_time(v: Any, kind: str, unit: str) -> tuple[float | None, datetime | None]:
    """(offset seconds, wall-clock time) of one value; at most one is set."""
    if isinstance(v, bool) or v is None:
        return None, None
    if isinstance(v, str):
        s = v.strip()
        m = _CLOCK.match(s)
        if m:
            t = int(m.group(2) or 0) * 3600 + int(m.group(3)) * 60 + float(m.group(4))
            return (-t if m.group(1) else t), None
        if _NUM.match(s):
            v = float(s)
        else:
            try:
                dt = datetime.fromisoformat(s.replace("Z", "+00:00").replace(" UTC", "+00:00"))
            except ValueError:
                return None, None
            return None, (dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)).astimezone(timezone.utc)
    if not isinstance(v, (int, float)):
        return None, None
    x = float(v)
    if kind == "rel":
        return x / {"s": 1, "ms": 1e3, "us": 1e6}[unit], None
    if kind == "auto" and abs(x) < 1e9:
        return x, None  # small numbers are offsets
    if abs(x) > 1e14:
        return None, datetime.fromtimestamp(x / 1e6, timezone.utc)
    if abs(x) > 1e11:
        return None, datetime.fromtimestamp(x / 1e3, timezone.utc)
    return None, datetime.fromtimestamp(x, timezone.utc)


def _unit(name: str) -> str:
    if re.search(r"(msec|_ms|millis)", name):
        return "ms"
    if re.search(r"(usec|_us|micros)", name):
        return "us"
    return "s"


@dataclass
class FieldMap:
    """Which source paths feed which column, ranked; found from a sample of records."""

    roles: dict[str, list[tuple[str, ...]]] = field(default_factory=dict)
    times: list[tuple[tuple[str, ...], str, str]] = field(default_factory=list)  # (path, kind, unit)
    seen_kind: dict[tuple[str, ...], str] = field(default_factory=dict)  # what `auto` fields held in the sample

    @classmethod
    def infer(cls, samples: list[dict]) -> "FieldMap":
        seen: dict[str, tuple[str, ...]] = {}  # normalized name -> first path with a usable leaf
        prefixes: set[str] = set()
        for rec in samples:
            for path, v in flatten(rec).items():
                if not path:
                    continue
                n = norm(path)
                for i in range(1, len(path)):
                    prefixes.add(norm(path[:i]))
                if n not in seen and v is not None:
                    seen[n] = path
        fm = cls()
        used: set[tuple[str, ...]] = set()
        for role in ("text", "user", "user_login", "user_id", "msg_id", "msg_type", "badges", "fragments", "bits", "emotes", "amount"):
            paths = [seen[c] for c in _ROLES[role] if c in seen]
            if role == "user_login":
                paths = [p for p in paths if p not in fm.roles.get("user", [])[:1]]
            if role == "msg_id":
                paths = [p for p in paths if len(p) == 1 or norm(p) in ("message_id",)]
            if role in ("text", "user"):
                paths = [p for p in paths if p not in used]
            fm.roles[role] = paths
            used.update(paths[:1])
        for name, kind in TIME:
            if name in seen:
                fm.times.append((seen[name], kind, _unit(name)))
        for p, kind, unit in fm.times:  # say what an `auto` field turned out to be in the sample
            if kind == "auto":
                vals = [parse_time(_get(r, p), kind, unit) for r in samples[:50]]
                if vals and all(b is not None for _, b in vals):
                    fm.seen_kind[p] = "wall clock"
                elif vals and all(a is not None for a, _ in vals):
                    fm.seen_kind[p] = "offset in s"
        return fm

    def describe(self) -> str:
        """`column <- source field` for the columns that were found."""
        parts = []
        for role in ("t_s", "text", "user", "user_login", "user_id", "msg_id"):
            if role == "t_s":
                for p, kind, unit in self.times[:3]:
                    what = self.seen_kind.get(p) or {"rel": f"offset in {unit}", "abs": "wall clock", "auto": "offset or wall clock by size",
                                                     "fallback": "h:mm:ss offset, if nothing else"}[kind]
                    parts.append(f"time <- {'.'.join(p)} ({what})")
                continue
            paths = self.roles.get(role) or []
            if role == "text" and not paths and self.roles.get("fragments"):
                paths = self.roles["fragments"]
            if paths:
                parts.append(f"{role} <- {'.'.join(paths[0])}")
        return ", ".join(parts) or "no known field"

    def missing(self) -> list[str]:
        miss = []
        if not self.times:
            miss.append("a time")
        if not self.roles.get("text") and not self.roles.get("fragments"):
            miss.append("a text")
        if not self.roles.get("user"):
            miss.append("a user")
        return miss

    def extract(self, rec: dict) -> dict[str, Any] | str:
        """One record as PARSED values, or the reason it cannot be read."""
        out: dict[str, Any] = {}
        for role in ("text", "user", "user_login", "user_id", "msg_id", "msg_type"):
            val = None
            for p in self.roles.get(role, ()):
                val = _name_of(_get(rec, p)) if role in ("user", "user_login") else _scalar_text(_get(rec, p))
                if val is not None:
                    break
            out[role] = val
        if not out["text"]:
            for p in self.roles.get("fragments", ()):
                joined = _join_fragments(_get(rec, p))
                if joined:
                    out["text"] = joined
                    break
        t_s = t_abs = None
        for p, kind, unit in self.times:
            if kind == "fallback" and (t_s is not None or t_abs is not None):
                continue
            a, b = parse_time(_get(rec, p), "rel" if kind == "fallback" else kind, unit)
            if t_s is None and a is not None:
                t_s = a
            if t_abs is None and b is not None:
                t_abs = b
        if t_s is None and t_abs is None:
            got = [f"{'.'.join(p)}={_get(rec, p)!r}"[:80] for p, _, _ in self.times if _get(rec, p) is not None]
            return "no_time: no readable time" + (f" ({', '.join(got)})" if got else " field in the record")
        paid = next((v for p in self.roles.get("amount", ()) if (v := _scalar_text(_get(rec, p)))), None)
        if paid is not None:  # a super chat / donation: a notice, with or without a message
            out["msg_type"] = "paid"
            out["text"] = f"[paid {paid}]" + (f" {out['text']}" if out["text"] else "")
        if out["text"] is None:
            return "no_text: no message text field in the record"
        badges: list[str] = []
        for p in self.roles.get("badges", ()):
            badges = _badge_names(_get(rec, p))
            if badges:
                break
        bits = 0
        for p in self.roles.get("bits", ()):
            v = _get(rec, p)
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                bits = int(v)
                break
        emotes: list[dict] = []
        for p in self.roles.get("emotes", ()):
            emotes = _emote_spans(_get(rec, p))
            if emotes:
                break
        out["emotes"] = emotes
        mt = (out.pop("msg_type") or "").lower()
        out |= {"t_s": t_s, "t_abs": t_abs, "badges": badges, "bits": bits,
                "msg_type": "chat" if mt in _CHAT_TYPES else ("action" if mt in ("action", "me") else "notice")}
        if out["user_login"] is None and out["user"] is not None:
            out["user_login"] = out["user"].lower()
        elif out["user_login"] is not None:
            out["user_login"] = out["user_login"].lower()
        return out


def _name_of(v: Any) -> str | None:
    """A user given as a string, or as an object that holds a name."""
    if isinstance(v, str):
        return v.strip() or None
    if isinstance(v, dict):
        for k in ("display_name", "displayName", "name", "username", "login", "nick", "slug", "simpleText"):
            if isinstance(v.get(k), str) and v[k].strip():
                return v[k].strip()
    return _scalar_text(v)


def _join_fragments(v: Any) -> str | None:
    if isinstance(v, str):
        try:
            v = json.loads(v)  # a CSV cell holding the fragments as JSON
        except ValueError:
            return None
    if not isinstance(v, list) or not v:
        return None
    parts = [f.get("text") for f in v if isinstance(f, dict)]
    if not parts or any(not isinstance(p, str) for p in parts):
        return None
    return "".join(parts)


def _emote_spans(v: Any) -> list[dict]:
    """Emote positions: chat-downloader ``locations: ["0-4"]`` or Twitch ``begin``/``end`` (end inclusive)."""
    if not isinstance(v, list):
        return []
    out = []
    for e in v:
        if not isinstance(e, dict):
            continue
        eid = str(e.get("id") or e.get("_id") or e.get("name") or "")
        for loc in e.get("locations") or []:
            a, _, b = str(loc).partition("-")
            if a.isdigit() and b.isdigit():
                out.append({"id": eid, "begin": int(a), "end": int(b) + 1})
        if isinstance(e.get("begin"), int) and isinstance(e.get("end"), int):
            out.append({"id": eid, "begin": e["begin"], "end": e["end"] + 1})
    return sorted(out, key=lambda x: x["begin"])


def _badge_names(v: Any) -> list[str]:
    if isinstance(v, str):
        if v.startswith("["):
            try:
                return _badge_names(json.loads(v))
            except ValueError:
                return []
        return [b.split("/")[0] for b in v.split(",") if b]  # IRC style "moderator/1,subscriber/12"
    if not isinstance(v, list):
        return []
    out = []
    for b in v:
        if isinstance(b, str):
            out.append(b.lower())
        elif isinstance(b, dict):
            for k in ("_id", "setID", "set_id", "name", "type", "id", "title"):
                if isinstance(b.get(k), str):
                    out.append(b[k].lower())
                    break
    return out


FRAME_SCHEMA = {"msg_id": pl.String, "t_s": pl.Float64, "t_abs": pl.Datetime("us", "UTC"), "user": pl.String, "user_login": pl.String,
                "user_id": pl.String, "badges": pl.List(pl.String), "text": pl.String,
                "emotes": pl.List(pl.Struct({"id": pl.String, "begin": pl.Int32, "end": pl.Int32})), "bits": pl.Int64, "msg_type": pl.String,
                "source_line": pl.Int64, "source_index": pl.Int64}


def rows_frame(rows: list[dict]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=FRAME_SCHEMA) if rows else pl.DataFrame(schema=FRAME_SCHEMA)
