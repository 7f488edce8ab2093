"""Reading NDJSON records into the parsed columns with one DuckDB query per file.

DuckDB's JSON reader is columnar and bounded in memory; a query either reads every
line or fails as a whole. On failure the lines are checked one by one with ``json_lines``
(the one line decoder, also used by the record-by-record readers: JSON syntax, NUL bytes,
encoding: a latin-1 line is re-decoded and kept), bad lines become rejects, and the
good ones are read again; if a type error remains, the lines are split in halves
until the unreadable ones are found. So a broken line costs time, never other rows.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from chatlab.chat.schema import PARSED, conform

MAX_OBJECT = 64 << 20  # one record up to 64 MB (a 10 MB message is legal JSON)


def _connect() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    # no progress bar: DuckDB draws it on stdout, into `chatlab chat parse --json` and the bench worker's result
    con.execute("SET memory_limit='384MB'; SET preserve_insertion_order=true; SET enable_progress_bar=false")
    return con


class QueryError(Exception):
    """DuckDB could not read the lines with the given columns."""


def _query(con: duckdb.DuckDBPyConnection, path: Path, columns: dict[str, str], select: str) -> pl.DataFrame:
    cols = "{" + ", ".join(f"'{k}': '{v}'" for k, v in columns.items()) + "}"
    src = f"read_json('{path.as_posix()}', format='newline_delimited', columns={cols}, maximum_object_size={MAX_OBJECT})"
    try:
        return con.execute(select.format(src=src)).pl()
    except duckdb.Error as e:
        raise QueryError(str(e).splitlines()[0][:300]) from e
    except UnicodeDecodeError as e:
        # DuckDB cut its error message inside a multi-byte character (a record holding U+0080..)
        raise QueryError(f"DuckDB's error message was not valid UTF-8 ({e.reason} at byte {e.start})") from e


def json_lines(lines: Iterable[bytes], stats: Counter, rejects: list[dict], offset: int = 0) -> Iterator[tuple[int, Any, bytes]]:
    """(index, decoded value, raw line) of each non-blank NDJSON line, index = line number + offset.
    NUL bytes are removed and a latin-1/cp1252 line inside a UTF-8 file is re-decoded (both counted);
    a line that is not JSON becomes an invalid_json reject."""
    for i, line in enumerate(lines):
        line = line.rstrip(b"\r\n")
        if not line.strip():
            continue
        if b"\x00" in line:
            stats["nul_bytes_removed"] += line.count(b"\x00")
            line = line.replace(b"\x00", b"")
        try:
            try:
                obj = json.loads(line)
            except UnicodeDecodeError:
                line = line.decode("cp1252", "replace").encode("utf-8")
                obj = json.loads(line)
                stats["reencoded_latin1"] += 1
        except ValueError as e:
            rejects.append({"source_index": i + offset, "reason": f"invalid_json: {e}", "raw": line})
            continue
        yield i + offset, obj, line


def _write_lines(lines: list[bytes], folder: str) -> Path:
    fd, name = tempfile.mkstemp(suffix=".ndjson", dir=folder)
    with os.fdopen(fd, "wb") as f:
        for ln in lines:
            f.write(ln)
            f.write(b"\n")
    return Path(name)


def read_records(
    path: Path, columns: dict[str, str], select: str, rejects: list[dict], index_offset: int = 0
) -> tuple[pl.DataFrame, dict[str, int]]:
    """PARSED columns for each line of the NDJSON file; source_index = line number + index_offset."""
    stats: Counter[str] = Counter()
    con = _connect()
    try:
        if path.stat().st_size == 0:
            return conform(pl.DataFrame(), PARSED), dict(stats)
        try:
            df = _query(con, path, columns, select)
            return conform(df.with_row_index("source_index", offset=index_offset), PARSED), dict(stats)
        except QueryError:
            pass
        # Slow path: find the lines that spoil the query.
        good: list[bytes] = []
        index: list[int] = []
        with open(path, "rb") as f:
            for i, obj, line in json_lines(f, stats, rejects, index_offset):
                if not isinstance(obj, dict):
                    rejects.append({"source_index": i, "reason": f"not_an_object: the record is a JSON {type(obj).__name__}", "raw": line})
                    continue
                good.append(line)
                index.append(i)
        with tempfile.TemporaryDirectory(prefix="chatlab-") as tmp:
            frames = _bisect(con, good, index, columns, select, rejects, tmp)
        if not frames:
            return conform(pl.DataFrame(), PARSED), dict(stats)
        return conform(pl.concat(frames, how="diagonal_relaxed"), PARSED), dict(stats)
    finally:
        con.close()


def _bisect(con, lines, index, columns, select, rejects, tmp) -> list[pl.DataFrame]:
    if not lines:
        return []
    p = _write_lines(lines, tmp)
    try:
        df = _query(con, p, columns, select)
        return [df.with_columns(pl.Series("source_index", index, dtype=pl.Int64))]
    except QueryError as e:
        if len(lines) == 1:
            rejects.append({"source_index": index[0], "reason": f"bad_types: fields of unexpected type ({e})", "raw": lines[0]})
            return []
    finally:
        p.unlink(missing_ok=True)
    mid = len(lines) // 2
    return _bisect(con, lines[:mid], index[:mid], columns, select, rejects, tmp) + _bisect(
        con, lines[mid:], index[mid:], columns, select, rejects, tmp
    )


def raw_lines(path: Path, wanted: set[int], index_offset: int = 0) -> dict[int, bytes]:
    """The raw text of some lines (for rejects found after the query)."""
    out: dict[int, bytes] = {}
    if not wanted:
        return out
    with open(path, "rb") as f:
        for i, line in enumerate(f):
            if i + index_offset in wanted:
                out[i + index_offset] = line.rstrip(b"\r\n")
                if len(out) == len(wanted):
                    break
    return out
