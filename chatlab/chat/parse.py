"""One entry point for every chat export: detect, parse, check, resolve times, normalize.

``parse_file(path)`` returns the messages in the normalized schema and the rejects, with
counts per reason. Nothing is dropped silently: a record that cannot be read becomes a
reject row naming the file, the line or record index, the reason and the raw text; a file
that cannot be read at all becomes one reject row (and no messages), never an exception.
"""

from __future__ import annotations

import json
import re
import tempfile
from concurrent.futures import ThreadPoolExecutor
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from collections.abc import Iterable, Iterator

import duckdb
import polars as pl

from chatlab.chat import clientlogs, gql, irc, text, twitchdownloader, youtube
from chatlab.chat.csv_ import parse_csv
from chatlab.chat.detect import DEFAULT_MAX_BYTES, ChatFormatError, describe, detect, iter_bytes, read_head, to_utf8
from chatlab.chat.fields import FieldMap, rows_frame
from chatlab.chat.jsonstream import stream_records
from chatlab.chat.ndjson import json_lines, raw_lines, read_records
from chatlab.chat.privacy import hash_users
from chatlab.chat.schema import KNOWN_BOTS, MESSAGE, PARSED, REJECT, conform, empty, rejects_frame

# Typed fast paths (one DuckDB query per part, the bench path) for the two Twitch JSON shapes.
FAMILIES = {"twitchdownloader_json": twitchdownloader, "gql_json": gql}
# Read record by record through the field mapper (any key style) or YouTube's actions.
MAPPED = ("chat_downloader_json", "kick_json", "json_records")
JSON_FORMATS = (*FAMILIES, *MAPPED, "youtube_live_chat", "irc_json")
# Formats whose times are offsets into the VOD; the others carry wall-clock times.
RELATIVE = {"twitchdownloader_json", "gql_json"}
# What the typed paths read, for the summary (the mapper says it for the others).
TYPED_FIELDS = {
    "twitchdownloader_json": "time <- content_offset_seconds (offset in s; created_at wall clock), text <- message.body "
                             "(or fragments), user <- commenter.display_name, user_login <- commenter.name, msg_id <- _id",
    "gql_json": "time <- contentOffsetSeconds (offset in s; createdAt wall clock), text <- message.fragments[].text, "
                "user <- commenter.displayName, user_login <- commenter.login, msg_id <- id",
    "youtube_live_chat": "time <- replayChatItemAction.videoOffsetTimeMsec (offset in ms; timestampUsec wall clock), "
                         "text <- message.runs (text and emoji), user <- authorName.simpleText, user_id <- authorExternalChannelId, msg_id <- id",
    "irc_json": "time <- tmi-sent-ts tag (wall clock), text <- trailing parameter, user <- display-name tag, msg_id <- id tag",
    "irc": "time <- tmi-sent-ts tag or [time] prefix (wall clock), text <- trailing parameter, user <- display-name tag, msg_id <- id tag",
}
LINE_BLOCK = 16 << 20  # bytes of text decoded and parsed at a time on line paths
PART_BYTES = 96 << 20  # NDJSON bytes per part on the typed JSON paths (one DuckDB read each)


@dataclass
class ChatParse:
    messages: pl.DataFrame  # MESSAGE columns
    rejects: pl.DataFrame  # REJECT columns
    format: str
    file: str
    meta: dict[str, Any] = field(default_factory=dict)  # what the export says about itself
    stats: dict[str, int] = field(default_factory=dict)  # counts: parsed, rejected, per reason, notes
    time_basis: str = "none"  # how t_s was obtained (see resolve_times)
    start_time: datetime | None = None
    # parse_file(spill=folder): the messages are in this Parquet file instead (sorted, MESSAGE
    # columns) and `messages` is empty; `count` is their number either way.
    parquet: Path | None = None
    count: int = 0

    def lazy(self) -> pl.LazyFrame:
        """The messages as a LazyFrame (scanned from `parquet` when spilled)."""
        return pl.scan_parquet(self.parquet) if self.parquet else self.messages.lazy()

    def reject_counts(self) -> dict[str, int]:
        if self.rejects.height == 0:
            return {}
        codes = self.rejects["reason"].str.extract(r"^([a-z_]+):", 1).fill_null("other")
        return dict(sorted(Counter(codes.to_list()).items()))

    def summary(self) -> str:
        why = ", ".join(f"{k} {v}" for k, v in self.reject_counts().items()) or "none"
        notes = ", ".join(f"{k} {v}" for k, v in self.stats.items() if k not in ("parsed", "rejected") and v)
        fields = f"; fields: {self.meta['fields']}" if self.meta.get("fields") else ""
        return (
            f"{self.file}: {self.format}: parsed {self.count}, rejected {self.rejects.height} ({why}); "
            f"times: {self.time_basis}" + fields + (f"; {notes}" if notes else "")
        )


_NUL_LINE = re.compile(rb"(?m)^[ \t\r\x00]*\x00[ \t\r\x00]*$")


def parse_file(
    path: str | Path,
    *,
    start_time: datetime | None = None,
    start_source: str = "given",
    salt: str | None = None,
    bots: frozenset[str] | set[str] = KNOWN_BOTS,
    max_bytes: int = DEFAULT_MAX_BYTES,
    spill: Path | None = None,
) -> ChatParse:
    """Parse any supported chat export. start_time (UTC) turns wall-clock times into VOD
    offsets; without it the export's own start time, else the first message, is used.

    ``spill`` (an existing folder, e.g. a temporary one under the data directory): the messages
    never sit in memory as one table. Each part of the file is written there as Parquet, times
    and ids are resolved part by part (only the time columns are held whole), and DuckDB sorts
    the parts into ``ChatParse.parquet`` with a memory limit, spilling to disk. The rows are the
    same as without it. The caller removes the folder."""
    path = Path(path)
    rejects: list[dict] = []
    stats: Counter[str] = Counter()
    meta: dict[str, Any] = {}
    fmt = "unknown"
    try:
        if path.stat().st_size == 0:
            raise ChatFormatError(f"{path.name}: empty file (0 bytes)")
        fmt = detect(read_head(path), path.name)
        if fmt in TYPED_FIELDS:
            meta["fields"] = TYPED_FIELDS[fmt]
        if fmt in JSON_FORMATS:
            parsed = _parse_json(path, fmt, max_bytes, rejects, stats, meta, spill)
        elif fmt == "csv":
            parsed = parse_csv(iter_bytes(path, max_bytes), rejects, stats, meta)
        elif fmt in clientlogs.FORMATS:
            parsed = clientlogs.parse_lines(fmt, _numbered_lines(path, max_bytes, stats), path.name, stats, rejects, meta)
        else:
            parsed = _parse_lines(path, max_bytes, rejects, stats)
        if isinstance(parsed, pl.DataFrame) and parsed.height == 0 and not rejects:
            raise ChatFormatError(f"{path.name}: empty: read as {fmt}, but it holds no chat records"
                                  + (f" (its `{meta['records_key']}` list is empty)" if meta.get("records_key") else ""))
    except (ChatFormatError, ValueError, OSError, duckdb.Error) as e:
        head = b""
        try:
            head = read_head(path, 2000)
        except OSError:
            pass
        code = "empty_file" if "empty" in str(e) else "file_error"
        rejects.append({"reason": f"{code}: {e}", "raw": head})
        parsed = pl.DataFrame()
    if spill is not None:
        files = _spill_parsed(parsed, spill)
        if files:
            if fmt == "twitchdownloader_json" and isinstance(parsed, list):  # the typed path leaves this to here
                refine = lambda tt: twitchdownloader.refine_offsets(tt, meta.get("start_time"))  # noqa: E731
            else:
                refine = None
            out, n, basis, start = _assemble_parts(files, spill, fmt, path.name, bots, salt, start_time, start_source,
                                                   refine, rejects, stats, meta)
            rej = rejects_frame([{**r, "source_file": path.name, "source_format": fmt} for r in rejects])
            stats["parsed"] = n
            stats["rejected"] = rej.height
            return ChatParse(empty(MESSAGE), rej, fmt, path.name, meta, dict(stats), basis, start, parquet=out, count=n)
        parsed = pl.DataFrame()
    parsed = conform(parsed, PARSED)
    parsed = _require(parsed, rejects, stats)
    parsed = _check_wall_clock(parsed, meta)
    if start_time is None and meta.get("start_time") is not None:
        start_time, start_source = meta["start_time"], "export metadata"
    parsed, basis, start = resolve_times(parsed, start_time, start_source)
    msgs = finalize(parsed, fmt, path.name, bots)
    if salt is not None:
        msgs = msgs.with_columns(hash_users(msgs, salt))
    rej = rejects_frame([{**r, "source_file": path.name, "source_format": fmt} for r in rejects])
    stats["parsed"] = msgs.height
    stats["rejected"] = rej.height
    return ChatParse(msgs, rej, fmt, path.name, meta, dict(stats), basis, start, count=msgs.height)


# --- spilled assembly (parse_file(spill=...)): the steps below, part by part ----------------

SPILL_ROWS = 500_000  # rows per Parquet part
SPILL_MEMORY = "512MB"  # DuckDB's limit for the final sort; it spills to the folder beyond it


def _sql_str(path: Path) -> str:
    return str(path).replace("'", "''")


def _spill_parsed(parsed: pl.DataFrame | list[Path], folder: Path) -> list[Path]:
    """Parts of the parsed (PARSED) rows as Parquet files: the typed readers' files as they
    are, any other reader's frame cut into files of SPILL_ROWS rows."""
    if isinstance(parsed, list):
        return parsed
    return _write_parts(conform(parsed, PARSED), folder, "parsed-whole")


def _write_parts(df: pl.DataFrame, folder: Path, stem: str) -> list[Path]:
    files = []
    for k, start in enumerate(range(0, df.height, SPILL_ROWS)):
        files.append(folder / f"{stem}-{k:05d}.parquet")
        df.slice(start, SPILL_ROWS).write_parquet(files[-1])
    return files


def _assemble_parts(files: list[Path], folder: Path, fmt: str, file: str, bots, salt: str | None,
                    start_time: datetime | None, start_source: str, refine, rejects: list[dict], stats: Counter,
                    meta: dict) -> tuple[Path | None, int, str, datetime | None]:
    """parse_file's steps after reading (refine offsets, _require, _check_wall_clock,
    resolve_times, finalize, hash_users) over Parquet parts in file order; the steps that look
    at the whole file get its time columns only. Returns (sorted file, messages, basis, start)."""
    times = pl.concat([pl.read_parquet(f, columns=["t_s", "t_abs"]) for f in files])
    if refine is not None:
        times, refined = refine(times)
        if refined:
            stats["offsets_refined_from_created_at"] = 1
    odd, bad, kept, at = [], [], [], 0
    for f in files:  # _require part by part; its two kinds of reject keep their whole-file order
        df = pl.read_parquet(f)
        df = df.with_columns(times["t_s"].slice(at, df.height).alias("t_s"))
        at += df.height
        mine: list[dict] = []
        df = _require(df, mine, stats)
        odd += [r for r in mine if r["reason"].startswith("bad_time")]
        bad += [r for r in mine if not r["reason"].startswith("bad_time")]
        df.write_parquet(f)
        kept.append(df.select("t_s", "t_abs"))
    rejects += odd + bad
    times = _check_wall_clock(pl.concat(kept), meta)
    del kept
    if start_time is None and meta.get("start_time") is not None:
        start_time, start_source = meta["start_time"], "export metadata"
    times, basis, start = resolve_times(times, start_time, start_source)
    at, need_ids = 0, False
    for f in files:
        df = pl.read_parquet(f)
        df = df.with_columns(times["t_s"].slice(at, df.height).alias("t_s"), times["t_abs"].slice(at, df.height).alias("t_abs"))
        df = _finalize_rows(df, fmt, file, bots).with_columns(pl.int_range(at, at + df.height, dtype=pl.Int64).alias("_row"))
        at += df.height
        need_ids |= df["msg_id"].null_count() > 0
        df.write_parquet(f)
    n = at
    del times
    if need_ids:  # the n-th repeat of a key counts over the whole file: the key columns only
        keys = pl.concat([pl.read_parquet(f, columns=["t_abs", "t_s", "user_login", "text", "msg_id"]) for f in files])
        ids = _stable_ids(keys)["msg_id"]
        del keys
        at = 0
        for f in files:
            df = pl.read_parquet(f)
            df = df.with_columns(ids.slice(at, df.height).alias("msg_id"))
            at += df.height
            df.write_parquet(f)
        del ids
    for f in files:
        df = pl.read_parquet(f)
        if salt is not None:
            df = df.with_columns(hash_users(df, salt))
        conform(df, {**MESSAGE, "_row": pl.Int64}).write_parquet(f)
    out = folder / "messages.parquet"
    con = duckdb.connect()
    try:
        con.execute("SET enable_progress_bar = false")  # it draws on stdout (chat parse --json)
        con.execute(f"SET memory_limit = '{SPILL_MEMORY}'")
        con.execute(f"SET temp_directory = '{_sql_str(folder / 'duckdb-tmp')}'")
        con.execute("SET preserve_insertion_order = true")
        names = ", ".join(f"'{_sql_str(f)}'" for f in files)
        # finalize's order: t_s, then source_index, nulls last, ties as they came (_row)
        con.execute(f"COPY (SELECT * EXCLUDE (_row) FROM read_parquet([{names}]) "
                    f"ORDER BY t_s ASC NULLS LAST, source_index ASC NULLS LAST, _row) TO '{_sql_str(out)}' (FORMAT parquet)")
    finally:
        con.close()
    for f in files:
        f.unlink(missing_ok=True)
    return out, n, basis, start


# --- reading ---------------------------------------------------------------------------


def _decode(data: bytes, stats: Counter) -> str:
    """Text of a line-based file: BOM and NUL bytes removed, latin-1 lines re-decoded (counted)."""
    data = to_utf8(data)
    if b"\x00" in data:
        stats["nul_bytes_removed"] += data.count(b"\x00")
        data = data.replace(b"\x00", b"")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        out = []
        for ln in data.split(b"\n"):
            try:
                out.append(ln.decode("utf-8"))
            except UnicodeDecodeError:
                out.append(ln.decode("cp1252", "replace"))
                stats["lines_reencoded_latin1"] += 1
        return "\n".join(out)


def _blocks(path: Path, max_bytes: int, stats: Counter) -> Iterator[tuple[int, str]]:
    """(number of the block's first line, decoded text) in blocks of whole lines: the file is
    never joined in memory."""
    pending = b""
    line_no = 1
    first = True
    for chunk in iter_bytes(path, max_bytes, LINE_BLOCK):
        if first:
            if chunk.startswith((b"\xff\xfe", b"\xfe\xff")):  # UTF-16 (rare, small): convert whole
                chunk = chunk + b"".join(iter_bytes(path, max_bytes, LINE_BLOCK))[len(chunk):]
            chunk, first = to_utf8(chunk), False
        data = pending + chunk
        cut = data.rfind(b"\n") + 1
        if cut == 0:
            pending = data
            continue
        block, pending = data[:cut], data[cut:]
        yield line_no, _decode(block[:-1], stats)
        line_no += block.count(b"\n")
    if pending:
        yield line_no, _decode(pending, stats)


def _numbered_lines(path: Path, max_bytes: int, stats: Counter) -> Iterator[tuple[int, str]]:
    for start, block in _blocks(path, max_bytes, stats):
        for i, ln in enumerate(block.split("\n")):
            yield start + i, ln


def _lines(textdata: str, first_line: int = 1) -> pl.DataFrame:
    s = pl.Series("line", [textdata]).str.split("\n").explode().str.strip_suffix("\r")
    return pl.DataFrame(s).with_row_index("source_line", offset=first_line).with_columns(pl.col("source_line").cast(pl.Int64))


def _parse_lines(path: Path, max_bytes: int, rejects: list[dict], stats: Counter) -> pl.DataFrame:
    """IRC and text-log lines; both are tried on every line, so a file mixing them is read whole."""
    frames, mods = [], []
    for start, block in _blocks(path, max_bytes, stats):
        lines = _lines(block, start).filter(pl.col("line").str.strip_chars() != "")
        keepalive = pl.col("line").str.contains(r"^(PING|PONG)( |$)")
        stats["not_a_message_irc_PING"] += int(lines.select(keepalive.sum()).item())
        lines = lines.filter(~keepalive)
        msgs_irc, mod, rest, other = irc.parse_irc(lines)
        stats.update(other)
        msgs_txt, rest = text.parse_text(rest)
        for row in rest.iter_rows(named=True):
            rejects.append({"source_line": row["source_line"], "reason": "unrecognized_line: not an IRC message, `[time] user: text` or `<unix_ts> <nick>: <text>`", "raw": row["line"]})
        frames += [conform(msgs_irc, PARSED), conform(msgs_txt, PARSED)]
        mods.append(mod)
    if not frames:
        return conform(pl.DataFrame(), PARSED)
    msgs = pl.concat(frames).sort("source_line").drop("source_index")
    msgs = msgs.with_row_index("source_index").with_columns(pl.col("source_index").cast(pl.Int64))
    mod = pl.concat(mods)
    if mod.height:
        msgs = irc.apply_moderation(msgs.with_row_index("msg_idx"), mod).drop("msg_idx")
        stats["moderation_events"] = mod.height
    return msgs


def _is_jsonl(head: bytes) -> bool:
    head = to_utf8(head).lstrip()
    first, _, rest = head.partition(b"\n")
    if not first.strip().startswith(b"{"):
        return False
    try:
        obj = json.loads(first)
    except ValueError:
        return False
    if rest.strip():
        return True  # a whole object on line 1 and more after it: one record per line
    # One object alone: a document when it holds a records list, else a JSONL file of one record
    # (read as a document it yielded nothing, silently). YouTube responses are read as documents.
    return isinstance(obj, dict) and not _find_records(obj)[0] and "continuationContents" not in obj


class PartWriter:
    """A file-like sink for NDJSON that cuts it into parts of about part_bytes at line ends and
    hands each finished part to `reader` in a background thread, so DuckDB reads part k while the
    scan cuts part k+1 (numpy and DuckDB both release the GIL: the two cores overlap)."""

    def __init__(self, folder: Path, reader, part_bytes: int | None = 96 << 20) -> None:
        self.folder, self.reader, self.part_bytes = folder, reader, part_bytes
        self.pool = ThreadPoolExecutor(max_workers=1)
        self.futures: list = []
        self.k = 0
        self.lines_done = 0
        self._open()

    def _open(self) -> None:
        self.k += 1
        self.path = self.folder / f"part{self.k:04d}.ndjson"
        self.f = open(self.path, "wb")
        self.size = 0
        self.lines = 0

    def _submit(self) -> None:
        self.f.close()
        if self.size:
            self.futures.append(self.pool.submit(self.reader, self.path, self.lines_done))
        self.lines_done += self.lines

    def write(self, data) -> int:
        self.f.write(data)
        self.size += len(data)
        self.lines += data.count(b"\n")
        if self.part_bytes and self.size >= self.part_bytes and data[-1:] == b"\n":
            self._submit()
            self._open()
        return len(data)

    def close(self) -> list:
        """Wait for every part; their results in file order."""
        self._submit()
        try:
            return [f.result() for f in self.futures]
        finally:
            self.pool.shutdown()

    def abort(self) -> None:
        self.f.close()
        for f in self.futures:
            f.cancel()
        self.pool.shutdown(wait=True)


def _absorb(scan: Any, stats: Counter, rejects: list[dict]) -> None:
    """What a records scan found besides records: its rejects, NUL bytes and truncation."""
    rejects.extend(scan.rejects)
    if scan.nul_bytes:
        stats["nul_bytes_removed"] += scan.nul_bytes
    if scan.truncated:
        stats["truncated_file"] = 1


def _byte_lines(path: Path, max_bytes: int) -> Iterator[bytes]:
    pending = b""
    first = True
    for chunk in iter_bytes(path, max_bytes):
        if first:
            chunk, first = to_utf8(chunk), False
        parts = (pending + chunk).split(b"\n")
        pending = parts.pop()
        yield from parts
    if pending:
        yield pending


def _map_records(fmt: str, records: Iterable[tuple[int, Any, bytes | None]], stats: Counter, rejects: list[dict], meta: dict,
                 name: str, line_based: bool) -> pl.DataFrame:
    """Records through YouTube's action reader or the field mapper (inferred from the first 500 records)."""
    if fmt == "youtube_live_chat":
        return youtube.parse_records(((i, o) for i, o, _ in records), stats, rejects, line_based)
    it = iter(records)
    head = [r for _, r in zip(range(500), it)]
    fm = FieldMap.infer([o for _, o, _ in head if isinstance(o, dict)])
    if fm.missing():
        sample = json.dumps(head[0][1], ensure_ascii=False)[:600] if head else "no records"
        raise ChatFormatError(f"{name}: {fmt}: the records have no field for {' and no '.join(fm.missing())} "
                              f"(first record: {sample}). {describe(b'', name).split('. ', 1)[1]}")
    meta["fields"] = fm.describe()
    rows = []
    for i, obj, raw in _chain(head, it):
        if not isinstance(obj, dict):
            rejects.append({"source_index": i, "reason": f"not_an_object: the record is a JSON {type(obj).__name__}", "raw": raw or json.dumps(obj)})
            continue
        got = fm.extract(obj)
        if isinstance(got, str):
            rejects.append({"source_index": i, "reason": got, "raw": raw or json.dumps(obj, ensure_ascii=False)})
            continue
        got["source_index"] = i
        got["source_line"] = i + 1 if line_based else None
        rows.append(got)
    return rows_frame(rows)


def _chain(head: list, it: Iterator) -> Iterator:
    yield from head
    yield from it


def _parse_records(path: Path, fmt: str, max_bytes: int, rejects: list[dict], stats: Counter, meta: dict) -> pl.DataFrame:
    """Formats read record by record in Python: JSONL line by line, a JSON document's records array
    cut out by the streaming scan, or a small nested document loaded whole."""
    if _is_jsonl(read_head(path)):
        stats["jsonl"] = 1
        return _map_records(fmt, json_lines(_byte_lines(path, max_bytes), stats, rejects), stats, rejects, meta, path.name, True)
    with tempfile.TemporaryDirectory(prefix="chatlab-chat-") as tmp:
        nd = Path(tmp) / "records.ndjson"
        with open(nd, "wb") as out:
            scan = stream_records(iter_bytes(path, max_bytes), out)
        _absorb(scan, stats, rejects)
        if scan.found:
            meta.update(twitchdownloader.export_meta(scan.meta))
            if scan.records_key:
                meta["records_key"] = scan.records_key
            with open(nd, "rb") as f:
                return _map_records(fmt, json_lines(f, stats, rejects), stats, rejects, meta, path.name, False)
    doc = _load_whole(path, max_bytes)
    if fmt == "youtube_live_chat":
        return _map_records(fmt, [(0, doc, None)], stats, rejects, meta, path.name, False)
    key, records = _records_of(doc)
    if key:
        meta["records_key"] = key
    return _map_records(fmt, [(i, r, None) for i, r in enumerate(records)], stats, rejects, meta, path.name, False)


def _load_whole(path: Path, max_bytes: int) -> Any:
    data = to_utf8(b"".join(iter_bytes(path, max_bytes))).replace(b"\x00", b"")
    try:
        return json.loads(data)
    except UnicodeDecodeError:
        return json.loads(data.decode("cp1252", "replace"))
    except ValueError as e:
        raise ChatFormatError(f"{path.name}: invalid JSON ({e}) and no records array could be cut out of it") from e


def _parse_json(path: Path, fmt: str, max_bytes: int, rejects: list[dict], stats: Counter, meta: dict,
                spill: Path | None = None) -> pl.DataFrame | list[Path]:
    """The JSON formats. With ``spill`` (a folder), the typed paths write each part's frame there
    as Parquet and return the files in file order (times not yet refined; see _assemble_parts)."""
    if fmt in MAPPED or fmt == "youtube_live_chat":
        return _parse_records(path, fmt, max_bytes, rejects, stats, meta)
    with tempfile.TemporaryDirectory(prefix="chatlab-chat-") as tmp:
        folder = Path(tmp)
        if fmt == "irc_json":  # a list of strings: nothing to cut out, read whole
            with open(folder / "doc.ndjson", "wb") as out:
                return _whole_document(path, fmt, max_bytes, rejects, stats, meta, out, folder / "doc.ndjson")
        family = FAMILIES[fmt]

        def read_part(part: Path, offset: int) -> tuple[pl.DataFrame, dict[str, int]]:
            if fmt == "gql_json":
                _flatten_gql(part)
            df, st = read_records(part, family.COLUMNS, family.SELECT, rejects, index_offset=offset)
            bad = _missing(df)
            if bad:
                raw = raw_lines(part, set(bad), offset)
                for i, reason in bad.items():
                    rejects.append({"source_index": i, "reason": reason, "raw": raw.get(i, b"")})
                df = df.filter(~pl.col("source_index").is_in(list(bad)))
            part.unlink(missing_ok=True)  # keep the disk footprint to about two parts
            return df, st

        # GQL records may expand into several nodes: one part, so indices stay consistent
        out = PartWriter(folder, _spilling(read_part, spill) if spill else read_part, None if fmt == "gql_json" else PART_BYTES)
        try:
            if _is_jsonl(read_head(path)):
                stats["jsonl"] = 1
                first = True
                for chunk in iter_bytes(path, max_bytes):
                    if first:
                        chunk, first = to_utf8(chunk), False
                    if b"\x00" in chunk:
                        stats["nul_bytes_removed"] += chunk.count(b"\x00")
                        # a line of NUL bytes alone would become blank and vanish: it is kept as a reject
                        chunk = _NUL_LINE.sub(b"<a line of NUL bytes only>", chunk).replace(b"\x00", b"")
                    out.write(chunk)
                if not chunk.endswith(b"\n"):
                    out.write(b"\n")
            else:
                scan = stream_records(iter_bytes(path, max_bytes), out)
                _absorb(scan, stats, rejects)
                if not scan.found:
                    out.abort()
                    with open(folder / "doc.ndjson", "wb") as doc:
                        return _whole_document(path, fmt, max_bytes, rejects, stats, meta, doc, folder / "doc.ndjson")
                meta.update(twitchdownloader.export_meta(scan.meta))
                if scan.records_key:
                    meta["records_key"] = scan.records_key
        except BaseException:
            out.abort()
            raise
        parts = out.close()
    for _, st in parts:
        stats.update(st)
    if spill:
        return [f for files, _ in parts for f in files]
    frames = [df for df, _ in parts if df.height]
    df = conform(pl.concat(frames, how="vertical_relaxed"), PARSED) if frames else conform(pl.DataFrame(), PARSED)
    if fmt == "twitchdownloader_json":
        df, refined = twitchdownloader.refine_offsets(df, meta.get("start_time"))
        if refined:
            stats["offsets_refined_from_created_at"] = 1
    return df


def _spilling(read_part, folder: Path):
    """A PartWriter reader that writes each part's frame to ``folder`` as Parquet (memory stays
    at about two parts whatever the file's size) and returns the files."""
    def read(part: Path, offset: int) -> tuple[list[Path], dict[str, int]]:
        df, st = read_part(part, offset)
        return _write_parts(conform(df, PARSED), folder, f"parsed-{offset:012d}"), st
    return read


def _whole_document(path, fmt, max_bytes, rejects, stats, meta, out, nd) -> pl.DataFrame:
    """A document the streaming cut could not split (nested GQL pages, IRC lines in JSON): loaded whole."""
    doc = _load_whole(path, max_bytes)
    if fmt == "irc_json":
        items = doc.get("messages") or doc.get("lines") if isinstance(doc, dict) else doc
        if not isinstance(items, list):
            raise ChatFormatError(f"{path.name}: IRC JSON without a `messages` list")
        lines = []
        for i, it in enumerate(items):
            if isinstance(it, dict):
                it = it.get("raw") or it.get("line") or it.get("message")
            if not isinstance(it, str):
                rejects.append({"source_index": i, "reason": "not_an_object: IRC JSON item is not a line of text", "raw": json.dumps(it)[:2000]})
                continue
            lines.append((i, it))
        df = pl.DataFrame({"source_index": [i for i, _ in lines], "line": [ln for _, ln in lines]}, schema={"source_index": pl.Int64, "line": pl.String})
        df = df.with_columns(pl.lit(None, pl.Int64).alias("source_line"))
        msgs, mod, rest, other = irc.parse_irc(df.with_columns(pl.col("source_index").alias("source_line")))
        stats.update(other)
        for row in rest.iter_rows(named=True):
            rejects.append({"source_index": row["source_line"], "reason": "unrecognized_line: not an IRC message", "raw": row["line"]})
        msgs = msgs.with_columns(pl.col("source_line").alias("source_index"), pl.lit(None, pl.Int64).alias("source_line"))
        if mod.height:
            msgs = irc.apply_moderation(msgs.with_row_index("msg_idx"), mod).drop("msg_idx")
        return msgs
    if isinstance(doc, dict):
        meta.update(twitchdownloader.export_meta(doc))
    records = list(gql.flatten(doc)) if fmt == "gql_json" else _records_of(doc)[1]
    for r in records:
        out.write(json.dumps(r, ensure_ascii=False).encode("utf-8") + b"\n")
    out.close()
    family = FAMILIES[fmt]
    df, st = read_records(nd, family.COLUMNS, family.SELECT, rejects)
    stats.update(st)
    bad = _missing(df)
    if bad:
        for i, reason in bad.items():
            rejects.append({"source_index": i, "reason": reason, "raw": json.dumps(records[i], ensure_ascii=False)})
        df = df.filter(~pl.col("source_index").is_in(list(bad)))
    return df


def _records_of(doc: Any) -> tuple[str, list]:
    """The records of a whole document; an object holding no records list is itself the one record
    (a single API comment saved pretty-printed yielded nothing before, silently)."""
    key, records = _find_records(doc)
    if not key and not records and isinstance(doc, dict) and doc:
        return "", [doc]
    return key, records


def _find_records(doc: Any, depth: int = 0) -> tuple[str, list]:
    """The records list of a document: the document itself, or a list under a records key,
    also nested (Kick's ``{"data": {"messages": [...]}}``)."""
    if isinstance(doc, list):
        return "", doc
    if isinstance(doc, dict) and depth < 3:
        for key in ("comments", "messages", "items", "chat", "data", "results", "chats"):
            if isinstance(doc.get(key), list):
                return key, doc[key]
        for key, v in doc.items():
            if isinstance(v, dict):
                k, found = _find_records(v, depth + 1)
                if found:
                    return f"{key}.{k}", found
    return "", []


def _flatten_gql(nd: Path) -> None:
    """Rewrite NDJSON records that are GQL edges or pages as one comment node per line."""
    with open(nd, "rb") as f:
        head = f.readline()
    if not head or not gql.needs_flatten(head):
        return
    tmp = nd.with_suffix(".flat")
    with open(nd, "rb") as src, open(tmp, "wb") as dst:
        for line in src:
            try:
                rec = json.loads(line)
            except ValueError:
                dst.write(line)  # read_records reports it
                continue
            nodes = list(gql.flatten(rec))
            for node in nodes:
                dst.write(json.dumps(node, ensure_ascii=False).encode("utf-8") + b"\n")
    tmp.replace(nd)


def _missing(df: pl.DataFrame) -> dict[int, str]:
    """Records without a time or a text: unreadable as messages."""
    if df.height == 0:
        return {}
    no_time = df.filter(pl.col("t_s").is_null() & pl.col("t_abs").is_null())["source_index"].to_list()
    no_text = df.filter(pl.col("text").is_null() & (pl.col("t_s").is_not_null() | pl.col("t_abs").is_not_null()))["source_index"].to_list()
    out = {i: "no_time: no offset or timestamp field (or unreadable)" for i in no_time}
    out.update({i: "no_text: no message body and no fragments" for i in no_text})
    return out


def _check_wall_clock(df: pl.DataFrame, meta: dict) -> pl.DataFrame:
    """Some exports stamp every message with the download time (the old chat-replay-downloader on
    Twitch): wall-clock times that span far less than the offsets are not message times. They are
    replaced by start + offset (and the metadata says so), so no one refines offsets with them."""
    both = pl.col("t_s").is_not_null() & pl.col("t_abs").is_not_null()
    agg = df.select(both.sum().alias("n"), pl.col("t_s").filter(both).min().alias("r0"), pl.col("t_s").filter(both).max().alias("r1"),
                    pl.col("t_abs").filter(both).min().alias("a0"), pl.col("t_abs").filter(both).max().alias("a1")).row(0, named=True)
    if agg["n"] < 2:
        return df
    span_rel = float(agg["r1"] - agg["r0"])
    span_abs = (agg["a1"] - agg["a0"]).total_seconds()
    if span_rel >= 60 and span_abs < 0.1 * span_rel:
        meta["t_abs_replaced"] = (f"the export's wall-clock times span {span_abs:.1f} s while its offsets span {span_rel:.0f} s: "
                                  "they are not message times (download times?); t_abs = start + offset instead")
        return df.with_columns(pl.when(pl.col("t_s").is_not_null()).then(None).otherwise(pl.col("t_abs")).alias("t_abs"))
    return df


# An offset past this (about 115 days) is not a time in a stream; NaN, inf and such cannot be
# turned into a timestamp either (they crashed the whole file before).
MAX_OFFSET_S = 1e7


def _require(df: pl.DataFrame, rejects: list[dict], stats: Counter) -> pl.DataFrame:
    """Line formats: rows that parsed but lack a time or text become rejects here; so does a
    time that is not a finite offset within MAX_OFFSET_S (any format)."""
    t = pl.col("t_s")
    odd = t.is_not_null() & (t.is_nan() | t.is_infinite() | (t.abs() > MAX_OFFSET_S))
    for row in df.filter(odd).iter_rows(named=True):
        rejects.append({"source_line": row["source_line"], "source_index": row["source_index"],
                        "reason": f"bad_time: offset {row['t_s']} s is not a finite time within ±{MAX_OFFSET_S:.0e} s",
                        "raw": row["text"] or ""})
    df = df.filter(~odd)
    bad = df.filter((pl.col("t_s").is_null() & pl.col("t_abs").is_null()) | pl.col("text").is_null())
    for row in bad.iter_rows(named=True):
        rejects.append({"source_line": row["source_line"], "source_index": row["source_index"], "reason": "no_time: the record has no usable time" if row["text"] is not None else "no_text: the record has no text", "raw": row["text"] or ""})
    return df.filter(~((pl.col("t_s").is_null() & pl.col("t_abs").is_null()) | pl.col("text").is_null()))


# --- times and normalization ------------------------------------------------------------


def resolve_times(df: pl.DataFrame, start: datetime | None, source: str = "given") -> tuple[pl.DataFrame, str, datetime | None]:
    """Fill t_s from t_abs (absolute formats) and t_abs from t_s (relative formats).

    Offsets in the export are used as they are. Wall-clock times need the VOD's start:
    ``start`` (from vod_source or the config, named by ``source``), else the first message.
    Returns the frame, a sentence saying which was used, and the start time."""
    if df.height == 0:
        return df, "none (no messages)", start
    n_rel = df["t_s"].is_not_null().sum()
    n_abs_only = (df["t_s"].is_null() & df["t_abs"].is_not_null()).sum()
    basis = []
    if n_rel:
        basis.append("offsets in the export")
    if n_abs_only:
        if start is None:
            start = df.filter(pl.col("t_s").is_null())["t_abs"].min()
            source = "first message"
        basis.append(f"wall-clock times minus the VOD start from {source} ({start.isoformat()})")
    if start is not None:
        if start.tzinfo is None:
            start = start.replace(tzinfo=timezone.utc)
        st = pl.lit(start).dt.cast_time_unit("us").dt.convert_time_zone("UTC")
        df = df.with_columns(
            pl.when(pl.col("t_s").is_null()).then((pl.col("t_abs") - st).dt.total_microseconds() / 1e6).otherwise(pl.col("t_s")).alias("t_s"),
            pl.when(pl.col("t_abs").is_null()).then(st + pl.duration(microseconds=(pl.col("t_s") * 1e6).cast(pl.Int64))).otherwise(pl.col("t_abs")).alias("t_abs"),
        )
    return df, "; ".join(basis), start


def _has(badge: str) -> pl.Expr:
    return pl.col("badges").list.contains(badge)


def finalize(df: pl.DataFrame, fmt: str, file: str, bots: frozenset[str] | set[str] = KNOWN_BOTS) -> pl.DataFrame:
    """PARSED -> MESSAGE: roles from badges, flags, stable ids, sorted by time (user_hash left null)."""
    if df.height == 0:
        return empty(MESSAGE)
    df = _stable_ids(_finalize_rows(df, fmt, file, bots))
    return conform(df.sort("t_s", "source_index", nulls_last=True, maintain_order=True), MESSAGE)


def _finalize_rows(df: pl.DataFrame, fmt: str, file: str, bots: frozenset[str] | set[str]) -> pl.DataFrame:
    """finalize's steps that look at one row at a time."""
    df = df.with_columns(
        pl.col("badges").fill_null([]),
        pl.col("emotes").fill_null([]),
        pl.col("bits").fill_null(0),
        pl.col("msg_type").fill_null("chat"),
        pl.col("moderated").fill_null(False),
        pl.col("user_login").fill_null(pl.col("user").str.to_lowercase()),
    )
    emote_chars = pl.col("emotes").list.eval(pl.element().struct.field("end") - pl.element().struct.field("begin")).list.sum().fill_null(0)
    df = df.with_columns(
        (_has("broadcaster")).alias("is_broadcaster"),
        (_has("moderator") | _has("broadcaster")).alias("is_moderator"),
        (_has("subscriber") | _has("founder")).alias("is_subscriber"),
        _has("vip").alias("is_vip"),
        pl.col("user_login").is_in(sorted({b.lower() for b in bots})).fill_null(False).alias("is_bot"),
        pl.col("text").str.strip_chars_start().str.starts_with("!").alias("is_command"),
        ((pl.col("emotes").list.len() > 0) & (emote_chars + pl.col("text").str.count_matches(r"\s") >= pl.col("text").str.len_chars())).alias("emote_only"),
        pl.lit(fmt).alias("source_format"),
        pl.lit(file).alias("source_file"),
    )
    return df


def _stable_ids(df: pl.DataFrame) -> pl.DataFrame:
    """Formats without message ids get md5(time|user|text|n-th repeat): the same file gives the same ids."""
    if df["msg_id"].null_count() == 0:
        return df
    key = df.select(
        pl.concat_str(
            [
                pl.coalesce(pl.col("t_abs").dt.epoch("us").cast(pl.String), (pl.col("t_s") * 1e6).round(0).cast(pl.Int64).cast(pl.String)),
                pl.col("user_login").fill_null(""),
                pl.col("text"),
            ],
            separator="\x1f",
        ).alias("k")
    )
    key = key.with_columns(pl.concat_str([pl.col("k"), pl.col("k").cum_count().over("k").cast(pl.String)], separator="\x1f"))
    con = duckdb.connect()
    try:
        con.execute("SET enable_progress_bar = false")  # it draws on stdout (chat parse --json)
        ids = con.execute("SELECT 'h' || substr(md5(k), 1, 24) AS id FROM key").pl()["id"]
    finally:
        con.close()
    return df.with_columns(pl.when(pl.col("msg_id").is_null() | (pl.col("msg_id") == "")).then(ids).otherwise(pl.col("msg_id")).alias("msg_id"))
