"""Streaming a big JSON export into NDJSON (one record per line) without building Python objects.

A TwitchDownloader export is one JSON object on one line, hundreds of MB long, with the
messages in its ``comments`` array. Loading it whole costs several GB; instead each
chunk is scanned with numpy: quotes (minus escaped ones) give the in-string state,
braces and brackets outside strings give the nesting depth, and the objects at the
records array's depth are cut out and joined with newlines. The small top-level
objects (``video``, ``streamer``, ``FileInfo``), before or after the records, are kept as metadata. Elements that are
not objects, and a record cut off by the end of the file, become rejects.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import BinaryIO

import numpy as np

RECORD_KEYS = ("comments", "messages", "items", "chat", "data")
META_KEYS = ("FileInfo", "streamer", "video", "clipper")
META_MAX = 1 << 20  # a top-level object bigger than this is not kept (embeddedData images)
_KEY_BEFORE = re.compile(rb'"([^"\\]{1,64})"\s*:\s*$')
_WS = frozenset(b" \t\r\n")


@dataclass
class JsonScan:
    records_key: str | None = None  # None with found=True: the document is a top-level array
    found: bool = False
    n_records: int = 0
    meta: dict = field(default_factory=dict)
    rejects: list[dict] = field(default_factory=list)
    truncated: bool = False
    nul_bytes: int = 0
    first_byte: bytes = b""


def _real_quote_mask(a: np.ndarray, chunk: bytes, bs_carry: int) -> np.ndarray:
    """Quotes that end or start strings (a quote after an odd run of backslashes is escaped)."""
    qm = a == 34
    if b'\\"' not in chunk and not (bs_carry and chunk[:1] == b'"'):
        return qm  # no backslash before any quote: the common case, one C search
    bs = np.flatnonzero(a[:-1] == 92)  # backslashes are rare: work on their positions only
    cand = bs[a[bs + 1] == 34] + 1
    if bs_carry and len(a) and a[0] == 34:
        cand = np.concatenate(([0], cand))
    # a quote after exactly one backslash is escaped; longer runs (\\\\") need counting
    single = (cand >= 2) & (a[np.maximum(cand - 2, 0)] != 92)
    qm[cand[single]] = False
    for p in cand[~single].tolist():
        n, j = 0, p - 1
        while j >= 0 and a[j] == 92:
            n, j = n + 1, j - 1
        if j < 0:
            n += bs_carry
        qm[p] = not (n & 1)
    return qm


def _quotes_before(qm: np.ndarray, pos: np.ndarray) -> tuple[np.ndarray, int]:
    """Number of True in qm[:p] for each p (bit-packed popcount), and the total."""
    pad = (-len(qm)) % 64
    if pad:
        qm = np.concatenate((qm, np.zeros(pad, bool)))
    words = np.packbits(qm, bitorder="little").view(np.uint64)
    pc = np.bitwise_count(words).astype(np.int64)
    pre = np.concatenate(([0], np.cumsum(pc)))
    w = pos >> 6
    below = words[w] & ((np.uint64(1) << (pos & 63).astype(np.uint64)) - np.uint64(1))
    return pre[w] + np.bitwise_count(below), int(pre[-1])


def _tokens(a: np.ndarray, chunk: bytes, in_str: int, depth: int, bs_carry: int):
    """Braces/brackets outside strings: positions, +1/-1, depth after each; and the new state."""
    o = a | 0x20  # maps '[' -> '{' and ']' -> '}'
    m = o == 0x7B
    m |= o == 0x7D
    cand = np.flatnonzero(m)
    qm = _real_quote_mask(a, chunk, bs_carry)
    before, total = _quotes_before(qm, cand)
    outside = ((before + in_str) & 1) == 0
    pos = cand[outside]
    delta = np.where((o[pos] == 0x7B), 1, -1).astype(np.int32)
    d = depth + np.cumsum(delta, dtype=np.int64)
    in_str = (in_str + total) & 1
    n = len(chunk) - len(chunk.rstrip(b"\\"))
    if n == len(chunk):  # a chunk of backslashes only continues the previous run
        n += bs_carry
    return pos, delta, d, in_str, (int(d[-1]) if len(d) else depth), n & 1


def stream_records(chunks: Iterable[bytes], out: BinaryIO, record_keys: tuple[str, ...] = RECORD_KEYS) -> JsonScan:
    """Write the records of a JSON document (array, or object with an array under record_keys) to out as NDJSON."""
    scan = JsonScan()
    in_str = depth = bs_carry = 0
    buf = b""  # bytes kept from global offset buf_base on
    buf_base = 0
    end = 0  # global offset of the end of the data seen so far
    rec_depth: int | None = None  # depth inside the records array
    rec_done = False
    rec_close: int | None = None
    elem_start: int | None = None  # a record that began but has not ended yet
    cap_start: int | None = None  # a top-level metadata object being captured
    cap_key = ""
    top: int | None = None  # ord('{') or ord('[') of the document
    last_end = -1  # end of the previous record (or the records array's '['): what lies after it is checked
    first = True
    for chunk in chunks:
        if first:
            if chunk.startswith((b"\xff\xfe", b"\xfe\xff")):  # UTF-16: rare, small; convert whole
                chunk = chunk + b"".join(chunks)
                chunk = chunk.decode("utf-16", "replace").encode("utf-8")
            elif chunk.startswith(b"\xef\xbb\xbf"):
                chunk = chunk[3:]
            first = False
        if b"\x00" in chunk:
            scan.nul_bytes += chunk.count(b"\x00")
            chunk = chunk.replace(b"\x00", b"")
        if not chunk:
            continue
        a = np.frombuffer(chunk, np.uint8)
        base = end
        end += len(chunk)
        pos, delta, d, in_str, depth_new, bs_carry = _tokens(a, chunk, in_str, depth, bs_carry)
        buf = buf + chunk if buf else chunk
        gpos = pos + base
        starts: list[np.ndarray] = []
        ends: list[np.ndarray] = []
        i, n = 0, len(pos)
        while i < n:
            dep = int(d[i])
            if rec_depth is not None and not rec_done:
                # vectorized: everything up to the records array's closing bracket
                rest = d[i:]
                close = np.flatnonzero(rest < rec_depth)
                stop = i + int(close[0]) if len(close) else n
                seg_d, seg_delta, seg_p = d[i:stop], delta[i:stop], gpos[i:stop]
                opens = seg_p[(seg_delta > 0) & (seg_d == rec_depth + 1)]
                closes = seg_p[(seg_delta < 0) & (seg_d == rec_depth)]
                starts.append(opens)
                ends.append(closes)
                if stop < n:
                    rec_done = True
                    rec_close = int(gpos[stop])
                    i = stop + 1
                    continue
                break
            p = int(gpos[i])
            opening = delta[i] > 0
            if top is None:
                top = int(a[pos[i]])
                if top == ord("["):
                    rec_depth, scan.found, last_end = 1, True, p
                i += 1
                continue
            if top == ord("{") and dep == 2 and opening:
                # metadata objects are kept before and after the records array (some writers put `video` last)
                m = _KEY_BEFORE.search(buf[max(0, p - buf_base - 200) : p - buf_base])
                key = m.group(1).decode("utf-8", "replace") if m else ""
                if buf[p - buf_base] == ord("[") and key in record_keys and rec_depth is None and not rec_done:
                    rec_depth, scan.found, scan.records_key, last_end = 2, True, key, p
                elif key in META_KEYS:
                    cap_start, cap_key = p, key
            elif dep == 1 and not opening and cap_start is not None:
                if p - cap_start <= META_MAX:
                    try:
                        scan.meta[cap_key] = json.loads(buf[cap_start - buf_base : p - buf_base + 1])
                    except ValueError:
                        pass
                cap_start = None
            i += 1
        depth = depth_new
        st = np.concatenate(starts) if starts else np.zeros(0, np.int64)
        en = np.concatenate(ends) if ends else np.zeros(0, np.int64)
        if elem_start is not None and (len(st) or len(en)):
            st = np.concatenate(([elem_start], st))
            elem_start = None
        if len(st) > len(en):
            elem_start = int(st[-1])
            st = st[:-1]
        if len(st) and last_end >= 0:
            _check_gap(buf, buf_base, last_end + 1, int(st[0]), scan, scan.n_records)
        if len(en):
            _emit(buf, buf_base, st, en, out, scan)
            last_end = int(en[-1])
        if rec_close is not None:
            if elem_start is None:
                _check_gap(buf, buf_base, last_end + 1, rec_close, scan, scan.n_records)
            rec_close, last_end = None, -1
        # keep what a pending record or capture needs, plus a little for key look-back
        keep_from = end - 256
        for s in (elem_start, cap_start, (last_end + 1) if last_end >= 0 else None):
            if s is not None:
                keep_from = min(keep_from, s)
        keep_from = max(keep_from, buf_base)
        buf = buf[keep_from - buf_base :]
        buf_base = keep_from
    if end == 0:
        return scan
    if depth != 0 or in_str:
        scan.truncated = True
    if rec_depth is not None and not rec_done and last_end >= 0:
        # the file ends inside the records array: what lies between the last whole record and
        # the cut (a null, a number, the start of a string) is checked like any other gap
        _check_gap(buf, buf_base, last_end + 1, elem_start if elem_start is not None else end, scan, scan.n_records)
    if elem_start is not None:
        raw = buf[elem_start - buf_base : elem_start - buf_base + 4000]
        scan.rejects.append(
            {
                "source_index": scan.n_records,
                "byte_offset": elem_start,
                "reason": f"truncated: the file ends inside record {scan.n_records} (starts at byte {elem_start})",
                "raw": raw,
            }
        )
    return scan


# One scalar element between records: a string (maybe cut off by the end of the file), or a run
# of anything but commas, quotes and whitespace (numbers, true/false/null, garbage).
_SCALAR = re.compile(rb'"(?:[^"\\]|\\.)*(?:"|\\?$)|[^,\s"]+')
NOT_AN_OBJECT = "not_an_object: an element of the records array is a string, number or garbage, not a JSON object"


def _reject_scalars(region: bytes, byte_offset: int, scan: JsonScan, index: int) -> None:
    """One reject per element found in the region between two records (so none is lost)."""
    for k, m in enumerate(_SCALAR.finditer(region)):
        scan.rejects.append({"source_index": index + k, "byte_offset": byte_offset + m.start(), "reason": NOT_AN_OBJECT, "raw": m.group()})


def _check_gap(buf: bytes, buf_base: int, lo: int, hi: int, scan: JsonScan, index: int) -> None:
    """Between two records (or a bracket and a record) only commas and whitespace may lie."""
    region = buf[max(lo - buf_base, 0) : max(hi - buf_base, 0)]
    if region.strip(b" \t\r\n,"):
        _reject_scalars(region, lo, scan, index)


def _emit(buf: bytes, buf_base: int, starts: np.ndarray, ends: np.ndarray, out: BinaryIO, scan: JsonScan) -> None:
    """Cut records [starts[k], ends[k]] out of buf and write them one per line."""
    s0, e1 = int(starts[0]) - buf_base, int(ends[-1]) - buf_base + 1
    block = bytearray(memoryview(buf)[s0:e1])  # one copy (a bytes slice would be a second)
    seg = np.frombuffer(block, np.uint8)  # a writable view: edits go straight into block
    if b"\n" in block or b"\r" in block:
        # newlines outside strings are whitespace; inside strings they are invalid JSON anyway
        seg[(seg == 10) | (seg == 13)] = 32
    st = starts - starts[0]
    en = ends - starts[0]
    sep = en[:-1] + 1
    simple = (st[1:] - sep == 1) & (seg[sep] == 44)
    seg[sep[simple]] = 10
    for k in np.flatnonzero(~simple).tolist():
        lo, hi = int(en[k]) + 1, int(st[k + 1])
        region = bytes(seg[lo:hi])
        if region.strip(b" \t") != b",":
            # something other than a record between two records (a string, a number, garbage)
            _reject_scalars(region, int(starts[0]) + lo, scan, scan.n_records + k + 1)
        seg[lo:hi] = 32
        seg[lo] = 10
    out.write(block)
    out.write(b"\n")
    scan.n_records += len(ends)
