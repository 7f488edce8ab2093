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
    "twitchdownloader_json",  # TwitchDownloader / Twitch v5 API: content_offset_seconds, commenter{...}, message{body}
    "gql_json",  # Twitch GQL: contentOffsetSeconds, commenter{displayName}, message{fragments}
    "chat_downloader_json",  # chat-downloader (and the older chat-replay-downloader lists): time_in_seconds, timestamp (µs), author, message
    "youtube_live_chat",  # yt-dlp *.live_chat.json: replayChatItemAction / addChatItemAction lines
    "kick_json",  # Kick chat API messages: content, created_at, sender{username}
    "json_records",  # any other JSON/JSONL list of records with a time, a user and a text field (field mapper)
    "irc_json",  # IRC lines wrapped in {"messages": [...]} (recent-messages service)
    "irc",  # raw IRC lines with tags
    "text",  # TwitchDownloader text export (relative / UTC) and `<unix_ts> <nick>: <text>` lines
    "twitchdownloader_text_notime",  # TwitchDownloader text export without timestamps (recognized; no times)
    "twitchdownloader_html",  # TwitchDownloader HTML export
    "chatterino_log", "irssi_log", "weechat_log", "hexchat_log", "mirc_log",  # chat client logs
    "tcd_text",  # Twitch-Chat-Downloader text / irc formats: `[0:00:05] <name> text`
    "tcd_srt", "tcd_ssa",  # Twitch-Chat-Downloader subtitles: SRT cues `Name: text`, SSA/ASS Dialogue lines
    "csv",  # a header naming time, user and text columns (field mapper)
)
KNOWN = (
    "TwitchDownloader JSON/TXT/HTML, Twitch API/GQL JSON, chat-downloader JSON/JSONL/CSV, yt-dlp YouTube live_chat.json, "
    "Kick chat JSON, any JSON/JSONL/CSV of records with a time, a user and a text field, Twitch IRC lines (also in a JSON "
    "`messages` list), Chatterino/irssi/WeeChat/HexChat/mIRC logs, Twitch-Chat-Downloader text/SRT/SSA, `<unix_ts> <nick>: <text>` lines"
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
_TD_TEXT = re.compile(rb"^\[-?(\d+:)?\d{1,2}:\d{2}(\.\d+)?\] [^<\s]|^\[\d{4}-\d{2}-\d{2}[ T][0-9:.]+( ?(UTC|Z|[+-]\d{2}:?\d{2}))?\] ")
_UNIX_LINE = re.compile(rb"^\d{9,13}(\.\d+)? \S+: ")
_NOTIME_LINE = re.compile(rb"^[^\s:\[\]<>#*{\"-][^\s:\[\]\"]*( \([A-Za-z0-9_]+\))?: ")  # never a JSON line
_KEY = re.compile(r'"([A-Za-z_][A-Za-z0-9_ .-]{0,63})"\s*:')


def _obj(text: str, key: str) -> bool:
    """`"key": {` somewhere in text (a nested object, not a flattened field)."""
    return re.search(rf'"{key}"\s*:\s*\{{', text) is not None


def detect_json(head: bytes) -> str | None:
    text = head.decode("utf-8", "replace")
    has = lambda k: f'"{k}"' in text  # noqa: E731 - tiny local predicate
    if has("replayChatItemAction") or has("addChatItemAction") or has("liveChatTextMessageRenderer"):
        return "youtube_live_chat"
    if (has("contentOffsetSeconds") or has("displayName") and has("fragments")) and (_obj(text, "commenter") or has("node")):
        return "gql_json"
    if (has("content_offset_seconds") or has("commenter")) and (_obj(text, "commenter") or _obj(text, "message")) and has("message"):
        return "twitchdownloader_json"
    if re.search(r'"comments"\s*:\s*\[', text) and (has("FileInfo") or has("streamer") or _obj(text, "video")):
        return "twitchdownloader_json"  # its metadata, even with no (or an empty list of) comments
    if has("chatroom_id") or (has("sender") and has("content") and has("created_at")):
        return "kick_json"
    if has("time_in_seconds") or has("message_type") or (has("author") and has("timestamp")):
        return "chat_downloader_json"
    if re.search(r'"(messages|lines)"\s*:\s*\[\s*"', text) or re.search(r'"(@[^"]*)?:\S+ PRIVMSG #', text):
        return "irc_json"
    if has("author") and has("message"):
        return "chat_downloader_json"
    from chatlab.chat.fields import FieldMap  # a late import: fields imports nothing from here

    if not FieldMap.infer([{k: "x" for k in _KEY.findall(text)}]).missing():
        return "json_records"
    return None


def encoding_of(head: bytes) -> str:
    if head.startswith(b"\x1f\x8b"):
        return "gzip"
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "UTF-16 (BOM)"
    if head.startswith(b"\xef\xbb\xbf"):
        return "UTF-8 with BOM"
    sample = head[:65536]
    if b"\x00" in sample and sample.count(b"\x00") > len(sample) // 20:
        return "binary (many NUL bytes)"
    try:
        sample.decode("utf-8")
        return "UTF-8" if any(b > 127 for b in sample) else "ASCII"
    except UnicodeDecodeError as e:
        if e.start > len(sample) - 4:
            return "UTF-8"  # a character cut by the sample's end
        printable = sum(32 <= b < 127 or b >= 0xA0 or b in (9, 10, 13) for b in sample)  # latin-1 letters count
        return "latin-1/cp1252 text" if printable > 0.9 * len(sample) else "binary"


def describe(head: bytes, name: str = "file") -> str:
    """What a file that cannot be read looks like: encoding, first keys or first line, and the formats known."""
    enc = encoding_of(head)
    body = to_utf8(head).replace(b"\x00", b"").lstrip()
    looks = ""
    if enc.startswith("binary"):
        looks = f"first bytes {body[:16]!r}"
    elif body[:1] in (b"{", b"["):
        keys = list(dict.fromkeys(_KEY.findall(body[:20000].decode("utf-8", "replace"))))[:12]
        looks = ("JSON " + ("array" if body[:1] == b"[" else "object") + (f" with keys {', '.join(keys)}" if keys else " with no keys"))
    else:
        first = body.split(b"\n", 1)[0][:120].decode("utf-8", "replace").rstrip("\r")
        looks = f"first line {first!r}"
    return f"{name}: not a chat export chatlab knows ({enc}; {looks}). Known formats: {KNOWN}"


def detect(head: bytes, name: str = "") -> str:
    """The format of a file from its first bytes (already decompressed). Raises ChatFormatError."""
    name = name or "file"
    raw, head = head, to_utf8(head).replace(b"\x00", b"")  # raw: its encoding is part of the message
    stripped = head.lstrip()
    if not stripped:
        raise ChatFormatError(f"{name}: empty (no chat messages)")
    if stripped[:1] in (b"{", b"["):
        fmt = detect_json(stripped)
        if fmt:
            return fmt
    lines = [ln.strip(b"\r") for ln in stripped.split(b"\n")[:200] if ln.strip()]
    if len(stripped) >= HEAD and len(lines) > 1:
        lines = lines[:-1]  # the last line of a full head may be cut
    from chatlab.chat.clientlogs import SIGNS  # late import: clientlogs imports fields, which is light

    votes = {"irc": 0, "text": 0, "twitchdownloader_text_notime": 0} | {k: 0 for k in SIGNS}
    for ln in lines:
        if _IRC_LINE.match(ln):
            votes["irc"] += 1
            continue
        s = ln.decode("utf-8", "replace")
        hit = [k for k, rx in SIGNS.items() if rx.search(s) if k != "twitchdownloader_html" or "comment-root" in s]
        if hit:
            for k in hit:
                votes[k] += 1
        elif _TD_TEXT.match(ln) or _UNIX_LINE.match(ln):
            votes["text"] += 1
        elif _NOTIME_LINE.match(ln):
            votes["twitchdownloader_text_notime"] += 1
    if votes["twitchdownloader_html"]:
        return "twitchdownloader_html"
    for sub in ("tcd_srt", "tcd_ssa"):  # a cue is 2-3 lines, its text line looks like other formats
        if votes[sub] and votes[sub] >= max(1, len(lines) // 5):
            return sub
    if votes["chatterino_log"] and any(ln.startswith(b"# Start logging at ") for ln in lines):
        return "chatterino_log"  # its `[hh:mm:ss] login: text` lines (2.4.5 on) look like TwitchDownloader's text; the header decides
    if votes["mirc_log"] and votes["tcd_text"] and not any(ln.startswith(b"Session ") for ln in lines) and not _date_in(name):
        votes["mirc_log"] = 0  # `[0:00:05] <name>` without mIRC's session header is tcd's offsets
    elif votes["mirc_log"]:
        votes["tcd_text"] = 0
    best = max(votes, key=votes.get)
    if votes[best] and votes[best] >= max(1, len(lines) // 4):
        if best == "twitchdownloader_text_notime" and votes[best] < len(lines) // 2:
            best = ""
        if best:
            return best
    first = lines[0].decode("utf-8", "replace") if lines else ""
    for sep in (",", "\t", ";"):
        cols = first.split(sep)
        if len(cols) >= 3:
            from chatlab.chat.fields import FieldMap

            if not FieldMap.infer([{c.strip().strip('"'): "x" for c in cols}]).missing():
                return "csv"
    raise ChatFormatError(describe(raw, name))


def _date_in(name: str) -> bool:
    return re.search(r"\d{4}-\d{2}-\d{2}", name) is not None


def detect_file(path: Path) -> str:
    return detect(read_head(path), path.name)
