"""Reading NDJSON records into the parsed columns with one DuckDB query per file.

DuckDB's JSON reader is columnar and bounded in memory; a query either reads every
line or fails as a whole. On failure the lines are checked one by one (JSON syntax,
encoding: a latin-1 line is re-decoded and kept), bad lines become rejects, and the
good ones are read again; if a type error remains, the lines are split in halves
until the unreadable ones are found. So a broken line costs time, never other rows.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import duckdb
import polars as pl

from chatlab.chat.schema import PARSED, conform

MAX_OBJECT = 64 << 20  # one record up to 64 MB (a 10 MB message is legal JSON)


def _connect() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("SET memory_limit='384MB'; SET preserve_insertion_order=true")
    return con


def _query(con: duckdb.DuckDBPyConnection, path: Path, columns: dict[str, str], select: str) -> pl.DataFrame:
    cols = "{" + ", ".join(f"'{k}': '{v}'" for k, v in columns.items()) + "}"
    src = f"read_json('{path.as_posix()}', format='newline_delimited', columns={cols}, maximum_object_size={MAX_OBJECT})"
    return con.execute(select.format(src=src)).pl()


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
    stats: dict[str, int] = {}
    con = _connect()
    try:
        if path.stat().st_size == 0:
            return conform(pl.DataFrame(), PARSED), stats
        try:
            df = _query(con, path, columns, select)
            return conform(df.with_row_index("source_index", offset=index_offset), PARSED), stats
        except duckdb.Error:
            pass
        # Slow path: find the lines that spoil the query.
        good: list[bytes] = []
        index: list[int] = []
        with open(path, "rb") as f:
            for i, line in enumerate(f):
                line = line.rstrip(b"\r\n")
                if not line.strip():
                    continue
                try:
                    try:
                        obj = json.loads(line)
                    except UnicodeDecodeError:
                        # a latin-1/cp1252 line inside a UTF-8 file: keep the text, counted
                        line = line.decode("cp1252", "replace").encode("utf-8")
                        obj = json.loads(line)
                        stats["reencoded_latin1"] = stats.get("reencoded_latin1", 0) + 1
                except ValueError as e:
                    rejects.append({"source_index": i + index_offset, "reason": f"invalid_json: {e}", "raw": line})
                    continue
                if not isinstance(obj, dict):
                    rejects.append({"source_index": i + index_offset, "reason": f"not_an_object: the record is a JSON {type(obj).__name__}", "raw": line})
                    continue
                good.append(line)
                index.append(i + index_offset)
        with tempfile.TemporaryDirectory(prefix="chatlab-") as tmp:
            frames = _bisect(con, good, index, columns, select, rejects, tmp)
        if not frames:
            return conform(pl.DataFrame(), PARSED), stats
        return conform(pl.concat(frames, how="diagonal_relaxed"), PARSED), stats
    finally:
        con.close()


def _bisect(con, lines, index, columns, select, rejects, tmp) -> list[pl.DataFrame]:
    if not lines:
        return []
    p = _write_lines(lines, tmp)
    try:
        df = _query(con, p, columns, select)
        return [df.with_columns(pl.Series("source_index", index, dtype=pl.Int64))]
    except duckdb.Error as e:
        if len(lines) == 1:
            msg = str(e).splitlines()[0][:300]
            rejects.append({"source_index": index[0], "reason": f"bad_types: fields of unexpected type ({msg})", "raw": lines[0]})
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
