"""Reading the watch folder (``data/inbox/``) without ever touching it.

A VOD is a video or audio file; a chat export beside it with the same stem
belongs to it (``stream.mp4`` + ``stream.json``). The VOD id is derived from
the file name alone, so the sensor, the assets and the CLI all agree on it
without shared state:

- a stem that already is a valid id (``[a-z0-9_-]{1,64}``) is the id;
- any other stem is transliterated to ASCII, lower-cased, runs of other
  characters become ``_``, and a short hash of the original stem is appended,
  so ``Stream 1.mp4`` and ``stream_1.mp4`` can never collide;
- when several media files share one stem, the first by extension priority
  (video before audio, in the order of MEDIA_EXTENSIONS) keeps the id and the
  others get ``-<ext>`` appended.
"""

from __future__ import annotations

import hashlib
import os
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from chatlab.files import sha256_file  # noqa: F401  (re-exported for the ingest assets)

VIDEO_EXTENSIONS = ("mp4", "mkv", "webm", "flv", "ts", "mov")
AUDIO_EXTENSIONS = ("wav", "flac", "mp3", "m4a", "ogg", "opus")
MEDIA_EXTENSIONS = VIDEO_EXTENSIONS + AUDIO_EXTENSIONS
# Chat exports, in the order one is preferred when a stem has several (yt-dlp's `.live_chat.json`
# before `.json`, so its stem is the video's; tcd's subtitles last, as an .srt may be speech).
CHAT_SUFFIXES = (".live_chat.json", ".live_chat.json.gz", ".json", ".json.gz", ".jsonl", ".jsonl.gz", ".csv", ".csv.gz",
                 ".txt", ".txt.gz", ".log", ".log.gz", ".irc", ".html", ".html.gz", ".ass", ".ssa", ".srt", ".gz")
# Ground truth written by `chatlab demo` beside each demo stream.
TRUTH_SUFFIX = ".truth.json"

VOD_ID_RE = re.compile(r"\A[a-z0-9_-]{1,64}\Z")  # \Z: "$" would let a trailing newline in
MAX_ID = 64
_HASH_LEN = 6
_HEAD_TAIL = 1 << 20  # bytes hashed at each end of a file for its fingerprint


class VodNotFound(LookupError):
    pass


@dataclass(frozen=True)
class VodFiles:
    vod_id: str
    media: Path
    chat: Path | None = None

    @property
    def kind(self) -> str:
        return "video" if self.media.suffix.lower().lstrip(".") in VIDEO_EXTENSIONS else "audio"


@dataclass(frozen=True)
class Problem:
    """A file in the inbox that is not (yet) a VOD, and why."""

    path: Path
    reason: str

    def __str__(self) -> str:
        return f"{self.path.name}: {self.reason}"


@dataclass
class InboxScan:
    vods: list[VodFiles] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    renamed: dict[str, str] = field(default_factory=dict)  # file name -> id, where the id is not the stem

    def by_id(self) -> dict[str, VodFiles]:
        return {v.vod_id: v for v in self.vods}


def is_valid_vod_id(vod_id: str) -> bool:
    return bool(VOD_ID_RE.match(vod_id))


def _short_hash(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:_HASH_LEN]


def vod_id_from_stem(stem: str) -> str:
    """The VOD id for a file stem (see the module docstring for the rule)."""
    if is_valid_vod_id(stem):
        return stem
    ascii_ = unicodedata.normalize("NFKD", stem).encode("ascii", "ignore").decode("ascii")
    base = re.sub(r"[^a-z0-9_-]+", "_", ascii_.lower()).strip("_-")
    suffix = _short_hash(stem)
    base = base[: MAX_ID - _HASH_LEN - 1].rstrip("_-")
    return f"{base}-{suffix}" if base else f"vod-{suffix}"


def split_name(name: str) -> tuple[str, str] | None:
    """(stem, kind) for a file name: kind is 'media', 'chat' or 'truth'; None when unsupported."""
    lower = name.lower()
    if lower.endswith(TRUTH_SUFFIX):
        return name[: -len(TRUTH_SUFFIX)], "truth"
    for suffix in CHAT_SUFFIXES:
        if lower.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)], "chat"
    stem, dot, ext = name.rpartition(".")
    if dot and stem and ext.lower() in MEDIA_EXTENSIONS:
        return stem, "media"
    return None


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
        return True
    except ValueError:
        return False


def scan_inbox(inbox: Path) -> InboxScan:
    """Every VOD in the folder, and every file that is not one with the reason. Reads names and stats only."""
    scan = InboxScan()
    if not inbox.is_dir():
        return scan
    media: dict[str, list[Path]] = {}
    chats: dict[str, list[Path]] = {}
    for entry in sorted(inbox.iterdir(), key=lambda p: p.name):
        name = entry.name
        if name.startswith("."):
            continue  # hidden files: editor swap files, OS metadata
        if entry.is_symlink() and not _inside(entry, inbox):
            scan.problems.append(Problem(entry, f"symlink pointing outside the inbox ({os.readlink(entry)}); not followed"))
            continue
        if entry.is_dir():
            scan.problems.append(Problem(entry, "a folder; only files directly in the inbox are read"))
            continue
        if not entry.exists():
            scan.problems.append(Problem(entry, "broken symlink"))
            continue
        parts = split_name(name)
        if parts is None:
            exts = ", ".join(MEDIA_EXTENSIONS)
            scan.problems.append(Problem(entry, f"unsupported file type; expected a video or audio file ({exts}) or a chat export"))
            continue
        stem, kind = parts
        if kind == "truth":
            continue
        if entry.stat().st_size == 0:
            scan.problems.append(Problem(entry, "empty file (0 bytes): still being copied, or broken"))
            continue
        if not os.access(entry, os.R_OK):
            scan.problems.append(Problem(entry, "not readable (permissions)"))
            continue
        (media if kind == "media" else chats).setdefault(stem, []).append(entry)

    priority = {ext: i for i, ext in enumerate(MEDIA_EXTENSIONS)}
    for stem, files in media.items():
        files.sort(key=lambda p: priority[p.suffix.lower().lstrip(".")])
        chat = _pick_chat(chats.get(stem, []))
        base = vod_id_from_stem(stem)
        for i, path in enumerate(files):
            vod_id = base if i == 0 else f"{base[: MAX_ID - 5]}-{path.suffix.lower().lstrip('.')}"
            scan.vods.append(VodFiles(vod_id, path, chat))
            if vod_id != stem:
                scan.renamed[path.name] = vod_id
    for stem, files in chats.items():
        if stem not in media:
            for path in files:
                scan.problems.append(Problem(path, "chat export with no video or audio file of the same stem (waiting for it)"))

    # Hash suffixes make collisions practically impossible; if one happens, refuse both, loudly.
    seen: dict[str, VodFiles] = {}
    for vod in list(scan.vods):
        other = seen.get(vod.vod_id)
        if other is not None:
            scan.vods.remove(vod)
            scan.problems.append(Problem(vod.media, f"VOD id {vod.vod_id!r} is already taken by {other.media.name}; rename one of them"))
        else:
            seen[vod.vod_id] = vod
    scan.vods.sort(key=lambda v: v.vod_id)
    return scan


def _pick_chat(files: list[Path]) -> Path | None:
    if not files:
        return None
    order = {s: i for i, s in enumerate(CHAT_SUFFIXES)}

    def rank(p: Path) -> int:
        lower = p.name.lower()
        return min(i for s, i in order.items() if lower.endswith(s))

    return min(files, key=lambda p: (rank(p), p.name))


def find_vod(inbox: Path, vod_id: str) -> VodFiles:
    """The files of one VOD, or VodNotFound naming what the inbox holds."""
    scan = scan_inbox(inbox)
    vod = scan.by_id().get(vod_id)
    if vod is None:
        known = ", ".join(sorted(scan.by_id())[:20]) or "none"
        raise VodNotFound(f"no file in {inbox} has VOD id {vod_id!r} (was it renamed or removed?); VODs there: {known}")
    return vod


def stat_key(path: Path) -> tuple[int, int]:
    """(size, mtime in ns): equal on two sensor ticks means the file is no longer being written."""
    st = path.stat()
    return st.st_size, st.st_mtime_ns


def file_fingerprint(path: Path) -> str:
    """Size plus hashes of the first and last MiB: cheap on a 10-hour VOD, changes when the content does."""
    h = hashlib.sha256()
    size = path.stat().st_size
    h.update(str(size).encode())
    with open(path, "rb") as f:
        h.update(f.read(_HEAD_TAIL))
        if size > _HEAD_TAIL:
            f.seek(max(_HEAD_TAIL, size - _HEAD_TAIL))
            h.update(f.read(_HEAD_TAIL))
    return h.hexdigest()[:16]


def vod_fingerprint(vod: VodFiles) -> str:
    """Fingerprint of a VOD's media and chat export together: a new chat export re-runs the VOD too."""
    parts = [vod.media.name, file_fingerprint(vod.media)]
    if vod.chat is not None:
        parts += [vod.chat.name, file_fingerprint(vod.chat)]
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]
