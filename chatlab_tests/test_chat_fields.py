"""The three real shapes that failed (issue 11) and the one field mapper for JSON, JSONL and CSV."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timezone
from pathlib import Path

import pytest

from chatlab.chat import parse_file
from chatlab.chat.fields import FieldMap, norm, parse_time

START = datetime(2024, 5, 1, 18, 0, tzinfo=timezone.utc)


def write(tmp: Path, name: str, data: str | bytes) -> Path:
    p = tmp / name
    p.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return p


def irc(i: int, nick: str, trailing: str, ts: int) -> str:
    return (f"@badge-info=;badges=;color=#FF0000;display-name={nick.title()};emotes=;first-msg=0;flags=;historical=1;id=id{i};"
            f"mod=0;rm-received-ts={ts + 150};room-id=22484632;subscriber=0;tmi-sent-ts={ts};turbo=0;user-id={1000 + i};user-type= "
            f":{nick}!{nick}@{nick}.tmi.twitch.tv PRIVMSG #forsen {trailing}")


def test_irc_one_word_messages_without_colon(tmp_path: Path) -> None:
    """Issue shape 1: a recent-messages response whose one-word messages have no ':' before the trailing parameter."""
    ts = 1714586400000
    lines = [irc(0, "ann", ":hello there", ts), irc(1, "bob", "forsenParty", ts + 1000), irc(2, "cat", "::)", ts + 2000),
             irc(3, "dan", "LULW", ts + 3000), ":tmi.twitch.tv ROOMSTATE #forsen"]
    doc = {"messages": lines, "error": None, "error_code": None}
    r = parse_file(write(tmp_path, "recent.json", json.dumps(doc)), start_time=START)
    assert r.format == "irc_json" and r.rejects.height == 0, r.rejects
    assert r.messages["text"].to_list() == ["hello there", "forsenParty", ":)", "LULW"]
    assert r.messages["t_s"].to_list() == [0.0, 1.0, 2.0, 3.0]
    # the same lines as a plain log
    r = parse_file(write(tmp_path, "chat.irc", "\n".join(lines) + "\n"), start_time=START)
    assert r.format == "irc" and r.messages["text"].to_list() == ["hello there", "forsenParty", ":)", "LULW"] and r.rejects.height == 0


def test_csv_flattened_from_the_twitch_api(tmp_path: Path) -> None:
    """Issue shape 2: the API JSON flattened to CSV, fragments as JSON in a quoted cell."""
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(["message_body", "content_offset_seconds", "message_user_color", "commenter_display_name", "message_fragments"])
    w.writerow(["hi Kappa", "12.5", "#FF0000", "Ann", json.dumps([{"text": "hi ", "emoticon": None}, {"text": "Kappa", "emoticon": {"emoticon_id": "25"}}])])
    w.writerow(["", "13", "", "Bob", json.dumps([{"text": "from fragments", "emoticon": None}])])
    w.writerow(["no time", "", "", "Cat", "[]"])
    r = parse_file(write(tmp_path, "flat.csv", out.getvalue()))
    assert r.format == "csv"
    assert r.messages["text"].to_list() == ["hi Kappa", "from fragments"]  # an empty body: the fragments hold the text
    assert r.messages["user"].to_list() == ["Ann", "Bob"] and r.messages["t_s"].to_list() == [12.5, 13.0]
    assert r.reject_counts() == {"no_time": 1} and r.rejects["source_line"][0] == 4
    assert "text <- message_body" in r.summary() and "time <- content_offset_seconds (offset in s)" in r.summary()


def test_old_chat_replay_downloader_list(tmp_path: Path) -> None:
    """Issue shape 3: `author` is a string (the real file is in test_chat_real; this adds a mixed file)."""
    items = [{"author": "ann", "message": "hi", "time_in_seconds": 307.0, "time_text": "5:07", "timestamp": 1562541137129857},
             {"author": {"name": "bob", "id": "7"}, "message": "object author", "time_in_seconds": 308.0, "time_text": "5:08", "timestamp": 1562541138129857}]
    r = parse_file(write(tmp_path, "old.json", json.dumps(items)))
    assert r.format == "chat_downloader_json" and r.rejects.height == 0
    assert r.messages["user"].to_list() == ["ann", "bob"] and r.messages["t_s"].to_list() == [307.0, 308.0]


def test_norm_nested_flattened_camel_snake() -> None:
    assert norm(("message", "body")) == norm("message_body") == norm("messageBody") == norm("message.body") == "message_body"
    assert norm(("commenter", "_id")) == "commenter_id" and norm("contentOffsetSeconds") == "content_offset_seconds"
    assert norm("videoOffsetTimeMsec") == "video_offset_time_msec"


@pytest.mark.parametrize(
    "record",
    [
        {"message": {"body": "x"}, "commenter": {"display_name": "Ann"}, "content_offset_seconds": 5},
        {"message_body": "x", "commenter_display_name": "Ann", "content_offset_seconds": 5},
        {"messageBody": "x", "commenterDisplayName": "Ann", "contentOffsetSeconds": 5},
        {"message.body": "x", "commenter.display_name": "Ann", "content_offset_seconds": "5"},
        {"text": "x", "user": {"name": "Ann"}, "offset_ms": 5000},
        {"text": "x", "user": "Ann", "videoOffsetTimeMsec": "5000"},
        {"content": "x", "sender": {"username": "Ann"}, "time_text": "0:05"},
        {"msg": "x", "nick": "Ann", "t": 5},
    ],
)
def test_one_mapper_any_key_style(record: dict) -> None:
    fm = FieldMap.infer([record])
    assert fm.missing() == []
    got = fm.extract(record)
    assert isinstance(got, dict), got
    assert (got["text"], got["user"], got["t_s"]) == ("x", "Ann", 5.0)


@pytest.mark.parametrize(
    ("value", "kind", "unit", "rel", "abs_"),
    [
        (12.5, "rel", "s", 12.5, None),
        (12500, "rel", "ms", 12.5, None),
        (12500000, "rel", "us", 12.5, None),
        ("1:02:03", "auto", "s", 3723.0, None),
        ("-0:05", "auto", "s", -5.0, None),
        (1714586405, "auto", "s", None, datetime(2024, 5, 1, 18, 0, 5, tzinfo=timezone.utc)),
        (1714586405500, "auto", "s", None, datetime(2024, 5, 1, 18, 0, 5, 500000, tzinfo=timezone.utc)),
        (1714586405500000, "abs", "s", None, datetime(2024, 5, 1, 18, 0, 5, 500000, tzinfo=timezone.utc)),
        ("2024-05-01T20:00:05+02:00", "abs", "s", None, datetime(2024, 5, 1, 18, 0, 5, tzinfo=timezone.utc)),
        ("2024-05-01 18:00:05 UTC", "abs", "s", None, datetime(2024, 5, 1, 18, 0, 5, tzinfo=timezone.utc)),
        ("soon", "auto", "s", None, None),
        (True, "rel", "s", None, None),
    ],
)
def test_time_units(value, kind, unit, rel, abs_) -> None:
    assert parse_time(value, kind, unit) == (rel, abs_)


def test_jsonl_camel_case_with_both_clocks_and_bad_rows(tmp_path: Path) -> None:
    """Offsets and wall-clock times both kept (t_abs feeds alignment); unreadable rows say why."""
    rows = [{"id": "a", "createdAt": "2024-05-01T18:00:05.250Z", "offsetSeconds": 5.25, "author": {"displayName": "Ann", "id": "1"}, "text": "one"},
            {"id": "b", "createdAt": "2024-05-01T18:00:07Z", "offsetSeconds": 7, "author": {"displayName": "Bob", "id": "2"}, "text": "two"},
            {"id": "c", "offsetSeconds": "later", "author": {"displayName": "Cat"}, "text": "bad time"},
            {"id": "d", "offsetSeconds": 9, "author": {"displayName": "Dan"}}]
    data = "\n".join(json.dumps(x) for x in rows) + "\n[1, 2]\n"
    r = parse_file(write(tmp_path, "chat.jsonl", data))
    assert r.format == "json_records"
    assert r.messages["text"].to_list() == ["one", "two"] and r.messages["user_id"].to_list() == ["1", "2"]
    assert r.messages["t_s"].to_list() == [5.25, 7.0]
    assert r.messages["t_abs"].to_list() == [datetime(2024, 5, 1, 18, 0, 5, 250000, tzinfo=timezone.utc), datetime(2024, 5, 1, 18, 0, 7, tzinfo=timezone.utc)]
    assert r.reject_counts() == {"no_text": 1, "no_time": 1, "not_an_object": 1}
    assert "offsetSeconds='later'" in r.rejects.filter(r.rejects["reason"].str.starts_with("no_time"))["reason"][0]
    assert "user <- author.displayName" in r.summary()


def test_kick_chat_json(tmp_path: Path) -> None:
    """Kick's chat API page: {data: {messages: [...]}} with sender.username and ISO created_at."""
    msgs = [{"id": f"k{i}", "chat_id": 668, "user_id": 100 + i, "content": c, "type": "message", "metadata": None,
             "created_at": f"2024-05-01T18:00:0{i}Z", "sender": {"id": 100 + i, "username": u, "slug": u.lower(),
             "identity": {"color": "#75FD46", "badges": [{"type": "moderator", "text": "Moderator"}] if i == 0 else []}}}
            for i, (u, c) in enumerate([("Ann", "hello [emote:37226:KEKW]"), ("Bob", "gg")])]
    doc = {"status": {"error": False, "code": 200}, "data": {"messages": msgs, "cursor": "1714586400", "pinned_message": None}}
    r = parse_file(write(tmp_path, "kick.json", json.dumps(doc)), start_time=START)
    assert r.format == "kick_json" and r.rejects.height == 0
    assert r.messages["user"].to_list() == ["Ann", "Bob"] and r.messages["user_login"].to_list() == ["ann", "bob"]
    assert r.messages["t_s"].to_list() == [0.0, 1.0] and r.messages["is_moderator"].to_list() == [True, False]
    assert r.meta["records_key"] == "data.messages"


def test_unknown_json_says_what_it_looks_like(tmp_path: Path) -> None:
    r = parse_file(write(tmp_path, "weird.json", json.dumps([{"foo": 1, "bar": "x"}])))
    reason = r.rejects["reason"][0]
    assert r.messages.height == 0 and r.rejects.height == 1
    assert "JSON array with keys foo, bar" in reason and "ASCII" in reason and "Known formats:" in reason and "yt-dlp" in reason
    r = parse_file(write(tmp_path, "notes.txt", "Dear diary,\ntoday nothing happened.\n"))
    assert "first line 'Dear diary,'" in r.rejects["reason"][0] and "Chatterino" in r.rejects["reason"][0]
    r = parse_file(write(tmp_path, "latin.txt", "caf\xe9 au lait\n".encode("latin-1") * 50))
    assert "latin-1" in r.rejects["reason"][0]
