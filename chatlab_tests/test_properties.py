"""Property tests (hypothesis, bounded): the chat readers never raise on any bytes, and every
record is either parsed or rejected; the settings loader fails only with a clear ValueError."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from chatlab.chat import parse_file

BOUNDED = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SUFFIXES = [".json", ".jsonl", ".csv", ".txt", ".log", ".json.gz"]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
record = st.fixed_dictionaries(
    {"content_offset_seconds": st.floats(0, 36000) | st.integers(0, 36000) | json_values,
     "commenter": st.fixed_dictionaries({"display_name": st.text(min_size=1, max_size=12)}) | json_values,
     "message": st.fixed_dictionaries({"body": st.text(max_size=40)}) | json_values},
)
GOOD = {"content_offset_seconds": 1.0, "commenter": {"display_name": "anchor"}, "message": {"body": "first"}}


def _write(data: bytes, suffix: str) -> Path:
    d = Path(tempfile.mkdtemp(prefix="chatlab-prop-"))
    p = d / f"chat{suffix}"
    if suffix.endswith(".gz"):
        import gzip

        data = gzip.compress(data)
    p.write_bytes(data)
    return p


@BOUNDED
@given(data=st.binary(max_size=3000), suffix=st.sampled_from(SUFFIXES))
def test_any_bytes_never_raise(data: bytes, suffix: str):
    r = parse_file(_write(data, suffix))
    assert r.stats["parsed"] == r.messages.height and r.stats["rejected"] == r.rejects.height
    assert r.rejects.height == 0 or set(r.rejects["source_file"].to_list()) == {f"chat{suffix}"}


# These two found three reader bugs (fixed; the examples below failed before): one record of an
# unexpected shape made the whole file a file_error (DuckDB's error message, cut inside a UTF-8
# character, could not be decoded); a one-line JSONL file was read as a JSON document with no
# records and yielded nothing; several scalars between two records became one reject.
@BOUNDED
@given(records=st.lists(record | json_values, min_size=0, max_size=25), suffix=st.sampled_from([".json", ".json.gz"]))
@example(records=[[{"": None, '"\x1f\x1f': None, '00"\x1f\x1f\x80': None}]], suffix=".json")
@example(records=[None, 1, "a, b", GOOD, False, None], suffix=".json")
def test_json_export_every_record_parsed_or_rejected(records, suffix: str):
    # The first record is a good one, so the file is recognised as the export it claims to be.
    doc = {"comments": [GOOD, *records]}
    r = parse_file(_write(json.dumps(doc).encode(), suffix))
    assert r.messages.height + r.rejects.height == len(doc["comments"]), r.summary()


@BOUNDED
@given(lines=st.lists(st.one_of(record.map(json.dumps), st.text(min_size=1, max_size=60).filter(lambda s: s.strip() and "\n" not in s and "\r" not in s)),
                      max_size=25))
@example(lines=[])  # one good line: read as a document, nothing parsed, nothing rejected
@example(lines=['{"content_offset_seconds": 0.0, "commenter": {"display_name": "0"}, "message": {"body": ""}}',
                '{"content_offset_seconds": 0.0, "commenter": {"display_name": "0"}, "message": [false, 1e12, 1e+16, "0"]}'])
def test_jsonl_every_line_parsed_or_rejected(lines):
    body = "\n".join([json.dumps(GOOD), *lines]) + "\n"
    r = parse_file(_write(body.encode(), ".jsonl"))
    records = [x for x in body.split("\n") if x.strip()]
    assert r.messages.height + r.rejects.height == len(records), r.summary()


@BOUNDED
@given(records=st.lists(record | json_values, min_size=1, max_size=12), cut=st.floats(0, 1), kind=st.sampled_from(["twitchdownloader", "mapped"]))
@example(records=[None, GOOD], cut=0.6, kind="twitchdownloader")  # a null before the cut record was lost silently
@example(records=[None, GOOD], cut=0.6, kind="mapped")
def test_truncated_json_every_started_element_parsed_or_rejected(records, cut: float, kind: str):
    # A file cut off anywhere after the first record: each element that began before the cut is a
    # message or a reject (the one the cut runs through is a `truncated` reject).
    first = GOOD if kind == "twitchdownloader" else {"time_in_seconds": 1.0, "author": "anchor", "message": "first"}
    head = '{"comments": [' + json.dumps(first)
    starts, body = [], head
    for rec in records:
        body += ", "
        starts.append(len(body))
        body += json.dumps(rec)
    body += "]}"
    c = len(head) + int(cut * (len(body) - len(head)))
    started = 1 + sum(1 for s in starts if s < c)
    r = parse_file(_write(body[:c].encode(), ".json"))
    assert r.messages.height + r.rejects.height == started, (body[:c], r.summary(), r.rejects["reason"].to_list())


@BOUNDED
@given(text=st.text(max_size=400))
def test_settings_loader_fails_only_with_a_clear_error(text: str):
    from chatlab.config import load_config

    d = Path(tempfile.mkdtemp(prefix="chatlab-prop-"))
    p = d / "chatlab.toml"
    p.write_text(text, encoding="utf-8")
    try:
        conf = load_config(p, d / "data")
    except ValueError as e:
        assert str(p) in str(e)  # names the file
    else:
        assert isinstance(conf, dict)


@BOUNDED
@given(data=st.binary(max_size=400))
def test_settings_loader_on_any_bytes(data: bytes):
    from chatlab.config import load_config

    d = Path(tempfile.mkdtemp(prefix="chatlab-prop-"))
    p = d / "chatlab.toml"
    p.write_bytes(data)
    try:
        load_config(p, d / "data")
    except ValueError as e:
        assert str(p) in str(e)
