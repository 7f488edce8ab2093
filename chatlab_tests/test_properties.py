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
# Hypothesis runs each test many times and function-scoped fixtures do not mix with it, so every
# example's folder lives under one module folder that is removed when the run ends.
_ROOT = tempfile.TemporaryDirectory(prefix="chatlab-prop-")
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
    d = Path(tempfile.mkdtemp(dir=_ROOT.name))
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
@example(lines=['{"content_offset_seconds": 0.0, "commenter": {"display_name": "0"}, "message": {"body": ""}}', "\x00"])  # a line of NUL
# bytes alone became blank once they were removed, and vanished (found by this test in CI)
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


# Client logs: (header, a message line from a word) per format, as the tools write them.
LOGS = {
    "irssi_log": ("--- Log opened Wed May 01 18:00:00 2024", lambda i, w: f"18:{i % 60:02d} <ann> {w}"),
    "weechat_log": ("2024-05-01 18:00:00\t-->\tann (~a@h) has joined #c", lambda i, w: f"2024-05-01 18:{i % 60:02d}:05\tann\t{w}"),
    "hexchat_log": ("**** BEGIN LOGGING AT Wed May  1 18:00:00 2024", lambda i, w: f"May 01 18:{i % 60:02d}:05 <ann>\t{w}"),
    "mirc_log": ("Session Start: Wed May 01 18:00:00 2024", lambda i, w: f"[18:{i % 60:02d}] <ann> {w}"),
    "chatterino_log": ("# Start logging at 2024-05-01 18:00:00 UTC", lambda i, w: f"[18:{i % 60:02d}:05]  ann: {w}"),
    "tcd_text": ("[0:00:01] <host> welcome", lambda i, w: f"[0:{i % 60:02d}:05] <ann> {w}"),
}
_line_text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n"), min_size=1, max_size=40).filter(str.strip)


@BOUNDED
@given(fmt=st.sampled_from(sorted(LOGS)), body=st.lists(st.tuples(st.booleans(), _line_text), min_size=1, max_size=30))
def test_client_log_every_line_read_rejected_or_counted(fmt: str, body):
    # Each non-blank line of a log is a message, a reject or a counted status/header line: none is lost.
    # Lines are messages of the format (True) or anything at all (False), mixed in at random.
    header, make = LOGS[fmt]
    lines = [header] + [make(i, w) if ok else w for i, (ok, w) in enumerate(body)]
    if sum(ok for ok, _ in body) < len(body) // 2 + 1:
        lines += [make(i, "word") for i in range(len(body))]  # the format's own lines stay the majority
    r = parse_file(_write("\n".join(lines).encode("utf-8"), ".log"))
    counted = sum(v for k, v in r.stats.items() if k.startswith("not_a_message_"))
    assert r.format == fmt, (r.format, lines[:5])
    # NUL bytes are taken out of the text and counted (stats nul_bytes_removed); a line of NULs alone is then blank
    assert r.messages.height + r.rejects.height + counted == sum(1 for ln in lines if ln.replace("\x00", "").strip()), (r.summary(), lines)
    assert r.stats.get("nul_bytes_removed", 0) == sum(ln.count("\x00") for ln in lines)


@BOUNDED
@given(text=st.text(max_size=400))
def test_settings_loader_fails_only_with_a_clear_error(text: str):
    from chatlab.config import load_config

    d = Path(tempfile.mkdtemp(dir=_ROOT.name))
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

    d = Path(tempfile.mkdtemp(dir=_ROOT.name))
    p = d / "chatlab.toml"
    p.write_bytes(data)
    try:
        load_config(p, d / "data")
    except ValueError as e:
        assert str(p) in str(e)


# --- the settings loader over documents drawn from its own schema (chatlab/settings.py) ----------
# Tables of every section, at the top level and per VOD, with values of the declared types (and the
# values the stages accept, often enough to pass their checks); sometimes one mistake: a typo'd key,
# a value of the wrong type, an unknown section. Properties: a mistake is always reported, naming
# the file, the table and the key; a document the loader accepts is accepted by every stage's
# loader too (nothing it lets through fails later); any refusal names the file and the table.

_EXAMPLES = {"start_time": ["2024-05-01T18:00:00Z", "2024-05-01 18:00:00+02:00"], "region": ["10,10,300,400", [0, 0, 64, 64]],
             "catalog": ["sqlite:lake.sqlite", "duckdb:lake.db", "postgres:dbname=lake"], "on_removed": ["keep", "forget"],
             "preset": ["cpu", "gpu"], "rank_by": ["pmi", "raw", "mean"], "status": ["accepted", "rejected"],
             "train": [0.8], "validation": [0.1], "test": [0.1], "fps": [1.0, 2], "scale": [2.0], "banned_patterns": [["spam+"]],
             "overrides": [{"v1": "train", "v2": "test"}], "anchors": [[[10.0, 8.0], [20.0, 18.0]]]}
_VODS = ["v1", "v2"]


def _settings_value(tp):
    import types
    import typing
    from datetime import datetime

    origin, args = typing.get_origin(tp), [a for a in typing.get_args(tp) if a is not type(None)]
    if tp is bool:
        return st.booleans()
    if tp is int:
        return st.integers(-1000, 10**6)
    if tp is float:
        return st.floats(-1e6, 1e6, allow_nan=False) | st.integers(-1000, 1000)
    if tp is str:
        return st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), max_size=10)  # NUL: refused
    if tp is datetime:
        return st.datetimes(datetime(2000, 1, 1), datetime(2100, 1, 1))
    if origin is typing.Literal:
        return st.sampled_from(args)
    if origin in (typing.Union, types.UnionType):
        return st.one_of([_settings_value(a) for a in args])
    if origin is tuple and not (len(args) == 2 and args[1] is Ellipsis):
        return st.tuples(*[_settings_value(a) for a in args]).map(list)
    if origin in (tuple, list, frozenset, set):
        return st.lists(_settings_value(args[0]), max_size=3)
    if origin is dict:
        return st.dictionaries(st.from_regex(r"[a-z0-9_]{1,8}", fullmatch=True), _settings_value(args[1]), max_size=3)
    raise AssertionError(tp)


def _toml_text(v) -> str:
    from datetime import datetime

    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, datetime):
        return v.isoformat()
    if isinstance(v, str):
        return '"' + "".join(c if 0x20 <= ord(c) < 0x7F and c not in '"\\' else f"\\U{ord(c):08x}" for c in v) + '"'
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_text(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{_toml_text(k)} = {_toml_text(x)}" for k, x in v.items()) + " }"
    raise AssertionError(v)


@st.composite
def _settings_doc(draw):
    """(chatlab.toml text, data/review/overrides.toml text, (file, what the error must say) or None)."""
    from chatlab import settings

    specs = settings.sections()
    tables: dict[tuple[str, str], tuple[str, dict]] = {}  # (file, table path) -> (section, values)
    for name in draw(st.lists(st.sampled_from(sorted(specs)), max_size=5)):
        top = specs[name.split(".")[0]]
        places = ([None] if top.top_level else []) + (_VODS if top.per_vod else [])
        vod = draw(st.sampled_from(places))
        file = draw(st.sampled_from(["settings", "overrides"])) if vod else "settings"  # the review page's file: per VOD only
        types_ = settings._types(name)
        keys = draw(st.lists(st.sampled_from(sorted(types_)), max_size=4, unique=True))
        values = {}
        for k in keys:
            generic = _settings_value(types_[k])
            values[k] = draw(st.sampled_from(_EXAMPLES[k]) | generic if k in _EXAMPLES else generic)
        path = f"vods.{vod}.{name}" if vod else name
        tables.setdefault((file, path), (name, {}))[1].update(values)
    mistake = draw(st.sampled_from([None, None, "typo", "wrong_type", "unknown_section"]))
    expected = None
    if mistake == "typo" and tables:
        file, path = draw(st.sampled_from(sorted(tables)))
        key = "zz_" + draw(st.from_regex(r"[a-z]{1,6}", fullmatch=True))
        tables[file, path][1][key] = 1
        expected = (file, f"[{path}]: unknown settings [{key!r}]")
    elif mistake == "wrong_type" and any(v for _, v in tables.values()):
        from chatlab_tests.test_settings import _wrong

        file, path = draw(st.sampled_from(sorted(fp for fp, (_, v) in tables.items() if v)))
        name, values = tables[file, path]
        key = draw(st.sampled_from(sorted(values)))
        values[key] = _wrong(settings._types(name)[key])
        expected = (file, f"[{path}] {key}: expected ")
    elif mistake == "unknown_section":
        tables["settings", "zz_section"] = ("", {"a": 1})
        expected = ("settings", "unknown section [zz_section]")

    def text(file: str) -> str:
        return "".join(f"[{p}]\n" + "".join(f"{k} = {_toml_text(v)}\n" for k, v in vals.items())
                       for (f, p), (_, vals) in sorted(tables.items()) if f == file)

    return text("settings"), text("overrides"), expected


def _every_stage_accepts(conf: dict) -> None:
    from datetime import datetime

    from chatlab.align.config import AlignConfig
    from chatlab.align.splits import SplitConfig
    from chatlab.asr.engine import EngineConfig
    from chatlab.asr.quality import Thresholds
    from chatlab.chat.clean import CleanConfig
    from chatlab.config import Layout, section
    from chatlab.forget import on_removed_setting
    from chatlab.ocr.reader import ReadOptions
    from chatlab.ocr.region import parse_region
    from chatlab.storage.lake import lake_config
    from chatlab.train.evaluate import EvalConfig
    from chatlab.train.generate import Filter, Guardrails
    from chatlab.train.lora import TrainConfig

    for vod in (None, *_VODS):
        AlignConfig.from_mapping(section(conf, "align", vod))
        SplitConfig.from_mapping(section(conf, "splits", vod))
        asr = section(conf, "asr", vod)
        EngineConfig.from_mapping(asr), Thresholds.from_mapping(asr)
        chat = section(conf, "chat", vod)
        CleanConfig.from_settings(chat.get("clean", {}))
        if chat.get("start_time") and isinstance(chat["start_time"], str):
            datetime.fromisoformat(chat["start_time"].replace("Z", "+00:00"))
        int(chat.get("max_bytes", 0)), float(chat.get("max_reject_rate", 0.05))
        ocr = section(conf, "ocr", vod)
        ReadOptions.from_mapping(ocr)
        if ocr.get("region"):
            parse_region(ocr["region"])
    train = section(conf, "train")
    TrainConfig.from_mapping(train), EvalConfig.from_mapping(train)
    Filter(Guardrails.from_mapping(train))
    on_removed_setting(section(conf, "ingest"))
    lake_config(Layout(Path("data")), section(conf, "storage"))


@BOUNDED
@given(doc=_settings_doc())
def test_settings_loader_on_documents_from_its_schema(doc):
    from chatlab import settings
    from chatlab.config import Layout, load_config

    text, review, expected = doc
    d = Path(tempfile.mkdtemp(dir=_ROOT.name))
    files = {"settings": d / "chatlab.toml", "overrides": Layout(d / "data").review_overrides}
    files["overrides"].parent.mkdir(parents=True)
    files["settings"].write_text(text, encoding="utf-8")
    files["overrides"].write_text(review, encoding="utf-8")
    try:
        conf = load_config(files["settings"], d / "data")
    except settings.SettingsError as e:
        assert str(e).startswith((str(files["settings"]), str(files["overrides"]))) and "[" in str(e), str(e)
        if expected:  # the mistake, in the file that holds it
            assert str(e).startswith(str(files[expected[0]])) and expected[1] in str(e), (str(e), expected)
        return
    assert expected is None, f"the mistake {expected!r} was let through:\n{text}\n--- overrides\n{review}"
    _every_stage_accepts(conf)
