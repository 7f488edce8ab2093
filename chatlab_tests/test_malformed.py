"""Malformed inputs (the README's "Malformed inputs" table): every row is a case here.

Each one: no crash; a clear error or reject that names the file, the place (line, record,
stream, section, key) and what was expected; the readable rest goes on; other VODs go on."""

from __future__ import annotations

import gzip
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import dagster as dg
import pytest

from chatlab.chat import parse_file

GOOD = {"content_offset_seconds": 1.0, "commenter": {"display_name": "viewer"}, "message": {"body": "hello"}}
GOOD_LINE = json.dumps(GOOD)


def _doc(*records) -> bytes:
    return json.dumps({"comments": list(records)}).encode()


@dataclass(frozen=True)
class Chat:
    """A chat export: ``parsed`` readable messages kept, one reject matching ``reason``."""

    name: str
    data: bytes | Callable[[], bytes]
    parsed: int
    reason: str  # regex on the reject's reason
    place: str  # the reject column that says where ("file" for the whole file)
    max_bytes: int | None = None


CHAT = [
    Chat("truncated.json", _doc(GOOD, GOOD)[:-20], 1, r"^truncated: the file ends inside record 1 \(starts at byte \d+\)", "source_index"),
    Chat("ints.json", b"[1, 2, 3]", 0, r"ints\.json: not a chat export chatlab knows .*Known formats", "file"),
    Chat("string.json", b'"just a string"', 0, r"string\.json: not a chat export chatlab knows", "file"),
    Chat("markup.json", b"<xml><a/></xml>", 0, r"markup\.json: not a chat export chatlab knows", "file"),
    Chat("junk.txt", b"\x00\x01\x02 binary junk \xff\n", 0, r"junk\.txt: not a chat export chatlab knows", "file"),
    Chat("columns.csv", b"a,b\n1,2\n", 0, r"columns\.csv: not a chat export chatlab knows", "file"),
    Chat("empty.json", b"", 0, r"^empty_file: empty\.json: empty file \(0 bytes\)", "file"),
    Chat("blank.json", b"   \n\n  ", 0, r"^empty_file: blank\.json: empty \(no chat messages\)", "file"),
    Chat("no_time.json", _doc({"commenter": {"display_name": "v"}, "message": {"body": "hi"}}, GOOD), 1,
         r"^no_time: no offset or timestamp field", "source_index"),
    Chat("text_time.json", _doc({**GOOD, "content_offset_seconds": "soon"}, GOOD), 1, r"^bad_types: fields of unexpected type", "source_index"),
    Chat("no_text.json", _doc({"content_offset_seconds": 1.0, "commenter": {"display_name": "v"}}, GOOD), 1,
         r"^no_text: no message body", "source_index"),
    Chat("null_record.json", _doc(None, GOOD), 1, r"^not_an_object: an element of the records array", "source_index"),
    Chat("number_record.json", _doc(5, GOOD), 1, r"^not_an_object: an element of the records array", "source_index"),
    Chat("nan_time.json", b'{"comments": [{"content_offset_seconds": NaN, "commenter": {"display_name": "v"}, '
         b'"message": {"body": "x"}}, ' + GOOD_LINE.encode() + b"]}", 1, r"^(no_time|bad_time|bad_types)", "source_index"),
    Chat("inf_time.json", b'{"comments": [{"content_offset_seconds": Infinity, "commenter": {"display_name": "v"}, '
         b'"message": {"body": "x"}}, ' + GOOD_LINE.encode() + b"]}", 1, r"^(no_time|bad_time|bad_types)", "source_index"),
    Chat("broken_line.jsonl", f"{GOOD_LINE}\n{{not json\n{GOOD_LINE}\n".encode(), 2, r"^invalid_json: Expecting property name", "source_index"),
    Chat("list_line.jsonl", f"{GOOD_LINE}\n[1, 2]\n{GOOD_LINE}\n".encode(), 2, r"^not_an_object: the record is a JSON list", "source_index"),
    Chat("bad_time.csv", b"time,user_name,message\nxx,bob,hi\n00:00:02,amy,hello\n", 1, r"^no_time: no readable time \(time='xx'\)", "source_line"),
    Chat("short_row.csv", b"time,user_name,message\n00:00:01\n00:00:02,amy,hello\n", 1, r"^bad_row: 1 fields, the header has 3", "source_line"),
    Chat("bad_time.txt", b"[0:00:01] amy: hello\n[0:00:0x] bob: bad time\n[0:00:03] cat: fine\n", 2,
         r"^unrecognized_line: not an IRC message, `\[time\] user: text`", "source_line"),
    Chat("truncated.json.gz", lambda: gzip.compress(_doc(*[GOOD] * 100))[:-30], -1, r"^truncated: the file ends inside record \d+", "source_index"),
    Chat("over_cap.json", _doc(*[GOOD] * 500), 0, r"over_cap\.json: larger than 4000 bytes \(cap\)", "file", max_bytes=4000),
    Chat("bomb.json.gz", lambda: gzip.compress(_doc(*[GOOD] * 5000)), 0,
         r"bomb\.json\.gz: decompresses to more than 20000 bytes \(size cap; a gzip bomb\?\)", "file", max_bytes=20000),
]


@pytest.mark.parametrize("case", CHAT, ids=lambda c: c.name)
def test_malformed_chat(case: Chat, tmp_path: Path):
    p = tmp_path / case.name
    p.write_bytes(case.data() if callable(case.data) else case.data)
    r = parse_file(p, **({"max_bytes": case.max_bytes} if case.max_bytes else {}))  # never raises
    if case.parsed >= 0:
        assert r.messages.height == case.parsed, r.summary()
    else:
        assert r.messages.height > 0, r.summary()  # the readable start is kept
    assert r.rejects.height >= 1, r.summary()
    rows = r.rejects.to_dicts()
    hit = [x for x in rows if re.search(case.reason, x["reason"])]
    assert hit, [x["reason"] for x in rows]
    assert all(x["source_file"] == case.name for x in rows)  # the file
    if case.place != "file":
        assert hit[0][case.place] is not None, hit[0]  # the place: line or record number
    assert r.stats["parsed"] + r.stats["rejected"] == r.messages.height + r.rejects.height


def test_latin1_line_in_utf8_jsonl_is_kept_and_noted(tmp_path: Path):
    p = tmp_path / "latin1.jsonl"
    p.write_bytes(GOOD_LINE.encode() + b"\n" + b'{"content_offset_seconds": 2, "commenter": {"display_name": "v"}, "message": {"body": "caf\xe9"}}\n')
    r = parse_file(p)
    assert r.messages.height == 2 and "café" in r.messages["text"].to_list()
    assert r.stats.get("reencoded_latin1") == 1 and "reencoded_latin1 1" in r.summary()


def test_chat_before_the_vod_is_kept_and_chat_sane_says_so(tmp_path: Path):
    from chatlab.chat.sanity import check

    p = tmp_path / "early.json"
    p.write_bytes(_doc({**GOOD, "content_offset_seconds": -500}, GOOD))
    r = parse_file(p)
    assert r.messages.height == 2
    s = check(r.messages, 0, 60.0, 0.05)
    assert not s.passed and any("outside the VOD" in x and "wrong start time" in x for x in s.problems), s.problems


# --- media ------------------------------------------------------------------------------------


def _media(kind: str, d: Path) -> Path:
    from chatlab_tests.conftest import make_media

    if kind == "zero":
        p = d / "zero.mp4"
        p.write_bytes(b"")
    elif kind == "text":
        p = d / "text.mp4"
        p.write_text("hello, not a video")
    elif kind in ("head", "half"):
        good = make_media(d / "src.mp4", 2).read_bytes()
        p = d / f"{kind}.mp4"
        p.write_bytes(good[:2000] if kind == "head" else good[: len(good) // 2])
    elif kind == "folder":
        p = d / "folder.mp4"
        p.mkdir()
    elif kind == "video_only":
        p = make_media(d / "video_only.mp4", 2, audio=False)
    elif kind == "picture":
        p = d / "picture.mp4"
        p.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 100)
    elif kind == "junk_wav":
        p = d / "junk.wav"
        p.write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt " + b"\x00" * 30)
    else:
        raise AssertionError(kind)
    return p


MEDIA = [
    ("zero", r"zero\.mp4: empty file \(0 bytes\)"),
    ("text", r"text\.mp4: not a readable media file \(.*Invalid data"),
    ("head", r"head\.mp4: not a readable media file"),
    ("half", r"half\.mp4: not a readable media file"),
    ("folder", r"folder\.mp4: no such file"),
    ("video_only", r"video_only\.mp4: no audio stream \(streams: video\); chatlab needs the streamer's audio"),
    ("picture", r"picture\.mp4: no audio stream \(streams: video\)"),
    ("junk_wav", r"junk\.wav: not a readable media file"),
]


@pytest.mark.parametrize("kind,message", MEDIA, ids=[m[0] for m in MEDIA])
def test_malformed_media(kind: str, message: str, tmp_path: Path):
    from chatlab.media.audio import extract_audio
    from chatlab.media.probe import MediaError

    src = _media(kind, tmp_path)
    with pytest.raises(MediaError) as e:
        extract_audio(src, tmp_path / "out" / "audio.wav")
    assert re.search(message, str(e.value)), str(e.value)
    assert str(src) in str(e.value)  # the file, by its path
    assert not (tmp_path / "out" / "audio.wav").exists()


# --- partition keys ---------------------------------------------------------------------------

KEYS = ["../../../../x", "x') OR ('1'='1", "", "Upper", "a/b", "x" * 65, "tab\there", "naïve", "x\n"]


@pytest.mark.parametrize("key", KEYS, ids=repr)
def test_malformed_partition_key(key: str, layout):
    from chatlab.partitions import is_valid_vod_id

    assert not is_valid_vod_id(key)
    with pytest.raises(ValueError, match=r"not a VOD id: .* \(expected 1-64 of a-z, 0-9, _ and -\)"):
        layout.artifact_dir("offsets", key)


# --- settings ---------------------------------------------------------------------------------
# The strict loader (chatlab/settings.py) reads chatlab.toml and data/review/overrides.toml before
# any stage runs: each case is refused there, the message starting with the file's path.

SETTINGS = [
    ("unclosed_table", "[align\noffset_s = 1\n", r"not valid TOML \(.*line 1"),
    ("duplicate_key", "[align]\noffset_s = 1\noffset_s = 2\n", r"not valid TOML \(.*line 3"),
    ("not_utf8", b"[align]\noffset_s = 1 # caf\xe9\n", r"not UTF-8 text \(byte \d+"),
    ("align_typo", "[align]\nofset_s = 1\n", r" \[align\]: unknown settings \['ofset_s'\]; known: \[.*'offset_s'"),
    ("clean_typo", "[chat.clean]\nblocklst = []\n", r" \[chat\.clean\]: unknown settings \['blocklst'\]; known: \[.*'blocklist'"),
    ("train_typo", "[train]\nlerning_rate = 0.1\n", r" \[train\]: unknown settings \['lerning_rate'\]; known: \[.*'learning_rate'"),
    ("asr_typo", "[asr]\nbeem_size = 3\n", r" \[asr\]: unknown settings \['beem_size'\]; known: \[.*'beam_size'"),
    ("per_vod_typo", "[vods.friday.chat.clean]\nmax_char = 300\n", r" \[vods\.friday\.chat\.clean\]: unknown settings \['max_char'\]"),
    ("text_for_number", '[align]\nchat_k = "5"\n', r" \[align\] chat_k: expected an integer, got '5'$"),
    ("fraction_for_integer", "[align]\nmin_anchors = 2.5\n", r" \[align\] min_anchors: expected an integer, got 2\.5$"),
    ("nan", "[vods.x.align]\noffset_s = nan\n", r" \[vods\.x\.align\] offset_s: expected a finite number, got nan$"),
    ("number_for_flag", "[asr]\nvad = 1\n", r" \[asr\] vad: expected true or false, got 1$"),
    ("text_for_list", '[chat.clean]\nbots_extra = "mybot"\n', r" \[chat\.clean\] bots_extra: expected a list, each a string, got 'mybot'$"),
    ("unknown_section", "[algin]\noffset_s = 1\n", r": unknown section \[algin\]; known: \['align', "),
    ("global_only_per_vod", "[vods.x.train]\nseed = 1\n", r" \[vods\.x\.train\]: not a per-VOD section \(its settings apply to all VODs"),
    ("bad_vod_id", '[vods."My Stream".align]\noffset_s = 1\n', r" \[vods\.My Stream\]: 'My Stream' is not a VOD id"),
    ("align_anchors", "[align]\nanchors = [1, 2]\n", r" \[align\] anchors: expected \[\[t_chat, t_speech\], \.\.\.\], got \[1, 2\]"),
    ("split_ratios", "[splits]\ntrain = -1.0\n", r" \[splits\]: ratios must be >= 0"),
    ("split_name", '[splits]\noverrides = { a = "dev" }\n', r" \[splits\] overrides: a = 'dev'; expected one of"),
    ("split_sum_per_vod", "[splits]\ntrain = 0.0\n[vods.v.splits]\nvalidation = 0.0\ntest = 0.0\n",
     r" \[vods\.v\.splits\] laid over \[splits\]: ratios must be >= 0 and not all 0"),
    ("start_time", "[vods.v.chat]\nstart_time = 'yesterday'\n", r" \[vods\.v\.chat\]: start_time = 'yesterday': expected an ISO 8601 time"),
    ("ocr_region", "[vods.v.ocr]\nregion = 'left'\n", r" \[vods\.v\.ocr\]: region 'left': expected 'x,y,w,h' in pixels"),
    ("train_preset", '[train]\npreset = "tpu"\n', r" \[train\] preset = 'tpu': expected one of \['cpu', 'gpu'\]"),
    ("banned_pattern", "[train]\nbanned_patterns = ['(x']\n", r" \[train\]: banned_patterns: '\(x' is not a regular expression"),
    ("on_removed", '[ingest]\non_removed = "delete"\n', r" \[ingest\] on_removed = 'delete': expected one of 'keep', 'forget'"),
    ("storage_catalog", '[storage]\ncatalog = "mysql:x"\n', r" \[storage\]: storage catalog 'mysql:x': expected one of sqlite:\.\.\."),
    ("storage_object_store", '[storage]\ndata_path = "s3://bucket/lake"\n', r" \[storage\]: storage data_path 's3://bucket/lake': object storage is not supported"),
    ("nul_in_text", '[storage]\ndata_path = "lake\\u0000"\n', r" \[storage\] data_path: expected text without NUL characters"),
]


@pytest.mark.parametrize("name,toml,message", SETTINGS, ids=[s[0] for s in SETTINGS])
def test_malformed_settings(name, toml, message, tmp_path: Path):
    from chatlab.config import load_config

    p = tmp_path / "chatlab.toml"
    p.write_bytes(toml if isinstance(toml, bytes) else toml.encode())
    with pytest.raises(ValueError) as e:
        load_config(p, tmp_path / "data")
    assert str(e.value).startswith(str(p)), str(e.value)  # the file, by its path
    assert re.search(message, str(e.value)), str(e.value)


REVIEW_OVERRIDES = [
    ("review_wrong_type", '[vods.v1.align]\noffset_s = "soon"\n', r" \[vods\.v1\.align\] offset_s: expected a finite number, got 'soon'$"),
    ("review_global_table", "[align]\noffset_s = 1.0\n", r": \[align\] is not read from this file; it holds only \[vods\.<id>\.<section>\] tables"),
    ("review_status", "[vods.v1.review]\nstatus = 'maybe'\n", r" \[vods\.v1\.review\] status: expected one of 'accepted', 'rejected', ''"),
    ("review_broken", "[vods.v1.align\n", r": not valid TOML"),
]


@pytest.mark.parametrize("name,toml,message", REVIEW_OVERRIDES, ids=[s[0] for s in REVIEW_OVERRIDES])
def test_malformed_review_overrides(name, toml, message, tmp_path: Path, layout):
    """An error in data/review/overrides.toml names that file, not chatlab.toml."""
    from chatlab.config import load_config

    layout.review_overrides.parent.mkdir(parents=True, exist_ok=True)
    layout.review_overrides.write_text(toml, encoding="utf-8")
    (tmp_path / "chatlab.toml").write_text("[align]\ncontext_s = 20\n", encoding="utf-8")
    with pytest.raises(ValueError) as e:
        load_config(tmp_path / "chatlab.toml", layout.root)
    assert str(e.value).startswith(str(layout.review_overrides)), str(e.value)
    assert re.search(message, str(e.value)), str(e.value)


# --- the other VODs go on ---------------------------------------------------------------------


def test_a_broken_vod_does_not_stop_the_others(instance, layout, media_factory):
    from chatlab.definitions import defs
    from chatlab.resources import build_resources

    media_factory(layout.inbox / "good.mp4", seconds=2)
    (layout.inbox / "good.json").write_bytes(_doc(GOOD))
    (layout.inbox / "broken_media.mp4").write_text("not a video")
    media_factory(layout.inbox / "broken_chat.mp4", seconds=2)
    (layout.inbox / "broken_chat.json").write_bytes(_doc(GOOD, {**GOOD, "message": None}, GOOD)[:-20])
    keys = ["good", "broken_media", "broken_chat"]
    instance.add_dynamic_partitions("vods", keys)
    resources = {**dict(defs.resources), **build_resources(str(layout.root))}
    outcome = {}
    for key in keys:
        r = dg.materialize(list(defs.assets), selection=[dg.AssetKey(k) for k in ("vod_source", "chat", "chat_rejects")],
                           partition_key=key, instance=instance, resources=resources, raise_on_error=False)
        failures = [e.step_failure_data.error.message for e in r.all_events if e.is_step_failure]
        outcome[key] = (r.success, failures)
    assert outcome["good"] == (True, [])
    assert not outcome["broken_media"][0] and "broken_media.mp4: not a readable media file" in outcome["broken_media"][1][0]
    assert outcome["broken_chat"] == (True, [])  # its readable record kept, the rest rejected with reasons
    from chatlab.storage import connect

    with connect(layout) as con:
        rows = dict(con.execute("select vod_id, count(*) from chatlab.chat group by vod_id").fetchall())
        rejects = con.execute("select source_file, source_index, reason from chatlab.chat_rejects where vod_id = 'broken_chat'").fetchall()
    assert rows == {"good": 1, "broken_chat": 1}
    assert {r[0] for r in rejects} == {"broken_chat.json"} and len(rejects) == 2, rejects


# --- the README's table and these cases, row by row ---------------------------------------------

README_ROWS = {
    "chat: JSON cut off mid-record": ["chat:truncated.json"],
    "chat: gzip cut off": ["chat:truncated.json.gz"],
    "chat: JSON array of numbers, a JSON string, XML, binary junk, a CSV with unknown columns":
        ["chat:ints.json", "chat:string.json", "chat:markup.json", "chat:junk.txt", "chat:columns.csv"],
    "chat: empty file / only whitespace": ["chat:empty.json", "chat:blank.json"],
    "chat: record without a time": ["chat:no_time.json"],
    'chat: time as text (`"soon"`)': ["chat:text_time.json"],
    "chat: time NaN or Infinity": ["chat:nan_time.json", "chat:inf_time.json"],
    "chat: record without text": ["chat:no_text.json"],
    "chat: `null` or a number in the records array": ["chat:null_record.json", "chat:number_record.json"],
    "chat: JSONL with a broken line / a line that is a list": ["chat:broken_line.jsonl", "chat:list_line.jsonl"],
    "chat: JSONL with a Latin-1 line": ["test:test_latin1_line_in_utf8_jsonl_is_kept_and_noted"],
    "chat: CSV row with an unreadable time / too few fields": ["chat:bad_time.csv", "chat:short_row.csv"],
    "chat: text log with a broken `[time]`": ["chat:bad_time.txt"],
    "chat: over the size cap / a gzip bomb": ["chat:over_cap.json", "chat:bomb.json.gz"],
    "chat: messages before the VOD's start": ["test:test_chat_before_the_vod_is_kept_and_chat_sane_says_so"],
    "chat: no `vod_source` row for the VOD": ["other:test_chat_vod_source:test_chat_without_vod_source_fails_chat_sane_with_the_reason"],
    "media: 0-byte file": ["media:zero"],
    "media: text named `.mp4`": ["media:text"],
    "media: an MP4 cut to its first 2 kB": ["media:head"],
    "media: an MP4 cut in half": ["media:half"],
    "media: a WAV header with no data": ["media:junk_wav"],
    "media: a folder named `.mp4`": ["media:folder"],
    "media: video without audio": ["media:video_only"],
    "media: a PNG named `.mp4`": ["media:picture"],
    "partition key `../../../../x` (added by hand in the UI)":
        ["key:../../../../x", "other:test_partition_keys_assets:test_bad_key_fails_every_per_vod_asset"],
    "partition key `x') OR ('1'='1`": ["key:x') OR ('1'='1"],
    "partition key empty, `Upper`, `a/b`, 65 characters, with a tab, `naïve`":
        ["key:", "key:Upper", "key:a/b", "key:" + "x" * 65, "key:tab\there", "key:naïve"],
    "partition key `x` + newline": ["key:x\n"],
    "settings: broken TOML (unclosed table, duplicate key)": ["settings:unclosed_table", "settings:duplicate_key"],
    "settings: not UTF-8": ["settings:not_utf8"],
    "settings: unknown key in any section, at the top level or per VOD (`[align] ofset_s`, `[chat.clean] blocklst`, "
    "`[train] lerning_rate`, `[asr] beem_size`, `[vods.friday.chat.clean] max_char`); `[train]` and `[asr]` used to ignore them":
        ["settings:align_typo", "settings:clean_typo", "settings:train_typo", "settings:asr_typo", "settings:per_vod_typo",
         "other:test_settings:test_a_typo_in_any_section_names_the_file_table_and_key"],
    'settings: a value of the wrong type (`chat_k = "5"`, `min_anchors = 2.5`, `offset_s = nan`, `vad = 1`, '
    '`bots_extra = "mybot"`, a NUL character in a text)':
        ["settings:text_for_number", "settings:fraction_for_integer", "settings:nan", "settings:number_for_flag",
         "settings:text_for_list", "settings:nul_in_text",
         "other:test_settings:test_a_wrong_type_for_any_key_names_the_file_key_and_what_was_expected"],
    "settings: an unknown section (`[algin]`), an all-VOD one per VOD (`[vods.x.train]`), a `[vods.<name>]` whose name is no VOD id":
        ["settings:unknown_section", "settings:global_only_per_vod", "settings:bad_vod_id"],
    "settings: `[align] anchors = [1, 2]`": ["settings:align_anchors"],
    "settings: `[splits] train = -1.0` / `overrides = { a = \"dev\" }` / a VOD's ratios that sum to 0 laid over the global ones":
        ["settings:split_ratios", "settings:split_name", "settings:split_sum_per_vod"],
    'settings: `[vods.v.chat] start_time = "yesterday"` / `[vods.v.ocr] region = "left"`': ["settings:start_time", "settings:ocr_region"],
    'settings: `[train] preset = "tpu"` / `banned_patterns = ["(x"]`': ["settings:train_preset", "settings:banned_pattern"],
    'settings: `[ingest] on_removed = "delete"`': ["settings:on_removed"],
    'settings: `[storage] catalog = "mysql:x"` / `data_path = "s3://bucket/lake"`': ["settings:storage_catalog", "settings:storage_object_store"],
    "settings: the same mistakes in `data/review/overrides.toml` (a wrong type, a global table, a review status other "
    "than accepted/rejected, broken TOML)":
        ["review:review_wrong_type", "review:review_global_table", "review:review_status", "review:review_broken"],
}


def _readme_rows() -> list[str]:
    text = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    rows: list[str] = []
    for line in text[text.index("**Malformed inputs.**"):].splitlines()[1:]:
        if line.startswith("| ") and not line.startswith("| input |"):
            rows.append(line.strip("|").split(" | ")[0].strip())
        elif rows and not line.startswith("|"):
            break
    return rows


def test_every_readme_row_is_a_case_here_and_every_case_a_row():
    import importlib

    rows = _readme_rows()
    assert len(rows) >= 30 and len(rows) == len(set(rows))
    assert sorted(rows) == sorted(README_ROWS), {"not mapped": sorted(set(rows) - set(README_ROWS)),
                                                 "not in the README": sorted(set(README_ROWS) - set(rows))}
    cases = {"chat": {c.name for c in CHAT}, "media": {m[0] for m in MEDIA}, "key": set(KEYS),
             "settings": {s[0] for s in SETTINGS}, "review": {s[0] for s in REVIEW_OVERRIDES}}
    named = [x for xs in README_ROWS.values() for x in xs]
    for ref in named:
        kind, _, name = ref.partition(":")
        if kind == "test":
            assert callable(globals().get(name)), ref
        elif kind == "other":
            module, _, func = name.partition(":")
            assert callable(getattr(importlib.import_module(f"chatlab_tests.{module}"), func, None)), ref
        else:
            assert name in cases[kind], ref
    for kind, names in cases.items():  # and no case without its row
        assert names <= {r.partition(":")[2] for r in named if r.startswith(kind + ":")}, (kind, names)
