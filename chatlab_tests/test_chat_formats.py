"""Every chat export family, written by hand in its real shape, plus the nasty cases:
readable rows go on, unreadable ones become rejects with file, line/index and reason."""

from __future__ import annotations

import gzip
import json
from datetime import datetime, timezone
from pathlib import Path

import pytest

from chatlab.chat import parse_file
from chatlab.chat.detect import detect_file
from chatlab.chat.schema import MESSAGE, REJECT


def comment(i: int, t: float, user: str, body: str | None, **extra) -> dict:
    """A TwitchDownloader 1.4 comment."""
    msg = {"body": body, "bits_spent": 0, "fragments": [{"text": body, "emoticon": None}] if body is not None else [],
           "user_badges": [{"_id": "subscriber", "version": "6"}], "user_color": "#FF4500",
           "user_notice_params": {"msg_id": None}, "emoticons": []}
    msg.update(extra.pop("message", {}))
    c = {"_id": f"id-{i}", "created_at": f"2024-05-01T18:00:{int(t):02d}.{int(t % 1 * 1000):03d}Z", "channel_id": "99",
         "content_type": "video", "content_id": "2001", "content_offset_seconds": int(t),
         "commenter": {"display_name": user.title(), "_id": str(1000 + i), "name": user, "bio": None, "logo": "https://x/y.png"},
         "message": msg}
    c.update(extra)
    return c


def td_doc(comments: list) -> dict:
    return {
        "FileInfo": {"Version": {"Major": 1, "Minor": 4, "Patch": 0}, "CreatedAt": "2024-05-02T00:00:00Z", "UpdatedAt": "0001-01-01T00:00:00"},
        "streamer": {"name": "Streamer", "id": 99},
        "video": {"title": "t [with] {braces}", "id": "2001", "created_at": "2024-05-01T18:00:00Z", "start": 0, "end": 60, "length": 60,
                  "chapters": [{"id": "c1", "startMilliseconds": 0, "lengthMilliseconds": 60000, "description": "Just Chatting"}]},
        "comments": comments,
        "embeddedData": {"thirdParty": [{"id": "e1", "name": "x", "data": "iVBORw0KGgo="}], "firstParty": [], "twitchBadges": [], "twitchBits": []},
    }


def write(tmp: Path, name: str, data: str | bytes) -> Path:
    p = tmp / name
    p.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return p


def check_schema(r) -> None:
    assert r.messages.columns == list(MESSAGE) and r.rejects.columns == list(REJECT)
    assert r.messages.schema == MESSAGE and r.rejects.schema == REJECT


# --- TwitchDownloader -------------------------------------------------------------------


def test_twitchdownloader_current(tmp_path: Path) -> None:
    cs = [comment(0, 1.25, "alice", "hello Kappa", message={"fragments": [{"text": "hello ", "emoticon": None}, {"text": "Kappa", "emoticon": {"emoticon_id": "25"}}]}),
          comment(1, 2.5, "bob", "!uptime"), comment(2, 3.75, "nightbot", "the stream is live"),
          comment(3, 4.0, "carol", 'quote "inside" and {brace] and \\ backslash')]
    p = write(tmp_path, "td.json", json.dumps(td_doc(cs), separators=(",", ":")))
    assert detect_file(p) == "twitchdownloader_json"
    r = parse_file(p)
    check_schema(r)
    m = r.messages
    assert m["msg_id"].to_list() == ["id-0", "id-1", "id-2", "id-3"]
    assert m["t_s"].to_list() == pytest.approx([1.25, 2.5, 3.75, 4.0])  # whole-second offsets refined by created_at
    assert m["text"][3] == 'quote "inside" and {brace] and \\ backslash'
    assert m["emotes"][0].to_list() == [{"id": "25", "begin": 6, "end": 11}]
    assert m["is_command"].to_list() == [False, True, False, False]
    assert m["is_bot"].to_list() == [False, False, True, False]
    assert m["is_subscriber"].all() and m["user"][0] == "Alice" and m["user_login"][0] == "alice"
    assert r.meta["export_version"] == "1.4.0" and r.meta["channel"] == "Streamer"
    assert r.meta["start_time"] == datetime(2024, 5, 1, 18, 0, tzinfo=timezone.utc)
    assert r.rejects.height == 0


def test_notices_under_either_spelling_of_msg_id(tmp_path: Path) -> None:
    """A sub notice is a notice whether the export spells the key "msg_id" (TwitchDownloader
    now) or "msg-id" (its early Newtonsoft model, as the Twitch v5 API): before, the second
    spelling was read as a viewer's message, and the demo's subs became training targets."""
    cs = [comment(0, 1.0, "ann", "hi"),
          comment(1, 2.0, "bob", "Bob subscribed at Tier 1.", message={"user_notice_params": {"msg_id": "sub"}}),
          comment(2, 3.0, "cat", "Cat subscribed at Tier 1. They've subscribed for 3 months!",
                  message={"user_notice_params": {"msg-id": "resub"}}),
          comment(3, 4.0, "dan", "yo", message={"user_notice_params": {}})]
    r = parse_file(write(tmp_path, "subs.json", json.dumps(td_doc(cs), separators=(",", ":"))))
    assert r.messages["msg_type"].to_list() == ["chat", "notice", "notice", "chat"] and r.rejects.height == 0


def test_metadata_after_the_comments(tmp_path: Path) -> None:
    """Some writers put `video` after `comments`: its start time is still read."""
    doc = td_doc([comment(0, 1.5, "ann", "hi"), comment(1, 2.25, "bob", "yo")])
    doc = {k: doc[k] for k in ("FileInfo", "streamer", "comments", "embeddedData", "video")}
    r = parse_file(write(tmp_path, "late.json", json.dumps(doc, separators=(",", ":"))))
    assert r.messages["text"].to_list() == ["hi", "yo"] and r.rejects.height == 0
    assert r.meta["start_time"] == datetime(2024, 5, 1, 18, 0, tzinfo=timezone.utc) and r.meta["video_end"] == 60


def test_twitchdownloader_old_v1_gzip_pretty(tmp_path: Path) -> None:
    """v1: no FileInfo, top-level emotes, float offsets, emoticons with inclusive ends, /me; gzip; indented."""
    cs = [
        {"_id": "a", "created_at": "2019-01-01T00:00:01Z", "content_offset_seconds": 1.5,
         "commenter": {"display_name": "Zed", "_id": "7", "name": "zed", "type": "user"},
         "message": {"body": "LUL nice", "emoticons": [{"_id": "425618", "begin": 0, "end": 2}], "is_action": True,
                     "user_badges": [{"_id": "moderator", "version": "1"}], "fragments": [{"text": "LUL"}, {"text": " nice"}]}},
        {"_id": "b", "created_at": "2019-01-01T00:00:03Z", "content_offset_seconds": 3.25,
         "commenter": {"display_name": "Yan", "_id": "8", "name": "yan"}, "message": {"body": "line\nbreak", "user_badges": None}},
    ]
    doc = {"streamer": {"name": "old", "id": 5}, "video": {"id": "1", "duration": "1h", "user_id": "5", "user_name": "old"},
           "comments": cs, "emotes": {"thirdParty": [], "firstParty": []}}
    p = write(tmp_path, "old.json.gz", gzip.compress(json.dumps(doc, indent=2).encode()))
    r = parse_file(p)
    check_schema(r)
    assert r.format == "twitchdownloader_json" and r.rejects.height == 0
    assert r.messages["t_s"].to_list() == [1.5, 3.25]
    assert r.messages["msg_type"][0] == "action" and r.messages["is_moderator"][0]
    assert r.messages["emotes"][0].to_list() == [{"id": "425618", "begin": 0, "end": 3}]
    assert r.messages["text"][1] == "line\nbreak"
    assert r.meta["export_version"].startswith("1 ")


def test_twitchdownloader_bad_records_in_the_middle(tmp_path: Path) -> None:
    good = [comment(i, i + 1.0, f"u{i}", f"msg {i}") for i in range(6)]
    no_time = comment(90, 0, "x", "no time")
    del no_time["content_offset_seconds"], no_time["created_at"]
    no_text = comment(91, 3, "y", None)
    bad_type = comment(92, 3, "z", "typed")
    bad_type["commenter"] = "just a string"
    body = [json.dumps(c) for c in good[:2]] + [json.dumps(no_time), '"a stray string"', json.dumps(no_text), json.dumps(bad_type)] + [json.dumps(c) for c in good[2:]]
    doc = json.dumps(td_doc([])).replace('"comments": []', '"comments": [' + ", ".join(body) + "]")
    p = write(tmp_path, "bad.json", doc)
    r = parse_file(p)
    check_schema(r)
    assert r.messages["text"].to_list() == [f"msg {i}" for i in range(6)]
    reasons = r.reject_counts()
    assert reasons == {"bad_types": 1, "no_text": 1, "no_time": 1, "not_an_object": 1}, r.rejects
    assert set(r.rejects["source_file"]) == {"bad.json"}
    assert '"id-90"' in r.rejects.filter(r.rejects["reason"].str.starts_with("no_time"))["raw"][0]


def test_truncated_json_keeps_what_is_complete(tmp_path: Path) -> None:
    text = json.dumps(td_doc([comment(i, i, f"u{i}", f"m{i}") for i in range(5)]), separators=(",", ":"))
    cut = text[: text.index('"_id":"id-4"') + 40]
    r = parse_file(write(tmp_path, "cut.json", cut))
    assert r.messages.height == 4 and r.rejects.height == 1
    assert r.rejects["reason"][0].startswith("truncated:") and r.rejects["source_index"][0] == 4
    assert r.stats.get("truncated_file") == 1
    # truncated before the comments even start: one clear file-level reject, no crash
    r = parse_file(write(tmp_path, "cut2.json", text[:80]))
    assert r.messages.height == 0 and r.rejects.height == 1 and r.rejects["reason"][0].startswith("file_error")


def test_encodings_bom_latin1_nul(tmp_path: Path) -> None:
    cs = [comment(0, 1, "ana", "café"), comment(1, 2, "ben", "plain")]
    raw = json.dumps(td_doc(cs), ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    r = parse_file(write(tmp_path, "bom.json", b"\xef\xbb\xbf" + raw))
    assert r.messages["text"].to_list() == ["café", "plain"]
    latin = raw.replace("café".encode(), "café".encode("latin-1"))
    r = parse_file(write(tmp_path, "latin.json", latin))
    assert r.messages["text"].to_list() == ["café", "plain"] and r.stats.get("reencoded_latin1") == 1
    r = parse_file(write(tmp_path, "nul.json", raw.replace(b"plain", b"pl\x00ain")))
    assert r.messages["text"].to_list() == ["café", "plain"] and r.stats["nul_bytes_removed"] == 2  # body + fragment
    utf16 = json.dumps(td_doc(cs), ensure_ascii=False).encode("utf-16")
    assert parse_file(write(tmp_path, "u16.json", utf16)).messages.height == 2


def test_huge_single_message_and_out_of_order(tmp_path: Path) -> None:
    big = "A" * (10 << 20)
    cs = [comment(0, 5, "a", "late"), comment(1, 1, "b", big), comment(2, 3, "c", "mid")]
    r = parse_file(write(tmp_path, "big.json", json.dumps(td_doc(cs))))
    assert r.messages["t_s"].to_list() == sorted(r.messages["t_s"].to_list())  # the table is sorted
    assert r.messages["source_index"].to_list() == [1, 2, 0]  # and still says where each came from
    assert len(r.messages.filter(r.messages["msg_id"] == "id-1")["text"][0]) == 10 << 20


# --- GQL --------------------------------------------------------------------------------


def gql_node(i: int, t: int, login: str, frags: list) -> dict:
    return {"__typename": "VideoComment", "id": f"g{i}", "createdAt": f"2024-05-01T18:00:{t:02d}Z", "contentOffsetSeconds": t,
            "commenter": {"__typename": "User", "id": str(i), "login": login, "displayName": login.upper()},
            "message": {"__typename": "VideoCommentMessage", "fragments": frags, "userBadges": [{"__typename": "Badge", "setID": "vip", "version": "1"}], "userColor": None}}


def test_gql_nodes_edges_and_pages(tmp_path: Path) -> None:
    frags = [{"__typename": "VideoCommentMessageFragment", "text": "hi ", "emote": None},
             {"__typename": "VideoCommentMessageFragment", "text": "PogChamp", "emote": {"__typename": "EmbeddedEmote", "emoteID": "305954156", "from": 3}}]
    nodes = [gql_node(1, 4, "dan", frags), gql_node(2, 9, "eve", [{"text": "no body here", "emote": None}])]
    p = write(tmp_path, "nodes.json", json.dumps({"comments": nodes}))
    assert detect_file(p) == "gql_json"
    r = parse_file(p)
    check_schema(r)
    assert r.messages["text"].to_list() == ["hi PogChamp", "no body here"]  # body rebuilt from fragments
    assert r.messages["emotes"][0].to_list() == [{"id": "305954156", "begin": 3, "end": 11}]
    assert r.messages["is_vip"].all() and r.messages["user"].to_list() == ["DAN", "EVE"]
    edges = [{"cursor": "x", "node": n} for n in nodes]
    assert parse_file(write(tmp_path, "edges.json", json.dumps(edges))).messages.height == 2
    pages = [{"data": {"video": {"id": "1", "comments": {"edges": edges[:1], "pageInfo": {}}}}},
             {"data": {"video": {"id": "1", "comments": {"edges": edges[1:], "pageInfo": {}}}}}]
    r = parse_file(write(tmp_path, "pages.json", json.dumps(pages)))
    assert r.messages["msg_id"].to_list() == ["g1", "g2"] and r.rejects.height == 0


def test_snake_case_api_comments_top_level_list(tmp_path: Path) -> None:
    cs = [comment(0, 2, "fay", "from the API")]
    r = parse_file(write(tmp_path, "api.json", json.dumps(cs)))
    assert r.format == "twitchdownloader_json" and r.messages["text"].to_list() == ["from the API"]


# --- chat-downloader --------------------------------------------------------------------


def cd_item(i: int, t: float, name: str, text: str) -> dict:
    return {"message_id": f"c{i}", "message": text, "message_type": "text_message", "timestamp": int((1714586400 + t) * 1e6),
            "time_in_seconds": t, "time_text": f"0:{int(t):02d}",
            "author": {"id": str(i), "name": name, "display_name": name.title(), "badges": [{"name": "subscriber", "title": "6-Month Subscriber", "version": 6}]},
            "emotes": [{"id": "25", "name": "Kappa", "locations": ["0-4"]}] if text.startswith("Kappa") else []}


def test_chat_downloader_json_and_jsonl_with_bad_line(tmp_path: Path) -> None:
    items = [cd_item(0, 1.5, "gus", "Kappa hi"), cd_item(1, 2.0, "hal", "yo"), cd_item(2, 4.0, "ida", "sub!")]
    items[2]["message_type"] = "subscription"
    r = parse_file(write(tmp_path, "cd.json", json.dumps(items)))
    check_schema(r)
    assert r.format == "chat_downloader_json"
    assert r.messages["t_s"].to_list() == [1.5, 2.0, 4.0] and r.messages["msg_type"][2] == "notice"
    assert r.messages["emotes"][0].to_list() == [{"id": "25", "begin": 0, "end": 5}] and r.messages["emote_only"][0] is False
    assert r.messages["t_abs"][0] == datetime(2024, 5, 1, 18, 0, 1, 500000, tzinfo=timezone.utc)
    lines = [json.dumps(i) for i in items]
    lines.insert(1, '{"message_id": "broken", "message": "oops"')
    r = parse_file(write(tmp_path, "cd.jsonl", "\n".join(lines) + "\n"))
    assert r.messages.height == 3 and r.reject_counts() == {"invalid_json": 1}
    assert r.rejects["source_index"][0] == 1 and "oops" in r.rejects["raw"][0]
    # live chat: no time_in_seconds, only UNIX µs timestamps -> relative to the given start
    for it in items:
        del it["time_in_seconds"]
    start = datetime(2024, 5, 1, 18, 0, tzinfo=timezone.utc)
    r = parse_file(write(tmp_path, "live.json", json.dumps(items)), start_time=start, start_source="test")
    assert r.messages["t_s"].to_list() == pytest.approx([1.5, 2.0, 4.0]) and "from test" in r.time_basis
    r = parse_file(tmp_path / "live.json")
    assert r.messages["t_s"].to_list() == pytest.approx([0.0, 0.5, 2.5]) and "first message" in r.time_basis


# --- IRC --------------------------------------------------------------------------------

IRC = """\
:tmi.twitch.tv 001 justinfan123 :Welcome, GLHF!
:justinfan123!justinfan123@justinfan123.tmi.twitch.tv JOIN #chan
@badge-info=subscriber/8;badges=broadcaster/1,subscriber/0;color=#0000FF;display-name=Chan;emotes=25:0-4,12-16;id=m1;mod=0;room-id=1;tmi-sent-ts=1714586401000;user-id=1 :chan!chan@chan.tmi.twitch.tv PRIVMSG #chan :Kappa hello Kappa
@badges=moderator/1;display-name=Mo\\sD;emotes=;id=m2;tmi-sent-ts=1714586402500;user-id=2 :mod!mod@mod.tmi.twitch.tv PRIVMSG #chan :\x01ACTION waves\x01
@badges=;display-name=Spam;emotes=;id=m3;tmi-sent-ts=1714586403000;user-id=3 :spam!spam@spam.tmi.twitch.tv PRIVMSG #chan :buy followers
this line is not IRC at all
@badges=;display-name=Spam;emotes=;id=m4;tmi-sent-ts=1714586404000;user-id=3 :spam!spam@spam.tmi.twitch.tv PRIVMSG #chan :buy more
@login=spam;target-msg-id=m3;tmi-sent-ts=1714586404500 :tmi.twitch.tv CLEARMSG #chan :buy followers
@ban-duration=600;target-user-id=3;tmi-sent-ts=1714586405000 :tmi.twitch.tv CLEARCHAT #chan :spam
@badges=subscriber/12;display-name=Fan;login=fan;msg-id=resub;system-msg=Fan\\ssubscribed\\sfor\\s12\\smonths!;tmi-sent-ts=1714586406000;user-id=4 :tmi.twitch.tv USERNOTICE #chan :love it
@badges=;bits=100;display-name=Ch;emotes=;id=m5;tmi-sent-ts=1714586407000;user-id=5 :ch!ch@ch.tmi.twitch.tv PRIVMSG #chan :cheer100 go
PING :tmi.twitch.tv
"""


def test_irc_lines(tmp_path: Path) -> None:
    p = write(tmp_path, "chat.irc", IRC)
    assert detect_file(p) == "irc"
    r = parse_file(p, start_time=datetime(2024, 5, 1, 18, 0, tzinfo=timezone.utc), start_source="vod_source")
    check_schema(r)
    m = r.messages
    assert m["msg_id"].to_list() == ["m1", "m2", "m3", "m4", None][:4] + [m["msg_id"][4], "m5"]
    assert m["t_s"].to_list()[:3] == [1.0, 2.5, 3.0]
    assert m["emotes"][0].to_list() == [{"id": "25", "begin": 0, "end": 5}, {"id": "25", "begin": 12, "end": 17}]
    assert m["is_broadcaster"][0] and m["is_moderator"][1] and m["user"][1] == "Mo D" and m["msg_type"][1] == "action"
    assert m["text"][1] == "waves"
    assert m["moderated"].to_list()[:4] == [False, False, True, True]  # CLEARMSG m3, CLEARCHAT of spam
    assert m["msg_type"][4] == "notice" and m["text"][4] == "Fan subscribed for 12 months! love it"
    assert m["bits"][5] == 100
    assert r.reject_counts() == {"unrecognized_line": 1} and r.rejects["source_line"][0] == 6
    assert r.stats["not_a_message_irc_JOIN"] == 1 and r.stats["not_a_message_irc_PING"] == 1
    assert r.stats["moderation_events"] == 2


def test_irc_wrapped_in_json(tmp_path: Path) -> None:
    lines = [ln for ln in IRC.splitlines() if "PRIVMSG" in ln]
    r = parse_file(write(tmp_path, "irc.json", json.dumps({"channel": "chan", "messages": lines + [42]})))
    assert r.format == "irc_json" and r.messages.height == 5
    assert r.reject_counts() == {"not_an_object": 1} and r.rejects["source_index"][0] == 5


# --- text logs --------------------------------------------------------------------------


def test_text_exports(tmp_path: Path) -> None:
    rel = "[0:00:01] Alice: hi there\n[0:01:05] 名前 (namae): こんにちは\n[1:00:00] Bob: an hour in: still here\n\nnot a chat line\n"
    r = parse_file(write(tmp_path, "rel.txt", rel))
    check_schema(r)
    assert r.format == "text"
    assert r.messages["t_s"].to_list() == [1.0, 65.0, 3600.0]
    assert r.messages["user"][1] == "名前" and r.messages["user_login"][1] == "namae" and r.messages["text"][2] == "an hour in: still here"
    assert r.reject_counts() == {"unrecognized_line": 1} and r.rejects["source_line"][0] == 5
    assert r.messages["msg_id"].n_unique() == 3 and parse_file(tmp_path / "rel.txt").messages["msg_id"].equals(r.messages["msg_id"])  # stable
    utc = "[2024-05-01 18:00:05 UTC] Alice: five\n[2024-05-01 18:00:09 UTC] Bob: nine\n"
    r = parse_file(write(tmp_path, "utc.txt", utc), start_time=datetime(2024, 5, 1, 18, 0, tzinfo=timezone.utc))
    assert r.messages["t_s"].to_list() == [5.0, 9.0]
    unix = "1714586405 alice: five\n1714586409500 bob: nine and a half\n"
    r = parse_file(write(tmp_path, "unix.log", unix), start_time=datetime(2024, 5, 1, 18, 0, tzinfo=timezone.utc))
    assert r.messages["t_s"].to_list() == [5.0, 9.5]


def test_text_mixed_formats_latin1_bom_nul(tmp_path: Path) -> None:
    irc_line = [ln for ln in IRC.splitlines() if "id=m2" in ln][0]
    data = ("\ufeff[2024-05-01 18:00:01 UTC] Alice: one\n" + irc_line + "\n1714586403 carl: three\n").encode("utf-8")
    data += "[2024-05-01 18:00:04 UTC] Dora: caf\u00e9\n".encode("latin-1") + b"[2024-05-01 18:00:05 UTC] Eve: n\x00ul\n"
    r = parse_file(write(tmp_path, "mixed.log", data), start_time=datetime(2024, 5, 1, 18, 0, tzinfo=timezone.utc))
    assert r.messages["text"].to_list() == ["one", "waves", "three", "café", "nul"]
    assert r.messages["t_s"].to_list() == [1.0, 2.5, 3.0, 4.0, 5.0]
    assert r.stats["lines_reencoded_latin1"] == 1 and r.stats["nul_bytes_removed"] == 1


# --- CSV --------------------------------------------------------------------------------


def test_csv(tmp_path: Path) -> None:
    data = 'time,username,message\n1.5,alice,"hello, world"\n0:00:03,bob,"multi\nline"\nsoon,carl,bad time\n4,dora\n5,eve,"!cmd"\n'
    p = write(tmp_path, "chat.csv", data)
    assert detect_file(p) == "csv"
    r = parse_file(p)
    check_schema(r)
    assert r.messages["text"].to_list() == ["hello, world", "multi\nline", "!cmd"]
    assert r.messages["t_s"].to_list() == [1.5, 3.0, 5.0]
    assert r.reject_counts() == {"bad_row": 1, "no_time": 1}
    assert sorted(r.rejects["source_line"].to_list()) == [5, 6]


# --- whole-file failures never raise ------------------------------------------------------


def test_empty_unknown_and_gzip_bomb(tmp_path: Path) -> None:
    for name, data in (("empty.json", b""), ("blank.txt", b"  \n\n "), ("what.txt", b"\x89PNG\r\n\x1a\n binary junk")):
        r = parse_file(write(tmp_path, name, data))
        check_schema(r)
        assert r.messages.height == 0 and r.rejects.height == 1, name
        assert r.rejects["source_file"][0] == name and r.rejects["reason"][0].split(":")[0] in ("empty_file", "file_error")
    head = json.dumps(td_doc([comment(0, 1, "a", "x")]))[:-1]  # a real export, then 8 MB of padding
    bomb = write(tmp_path, "bomb.json.gz", gzip.compress(head.encode() + b" " * (8 << 20) + b"}"))
    r = parse_file(bomb, max_bytes=1 << 20)
    assert r.messages.height == 0 and "size cap" in r.rejects["reason"][0]


def test_unknown_file_says_what_it_looks_like(tmp_path: Path) -> None:
    # Deliver 4: one reject naming the encoding, the first keys or the first line, and the formats known
    cases = {"notes.txt": ("Dear diary, today I streamed.\nIt went well.\n".encode(), "ASCII; first line 'Dear diary, today I streamed.'"),
             "config.json": (b'{"foo": 1, "bar": [1, 2]}', "JSON object with keys foo, bar"),
             "latin.txt": ("Caf\u00e9 \u00e0 la cr\u00e8me, tr\u00e8s bien\n".encode("cp1252"), "latin-1/cp1252 text"),
             "utf16.txt": (b"\xff\xfe" + "hello there\n".encode("utf-16-le"), "UTF-16 (BOM)")}
    for name, (data, looks) in cases.items():
        r = parse_file(write(tmp_path, name, data))
        assert r.messages.height == 0 and r.rejects.height == 1, name
        reason = r.rejects["reason"][0]
        assert reason.startswith(f"file_error: {name}: not a chat export chatlab knows") and looks in reason, reason
        assert "Known formats: TwitchDownloader JSON/TXT/HTML" in reason and "Twitch-Chat-Downloader text/SRT/SSA" in reason


def test_a_file_with_no_records_is_never_a_silent_zero(tmp_path: Path) -> None:
    r = parse_file(write(tmp_path, "empty_export.json", json.dumps({"FileInfo": {"Version": {"Major": 1}}, "comments": [], "video": {"id": "1"}})))
    assert r.format == "twitchdownloader_json" and r.messages.height == 0
    assert r.rejects["reason"].to_list() == ["empty_file: empty_export.json: empty: read as twitchdownloader_json, but it holds "
                                             "no chat records (its `comments` list is empty)"]
    r = parse_file(write(tmp_path, "joins.log", "--- Log opened Wed May 01 18:00:00 2024\n18:00 -!- ann has joined #c\n"))
    assert r.format == "irssi_log" and r.reject_counts() == {"empty_file": 1}


def test_bad_input_on_every_reader_family(tmp_path: Path) -> None:
    """Truncation, mixed formats, NUL bytes and wrong encodings: rejected rows with reasons, the rest read."""
    # CSV: a quote never closed swallows the rows after it into one cell: that record is a `truncated` reject
    r = parse_file(write(tmp_path, "cut.csv", 'time,author,message\n1,a,ok\n2,b,"hello\n3,c,hi\n'))
    assert r.messages["text"].to_list() == ["ok"] and r.reject_counts() == {"truncated": 1} and r.stats["truncated_file"] == 1
    # a legal multi-line quoted cell is kept
    r = parse_file(write(tmp_path, "multi.csv", 'time,author,message\n1,a,"two\nlines"\n2,b,hi\n'))
    assert r.messages["text"].to_list() == ["two\nlines", "hi"] and r.rejects.height == 0
    # JSONL cut in its last line; a JSON document cut after a null element
    lines = [json.dumps({"time_in_seconds": i, "author": {"name": f"u{i}"}, "message": f"m{i}"}) for i in range(4)]
    r = parse_file(write(tmp_path, "cut.jsonl", "\n".join(lines)[:-8]))
    assert r.messages.height == 3 and r.reject_counts() == {"invalid_json": 1}
    doc = json.dumps(td_doc([comment(0, 1, "a", "x"), comment(1, 2, "b", "y")]))
    cut = doc.replace('}, {"_id"', '}, null, {"_id"', 1)
    r = parse_file(write(tmp_path, "cut.json", cut[: cut.rindex('"b"')]))
    assert r.messages.height == 1 and r.reject_counts() == {"not_an_object": 1, "truncated": 1}
    # a client log with lines of other formats in it: those lines are rejected, the log's own lines read
    r = parse_file(write(tmp_path, "mixed.log", "--- Log opened Wed May 01 18:00:00 2024\n18:00 <ann> hi\n"
                                                 '{"json": 1}\n[0:00:05] <x> tcd line\n18:01 <bob> yo\n'))
    assert r.format == "irssi_log" and r.messages["text"].to_list() == ["hi", "yo"] and r.reject_counts() == {"unrecognized_line": 2}
    # an SRT cut inside its last cue's time line; a Dialogue line without its fields
    r = parse_file(write(tmp_path, "cut.srt", "1\n0:00:05,120 --> 0:00:07,120\nA: hi\n\n2\n0:00:06,1"))
    assert r.messages["text"].to_list() == ["hi"] and r.rejects.height == 1
    # NUL bytes and a latin-1 line in a raw IRC log
    irc = (b"@tmi-sent-ts=1000;display-name=A :a!a@a.tmi.twitch.tv PRIVMSG #c :h\x00i\n"
           b"@tmi-sent-ts=2000;display-name=B :b!b@b.tmi.twitch.tv PRIVMSG #c :caf\xe9\n")
    r = parse_file(write(tmp_path, "nul.txt", irc))
    assert r.messages["text"].to_list() == ["hi", "caf\u00e9"] and r.stats["nul_bytes_removed"] == 1 and r.stats["lines_reencoded_latin1"] == 1


# --- the demo generator's exports ---------------------------------------------------------


def test_demo_stream_export_parses(tmp_path: Path) -> None:
    demo = pytest.importorskip("chatlab.demo")
    s = demo.make_demo_stream(tmp_path, "demo1", 3, minutes=0.5, video=False)
    chat = getattr(s, "chat", None) or next(p for p in tmp_path.iterdir() if p.name.endswith(".json") and not p.name.endswith(".truth.json"))
    r = parse_file(chat)
    assert r.format == "twitchdownloader_json" and r.messages.height > 0 and r.rejects.height == 0
    assert r.messages["t_s"].is_not_null().all() and r.messages["user"].is_not_null().all()


# --- the streaming cut itself -------------------------------------------------------------


@pytest.mark.parametrize("size", [1, 2, 3, 7, 64, 1 << 20])
def test_stream_cut_any_chunk_boundary(size: int) -> None:
    """Records cut out of the document are the same whatever the chunking (strings, escapes,
    backslash runs and brackets in text straddling chunk ends)."""
    import io

    from chatlab.chat.jsonstream import stream_records

    bodies = ['ends with a backslash \\', 'escaped \\" quote', 'run \\\\\\" odd', '{[}]', 'plain', '"', "\\\\"]
    cs = [comment(i, i, f"u{i}", b) for i, b in enumerate(bodies)]
    data = json.dumps(td_doc(cs), indent=1 if size % 2 else None).encode()
    out = io.BytesIO()
    scan = stream_records((data[i : i + size] for i in range(0, len(data), size)), out)
    lines = out.getvalue().splitlines()
    assert [json.loads(x)["message"]["body"] for x in lines] == bodies
    assert scan.rejects == [] and not scan.truncated and scan.meta["video"]["id"] == "2001"
