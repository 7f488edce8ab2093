"""Opening a chat export (gzip with a size cap) and telling its format by content.

Detection looks at the first bytes only: gzip magic, then JSON shape (which keys the
first record has), IRC line shape, text-log shape, or a CSV header. The file name is
used only as a tie-breaker, so a ``.txt`` that holds IRC or JSON is still read right.
"""

from __future__ import annotations

import gzip
import json
import re
import zlib
from collections.abc import Iterator
from pathlib import Path

CHUNK = 32 << 20  # bytes per read; bounds the memory of the streaming JSON path
HEAD = 256 << 10  # bytes looked at to detect the format
DEFAULT_MAX_BYTES = 4 << 30  # decompressed-size cap (gzip bombs)

FORMATS = (
    "twitchdownloader_json",  # TwitchDownloader / Twitch v5 API: content_offset_seconds, commenter, message.body
    "gql_json",  # Twitch GQL: contentOffsetSeconds, commenter.displayName, message.fragments
    "chat_downloader_json",  # chat-downloader: time_in_seconds / timestamp (µs), author, message
    "irc_json",  # IRC lines wrapped in {"messages": [...]}
    "irc",  # raw IRC lines with tags
    "text",  # TwitchDownloader text export and `<unix_ts> <nick>: <text>` lines
    "csv",  # header naming offset, user and body columns
)


class ChatFormatError(ValueError):
    """The file as a whole cannot be read (unknown format, over the size cap); names the file."""


def is_gzip(path: Path) -> bool:
    with open(path, "rb") as f:
        return f.read(2) == b"\x1f\x8b"


def iter_bytes(path: Path, max_bytes: int = DEFAULT_MAX_BYTES, chunk: int = CHUNK) -> Iterator[bytes]:
    """The file's (decompressed) bytes in chunks; stops with ChatFormatError past max_bytes."""
    total = 0
    if is_gzip(path):
        with open(path, "rb") as raw:
            d = zlib.decompressobj(wbits=31)
            pending = b""
            while True:
                if not pending:
                    pending = raw.read(1 << 20)
                    if not pending:
                        break  # input ended; a truncated stream yields what it had, the parser reports the cut
                try:
                    out = d.decompress(pending, chunk)  # max_length bounds memory per step
                except zlib.error as e:
                    raise ChatFormatError(f"{path.name}: gzip data is corrupt after {total} decompressed bytes ({e})") from e
                pending = d.unconsumed_tail
                total += len(out)
                if total > max_bytes:
                    raise ChatFormatError(f"{path.name}: decompresses to more than {max_bytes} bytes (size cap; a gzip bomb?)")
                if out:
                    yield out
                if d.eof:  # concatenated gzip members are legal; trailing non-gzip bytes are ignored
                    pending = d.unused_data + pending
                    if not pending:
                        pending = raw.read(1 << 20)
                    if not pending.startswith(b"\x1f\x8b"):
                        break
                    d = zlib.decompressobj(wbits=31)
        return
    with open(path, "rb") as f:
        while block := f.read(chunk):
            total += len(block)
            if total > max_bytes:
                raise ChatFormatError(f"{path.name}: larger than {max_bytes} bytes (cap)")
            yield block


def read_head(path: Path, n: int = HEAD) -> bytes:
    """The first n decompressed bytes (a truncated gzip gives what it has)."""
    if is_gzip(path):
        try:
            with gzip.open(path, "rb") as f:
                return f.read(n)
        except (OSError, EOFError, zlib.error):
            d = zlib.decompressobj(wbits=31)
            with open(path, "rb") as f:
                try:
                    return d.decompress(f.read(1 << 20), n)
                except zlib.error:
                    return b""
    with open(path, "rb") as f:
        return f.read(n)


def read_all(path: Path, max_bytes: int = DEFAULT_MAX_BYTES) -> bytes:
    return b"".join(iter_bytes(path, max_bytes))


def strip_bom(data: bytes) -> bytes:
    return data[3:] if data.startswith(b"\xef\xbb\xbf") else data


def to_utf8(data: bytes) -> bytes:
    """UTF-16 (by BOM) re-encoded as UTF-8; a UTF-8 BOM removed. Other bytes untouched."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16", "replace").encode("utf-8")
    return strip_bom(data)


_IRC_LINE = re.compile(rb"^(@\S+ )?:\S+ (PRIVMSG|USERNOTICE|CLEARCHAT|CLEARMSG|NOTICE|ROOMSTATE|USERSTATE|JOIN|PART) ")
_TD_TEXT = re.compile(rb"^\[(\d+:)?\d{1,2}:\d{2}(\.\d+)?\] |^\[\d{4}-\d{2}-\d{2}[ T][0-9:.]+( ?(UTC|Z|[+-]\d{2}:?\d{2}))?\] ")
_UNIX_LINE = re.compile(rb"^\d{9,13}(\.\d+)? \S+: ")
_CSV_USER = re.compile(r"user|author|name|nick|login|commenter|sender", re.I)
_CSV_TEXT = re.compile(r"message|body|text|content|msg|comment", re.I)
_CSV_TIME = re.compile(r"time|offset|^t$|^t_s$|seconds|timestamp|ts|date|created", re.I)


def _json_first_record_keys(head: bytes) -> str:
    """The part of the head a JSON detector looks at (keys, not values, mostly)."""
    return head.decode("utf-8", "replace")


def detect_json(head: bytes) -> str | None:
    text = _json_first_record_keys(head)
    has = lambda k: f'"{k}"' in text  # noqa: E731 - tiny local predicate
    if has("contentOffsetSeconds") or (has("displayName") and has("fragments")):
        return "gql_json"
    if has("content_offset_seconds") or (has("commenter") and has("message")):
        return "twitchdownloader_json"
    if has("time_in_seconds") or has("message_type") or (has("author") and has("timestamp")):
        return "chat_downloader_json"
    if re.search(r'"(messages|lines)"\s*:\s*\[\s*"', text) or re.search(r'"(@[^"]*)?:\S+ PRIVMSG #', text):
        return "irc_json"
    if has("author") and has("message"):
        return "chat_downloader_json"
    return None


def detect(head: bytes, name: str = "") -> str:
    """The format of a file from its first bytes (already decompressed). Raises ChatFormatError."""
    head = to_utf8(head).replace(b"\x00", b"")
    stripped = head.lstrip()
    if not stripped:
        raise ChatFormatError(f"{name or 'file'}: empty (no chat messages)")
    if stripped[:1] in (b"{", b"["):
        fmt = detect_json(stripped)
        if fmt:
            return fmt
    lines = [ln.strip(b"\r") for ln in stripped.split(b"\n")[:200] if ln.strip()]
    if len(stripped) >= len(head) and len(lines) > 1:
        pass
    votes = {"irc": 0, "text": 0}
    for ln in lines[:200]:
        if _IRC_LINE.match(ln):
            votes["irc"] += 1
        elif _TD_TEXT.match(ln) or _UNIX_LINE.match(ln):
            votes["text"] += 1
    best = max(votes, key=votes.get)
    if votes[best] and votes[best] >= max(1, len(lines[:200]) // 4):
        return best
    first = lines[0].decode("utf-8", "replace") if lines else ""
    for sep in (",", "\t", ";"):
        cols = first.split(sep)
        if len(cols) >= 3 and any(_CSV_USER.search(c) for c in cols) and any(_CSV_TEXT.search(c) for c in cols):
            if any(_CSV_TIME.search(c) for c in cols):
                return "csv"
    if stripped[:1] in (b"{", b"["):
        try:
            json.loads(stripped)
        except ValueError:
            pass
        raise ChatFormatError(f"{name or 'file'}: JSON, but not a chat export this reader knows (no comments/messages with offsets)")
    raise ChatFormatError(
        f"{name or 'file'}: unknown chat format; expected TwitchDownloader/GQL/chat-downloader JSON, "
        "IRC lines, a `[h:mm:ss] user: text` log, `<unix_ts> <nick>: <text>` lines or a CSV with a header"
    )


def detect_file(path: Path) -> str:
    return detect(read_head(path), path.name)
