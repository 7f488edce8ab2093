"""CSV (or TSV / semicolon) exports with a header, read as a stream.

The header goes through the same field mapper as JSON records (``fields``), so
``message_body``, ``message.body`` and ``messageBody`` all name the text, ``commenter_display_name``
the user, ``content_offset_seconds`` or ``time_text`` the offset, ``timestamp`` a UNIX or ISO time.
A CSV flattened from the Twitch API, with the fragments as JSON in one cell, reads the same.
Latin-1 cells inside a UTF-8 file are re-decoded (counted).
"""

from __future__ import annotations

import codecs
import csv
from collections import Counter
from collections.abc import Iterable, Iterator

import polars as pl

from chatlab.chat.detect import to_utf8
from chatlab.chat.fields import FieldMap, rows_frame

csv.field_size_limit(64 << 20)  # one cell up to 64 MB (a 10 MB message is legal)


def _text_stream(chunks: Iterable[bytes], stats: Counter) -> Iterator[str]:
    """Decoded text; bytes that are not UTF-8 kept as surrogates (re-decoded per cell later)."""
    dec = codecs.getincrementaldecoder("utf-8")("surrogateescape")
    first = True
    for chunk in chunks:
        if first:
            chunk, first = to_utf8(chunk), False
        if b"\x00" in chunk:
            stats["nul_bytes_removed"] += chunk.count(b"\x00")
            chunk = chunk.replace(b"\x00", b"")
        yield dec.decode(chunk)
    yield dec.decode(b"", final=True)


def _lines(chunks: Iterable[bytes], stats: Counter) -> Iterator[str]:
    rest = ""
    for text in _text_stream(chunks, stats):
        text = rest + text
        lines = text.splitlines(keepends=True)
        rest = lines.pop() if lines and not lines[-1].endswith(("\n", "\r")) else ""
        yield from lines
    if rest:
        yield rest


def _fix(cell: str, stats: Counter) -> str:
    try:
        cell.encode("utf-8")
        return cell
    except UnicodeEncodeError:
        stats["cells_reencoded_latin1"] += 1
        return cell.encode("utf-8", "surrogateescape").decode("cp1252", "replace")


def _records(reader) -> Iterator[tuple[int, int, list[str] | None, str]]:
    """(first line, last line, cells or None, csv error) of each record."""
    while True:
        first_line = reader.line_num + 1
        try:
            rec = next(reader)
        except StopIteration:
            return
        except csv.Error as e:
            yield first_line, reader.line_num, None, str(e)
            continue
        yield first_line, reader.line_num, rec, ""


def parse_csv(chunks: Iterable[bytes], rejects: list[dict], stats: Counter, meta: dict) -> pl.DataFrame:
    """Rows of a CSV export in PARSED shape; rows that cannot be read go to rejects."""
    lines = _lines(chunks, stats)
    try:
        first = next(lines)
    except StopIteration:
        return pl.DataFrame()
    delim = max((",", "\t", ";"), key=first.count)

    def all_lines() -> Iterator[str]:
        yield first
        yield from lines

    reader = csv.reader(all_lines(), delimiter=delim)
    header = [_fix(h, stats).strip() for h in next(reader)]
    fm = FieldMap.infer([{h: "x" for h in header}])
    # CSV cells are all text: the sample only says which columns exist; time kinds come from values
    if fm.missing():
        raise ValueError(f"CSV header {header!r} names no {' and no '.join(fm.missing())} column "
                         "(looked for names like content_offset_seconds/time_in_seconds/timestamp, message/body/text, user/author/display_name)")
    meta["fields"] = fm.describe()
    rows: list[dict] = []
    width = len(header)
    index = 0
    records = _records(reader)
    nxt = next(records, None)
    while nxt is not None:
        first_line, line, rec, err = nxt
        nxt = next(records, None)
        if rec is None:
            rejects.append({"source_line": line, "reason": f"csv_error: {err}", "raw": ""})
            continue
        if not rec or not any(x.strip() for x in rec):
            continue
        rec = [_fix(c, stats) for c in rec]
        raw = delim.join(rec)
        if nxt is None and line > first_line and rec[-1].endswith(("\n", "\r")):
            # a quote opened on first_line never closed: the reader ran to the end of the file and
            # took every line after it into one cell (the rows in it are lost as rows: say so)
            rejects.append({"source_line": first_line, "source_index": index, "raw": raw[:4000],
                            "reason": f"truncated: a quoted field opened on line {first_line} is not closed before the end of the file "
                                      f"(lines {first_line}-{line} read as one record)"})
            stats["truncated_file"] = 1
            index += 1
            continue
        if len(rec) != width:
            rejects.append({"source_line": line, "source_index": index, "reason": f"bad_row: {len(rec)} fields, the header has {width}", "raw": raw})
            index += 1
            continue
        got = fm.extract(dict(zip(header, rec)))
        if isinstance(got, str):
            rejects.append({"source_line": line, "source_index": index, "reason": got, "raw": raw})
        else:
            got["source_line"], got["source_index"] = line, index
            rows.append(got)
        index += 1
    return rows_frame(rows)
