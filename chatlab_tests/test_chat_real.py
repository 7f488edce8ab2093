"""The real public exports under data/real/chat (see data/real/SOURCES.md): every file parses,
parsed + rejected = the records the file holds, no valid record is rejected, and a few exact
texts. Expected counts come from plain json/csv reads in this file and from jq (the literal
numbers), never from chatlab."""

from __future__ import annotations

import csv
import json
from datetime import datetime, timezone
from pathlib import Path

import pytest

from chatlab.chat import parse_file

REAL = Path(__file__).parent / "data" / "real" / "chat"

# file -> (format, records that are chat messages or notices, of which notices). Worked out with
# jq/json/csv: e.g. `jq length`, `jq '[...addChatItemAction.item | keys[0]] | group_by(.)'`.
EXPECTED = {
    "cd_twitch_replay.json": ("chat_downloader_json", 19, 0),
    "cd_twitch_replay.csv": ("csv", 19, 0),
    "cd_youtube_superchats.json": ("chat_downloader_json", 125, 125),  # every record is a super chat (57 ticker copies)
    "cd_youtube_replay.csv": ("csv", 681, 0),
    "cd_youtube_replay.txt": ("text", 681, 0),  # `grep -c . file` = 681 lines
    "youtube_actions.json": ("youtube_live_chat", 4, 3),  # text 1; membership, sticker, donation
    "pytchat_chatreplay.json": ("youtube_live_chat", 48, 1),  # 47 text, 1 paid, 1 placeholder (not a message)
    "pytchat_superchat.live_chat.json": ("youtube_live_chat", 50, 4),  # 46 text, 4 paid, 2 tickers (not messages)
    # `jq '.messages|length'` = 300; `jq '[.messages[]|select(test(" PRIVMSG #"))]|length'` = 298; the other 2 are CLEARCHAT
    "recentmessages_nymn.json": ("irc_json", 298, 0),
    # `grep -cE '^[a-z]{3} [0-9]{2} [0-9:]{8} +<' file` = 6 nick lines; the rest are headers, blank and status lines
    "plaso_xchat.log": ("hexchat_log", 6, 0),
    "livestreamdvr_dump.json": ("twitchdownloader_json", 2, 0),  # `jq '.comments|length'` = 2
    # `zcat file | grep -c ' PRIVMSG #'` = 691, `grep -c ' USERNOTICE #'` = 1 (a resub without text), `grep -c ' CLEARCHAT #'` = 8
    "gotwitchirc_xqcow.txt.gz": ("irc", 692, 1),
    # `grep -cE '^[0-9]{4} [A-Z][a-z]{2} [0-9]{2} [0-9:]{8}  <' file` = 3 nick lines, plus the 2 lines pygments appended
    "pygments_example.weechatlog": ("weechat_log", 5, 0),
    "tcd_v5_comment.json": ("twitchdownloader_json", 1, 0),  # one comment object, pretty-printed: `jq type` = "object"
    # `grep -c '^\[[0-9][0-9]:[0-9][0-9]\] <' file` = 41; the other 25 lines are `=== ` status lines (`grep -c '^=== '`)
    "ubuntu_kubuntu-devel_2013-01-03.log": ("mirc_log", 41, 0),
}

# records that must be rejected, with the reason (checked by eye against the file)
REJECTED = {"plaso_xchat.log": {"bad_time": 1, "no_text": 1},  # `dec 31 39:95:90 <fpi> ...`, `feb 26 19:56:01 <empty_text>`
            # `<root> ` with no text; `# check for fixed pathological matching behavior` and `1111…`, not log lines
            "pygments_example.weechatlog": {"no_text": 1, "unrecognized_line": 2}}


# pytchat's test data has every renderer id replaced by "dummy_id" (jq '[..|.id? // empty] | unique')
UNIQUE_IDS = {"pytchat_superchat.live_chat.json": 1, "livestreamdvr_dump.json": 1}  # its author set every _id to "0"


def test_every_real_file_is_listed_in_sources() -> None:
    sources = (REAL.parent / "SOURCES.md").read_text()
    files = sorted(p.name for p in REAL.iterdir() if p.suffix != ".LICENSE")  # a licence text travels with its files
    assert files == sorted(EXPECTED)
    for name in files:
        assert f"`chat/{name}`" in sources, name


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_real_file_counts(name: str) -> None:
    fmt, total, notices = EXPECTED[name]
    r = parse_file(REAL / name)
    assert r.format == fmt
    assert r.messages.height + r.rejects.height == total, r.summary()
    want = REJECTED.get(name, {})
    got = dict(r.rejects["reason"].str.extract(r"^([a-z_]+)", 1).value_counts().iter_rows()) if r.rejects.height else {}
    assert got == want, r.rejects.select("reason", "raw").head(5).to_dicts()
    total -= sum(want.values())
    assert int((r.messages["msg_type"] == "notice").sum()) == notices
    assert r.messages["t_s"].is_not_null().all() and r.messages["text"].is_not_null().all()
    chat = r.messages.filter(r.messages["msg_type"] == "chat")
    assert chat["user"].is_not_null().all()  # a donation banner has no author
    assert r.messages["msg_id"].n_unique() == UNIQUE_IDS.get(name, r.messages.height)
    if fmt not in ("youtube_live_chat", "text", "hexchat_log", "weechat_log", "mirc_log"):
        assert "fields:" in r.summary() and "<-" in r.summary()


def test_old_chat_replay_list_string_author() -> None:
    """Issue shape 3: `author` is a string; every record is read, texts and offsets as json.load sees them."""
    items = json.loads((REAL / "cd_twitch_replay.json").read_text(encoding="utf-8"))
    r = parse_file(REAL / "cd_twitch_replay.json")
    m = r.messages.sort("source_index")
    assert m["user"].to_list() == [it["author"] for it in items]
    assert m["text"].to_list() == [it["message"] for it in items]
    assert m["t_s"].to_list() == [float(it["time_in_seconds"]) for it in items]
    # its `timestamp`s are download times (19 messages over 2 hours, stamped within a second): not used as t_abs
    assert "not message times" in r.meta["t_abs_replaced"]
    assert m["t_abs"].is_null().all()


def test_csv_and_json_of_the_same_chat_agree() -> None:
    a = parse_file(REAL / "cd_twitch_replay.json").messages
    b = parse_file(REAL / "cd_twitch_replay.csv").messages
    assert a.select("t_s", "user", "text").equals(b.select("t_s", "user", "text"))
    rows = list(csv.DictReader(open(REAL / "cd_youtube_replay.csv", newline="", encoding="utf-8")))
    m = parse_file(REAL / "cd_youtube_replay.csv").messages.sort("source_index")
    assert m["text"].to_list() == [r["message"] for r in rows]
    assert m["user_id"].to_list() == [r["author_id"] for r in rows]


def test_text_names_with_spaces_brackets_colons_and_negative_times() -> None:
    m = parse_file(REAL / "cd_youtube_replay.txt").messages.sort("source_line")
    by_line = {ln: (u, t, s) for ln, u, t, s in m.select("source_line", "user", "text", "t_s").iter_rows()}
    assert by_line[1] == ("he discovered first fun", "Techno Support", 0.0)  # `[-0:00] ...`
    assert by_line[112][:2] == ("Flaming Timelord [FTL YT]", "yes")
    assert by_line[145][:2] == ("[] bread []", "HELLO")
    assert by_line[150][:2] == ("Rianna :P", "AYOOOOOOO")


def test_super_chats_are_notices_with_the_amount() -> None:
    items = json.loads((REAL / "cd_youtube_superchats.json").read_text(encoding="utf-8"))
    m = parse_file(REAL / "cd_youtube_superchats.json").messages.sort("source_index")
    assert m["text"][4] == "[paid €2.00] it aint much but its an honest donation"
    no_msg = [i for i, it in enumerate(items) if it["message"] is None]
    assert len(no_msg) == 12
    assert all(m["text"][i] == f"[paid {items[i]['amount']}]" for i in no_msg)


def test_youtube_response_and_yt_dlp_lines() -> None:
    r = parse_file(REAL / "pytchat_chatreplay.json")
    first = r.messages.filter(r.messages["msg_id"] == "CjoKGkNMYXBzZTdudHVVQ0Zjc0IxZ0FkTnFnQjVREhxDSnlBNHV2bnR1VUNGV0dnd2dvZDd3NE5aZy0w")
    assert first["user"][0] == "だにょぉぉーん Frisk" and first["text"][0] == "や"
    assert first["t_s"][0] == pytest.approx(101.308)  # videoOffsetTimeMsec 101308
    assert first["t_abs"][0] == datetime.fromtimestamp(1571985910682806 / 1e6, timezone.utc)  # timestampUsec
    paid = r.messages.filter(r.messages["msg_type"] == "notice")
    assert paid["text"].to_list() == ["[super chat: CZK\xa020.00] Hello from Czech Republic"] and paid["user"][0] == "Svatopluk Čech"
    lines = (REAL / "pytchat_superchat.live_chat.json").read_text(encoding="utf-8").splitlines()
    r = parse_file(REAL / "pytchat_superchat.live_chat.json")
    assert r.stats["jsonl"] == 1 and r.messages["source_line"].max() <= len(lines)
    offsets = {i + 1: float(json.loads(ln)["replayChatItemAction"]["videoOffsetTimeMsec"]) / 1000 for i, ln in enumerate(lines)}
    assert all(offsets[ln] == t for ln, t in r.messages.select("source_line", "t_s").iter_rows())


def test_youtube_action_list_with_deletions() -> None:
    r = parse_file(REAL / "youtube_actions.json")
    m = r.messages
    text = m.filter(m["msg_type"] == "chat")
    assert text["text"].to_list() == ["Consistency Level ASL ❤️"] and text["user"][0] == "Naruto Uzumaki"
    assert text["t_abs"][0] == datetime.fromtimestamp(1608118971079695 / 1e6, timezone.utc)
    assert r.stats["moderation_events"] == 2  # one markChatItemAsDeleted, one markChatItemsByAuthorAsDeleted
    assert sorted(m.filter(m["msg_type"] == "notice")["text"].str.extract(r"^\[([a-z ]+)", 1).to_list()) == ["donation", "membership", "super sticker"]


def test_recent_messages_one_word_lines_and_timeouts() -> None:
    """Twitch IRC lines as the recent-messages service serves them (chatterino2's benchmark file): 118 PRIVMSGs whose
    one-word text has no leading `:` are read, and the two CLEARCHAT timeouts mark the earlier messages of their user."""
    raw = json.loads((REAL / "recentmessages_nymn.json").read_text(encoding="utf-8"))["messages"]
    m = parse_file(REAL / "recentmessages_nymn.json").messages
    no_colon = [ln for ln in raw if " PRIVMSG #nymn " in ln and not ln.split(" PRIVMSG #nymn ", 1)[1].startswith(":")]
    assert len(no_colon) == 118
    one = m.filter(m["msg_id"] == "8f921b5d-29b1-4c70-bc87-7a88a9d32ba8")
    assert one.select("user", "text").row(0) == ("jontEmillian", "forsenParty")
    assert one["t_abs"][0] == datetime.fromtimestamp(1704557984398 / 1000, timezone.utc)  # its tmi-sent-ts
    first = m.sort("source_index").row(0, named=True)
    assert first["user"] == "Purple_Geco" and first["text"].startswith("forsenParty EDM forsenParty EDM")
    # jq: PRIVMSGs of e7om before its CLEARCHAT (tmi-sent-ts 1704558154585): 3; of abitbol before 1704558164931: 1
    assert sorted(m.filter(m["moderated"])["user_login"].to_list()) == ["abitbol", "e7om", "e7om", "e7om"]


def test_xchat_log_locale_months_translated_header_and_bad_lines() -> None:
    """plaso's XChat log: lower-case month names, a space (not a tab) after the nick, CRLF, and a second session whose
    header is in Italian (`INIZIO DEL LOG ... 2012`), so its `feb 26` lines are in 2012, not 2011."""
    r = parse_file(REAL / "plaso_xchat.log")
    m = r.messages.sort("source_line")
    assert m.select("user", "text").rows() == [("fpi", "ola plas-ing guys!"), ("STRANGER", "日本"),
                                               ("fpi", "ciao plaso! Com'è?!"), ("Kristinn", "ftw (it :p)?")]
    assert m["t_abs"].to_list() == [datetime(2011, 12, 31, 21, 11, 58, tzinfo=timezone.utc), datetime(2011, 12, 31, 23, 0, 0, tzinfo=timezone.utc),
                                    datetime(2012, 2, 26, 19, 53, 1, tzinfo=timezone.utc), datetime(2012, 2, 26, 19, 54, 0, tzinfo=timezone.utc)]
    assert sorted(r.rejects["source_line"].to_list()) == [10, 19]


def test_twitchdownloader_shape_from_a_live_dump() -> None:
    """LiveStreamDVR's chat dumper writes TwitchDownloader's JSON shape from live chat; its author redacted names and
    bodies (the fragments kept the real text). Offsets and wall clock as `jq` reads them."""
    items = json.loads((REAL / "livestreamdvr_dump.json").read_text(encoding="utf-8"))["comments"]
    r = parse_file(REAL / "livestreamdvr_dump.json")
    m = r.messages.sort("source_index")
    assert m["t_s"].to_list() == [c["content_offset_seconds"] for c in items] == [1954.052, 1954.091]
    assert m["t_abs"].to_list() == [datetime(2022, 11, 11, 1, 2, 33, 752000, tzinfo=timezone.utc),
                                    datetime(2022, 11, 11, 1, 2, 33, 791000, tzinfo=timezone.utc)]
    assert m["text"].to_list() == ["REDACTED", "REDACTED"]  # message.body is what TwitchDownloader itself reads
    assert m["badges"].to_list() == [[], ["0", "0"]]


def test_raw_twitch_irc_log_gzipped() -> None:
    """A channel log of raw Twitch IRC lines (#xqcow, 2019-09-15) as go-twitch-irc keeps it for its tests, cut to its
    first 700 lines and gzipped: every PRIVMSG read with its tags, CLEARCHAT timeouts as moderation."""
    import gzip
    import re

    lines = gzip.decompress((REAL / "gotwitchirc_xqcow.txt.gz").read_bytes()).decode("utf-8").splitlines()
    assert len(lines) == 700
    r = parse_file(REAL / "gotwitchirc_xqcow.txt.gz")
    assert r.stats["moderation_events"] == 8
    m = r.messages
    first = m.filter(m["msg_id"] == "ca561310-6855-43b3-8325-3ea7418359a2")
    assert first.select("user", "user_login").row(0) == ("Onche", "onche")
    assert first["text"][0].startswith("DEVIL MAY CRY 5 gachiBASS DEVIL MAY CRY 5")
    assert first["t_abs"][0] == datetime.fromtimestamp(1568505600501 / 1000, timezone.utc)
    cmd = m.filter(m["msg_id"] == "d10eb06b-2c8f-4813-95c1-e7bed5b70afa")
    assert cmd.select("user", "text").row(0) == ("DevilBalrog", "!#showemote xqcT") and cmd["is_command"][0]
    # worked out with re on the raw lines: PRIVMSGs of a user at or before that user's CLEARCHAT
    sent = [(re.search(r" :([^!]+)!", ln).group(1), int(re.search(r"tmi-sent-ts=(\d+)", ln).group(1))) for ln in lines if " PRIVMSG #" in ln]
    bans = [(ln.rsplit(" :", 1)[1], int(re.search(r"tmi-sent-ts=(\d+)", ln).group(1))) for ln in lines if " CLEARCHAT #" in ln]
    hit = sum(1 for who, t in sent if any(who == b and t <= bt for b, bt in bans))
    assert hit == 4 and int(m["moderated"].sum()) == hit


def test_weechat_02_log() -> None:
    """pygments' example WeeChat log (WeeChat 0.2, 2007, German status lines): two-space separated, no tabs."""
    r = parse_file(REAL / "pygments_example.weechatlog")
    assert r.messages.select("user", "text").rows() == [
        ("root", "Welcome to the BitlBee gateway!"),
        ("root", "If you've never used BitlBee before, please do read the help information using the help command. "
                 "Lots of FAQ's are answered there.")]
    assert r.messages["t_abs"].to_list() == [datetime(2007, 9, 1, 0, 23, 55, tzinfo=timezone.utc)] * 2
    assert r.stats["not_a_message_status_line"] == 5 and r.stats["not_a_message_log_header"] == 1
    assert sorted(r.rejects["source_line"].to_list()) == [8, 10, 11]


def test_one_api_comment_pretty_printed() -> None:
    """tcd's docs keep one Twitch v5 API comment as the API served it (lirik's VOD 212237951, 2017), pretty-printed:
    a document that is itself the one record (it yielded nothing before). Values as json.load reads them."""
    c = json.loads((REAL / "tcd_v5_comment.json").read_text(encoding="utf-8"))
    m = parse_file(REAL / "tcd_v5_comment.json").messages
    assert m.select("t_s", "user", "user_login", "text", "msg_id").row(0) == (
        c["content_offset_seconds"], c["commenter"]["display_name"], c["commenter"]["name"], c["message"]["body"], c["_id"])
    assert m["t_abs"][0] == datetime(2017, 12, 24, 17, 5, 36, 568000, tzinfo=timezone.utc)  # created_at
    e = c["message"]["emoticons"][0]  # v5 spans are inclusive: "lirikH" is 5..10
    assert m["emotes"].to_list()[0] == [{"id": e["_id"], "begin": e["begin"], "end": e["end"] + 1}]
    assert m["badges"].to_list()[0] == [b["_id"] for b in c["message"]["user_badges"]]


def test_ubuntu_irc_log_bracket_minutes_date_from_name() -> None:
    """Ubuntu's IRC logs (#kubuntu-devel, 2013-01-03; kept by IRCLogParser's tests): `[hh:mm] <nick> text` lines, the
    date from the file name (renamed here from its folder 2013/01/03), `=== ` status lines counted, not rejected."""
    lines = (REAL / "ubuntu_kubuntu-devel_2013-01-03.log").read_text(encoding="utf-8").splitlines()
    r = parse_file(REAL / "ubuntu_kubuntu-devel_2013-01-03.log")
    assert r.stats["not_a_message_status_line"] == sum(ln.startswith("=== ") for ln in lines) == 25
    assert r.meta["date_from"] == "file name"
    m = r.messages.sort("source_line")
    assert m.select("user", "text").row(0) == ("shadeslayer_", "Quintasan_: kio-mtp bugs go to bugs.kde.org")
    assert m["t_abs"][0] == datetime(2013, 1, 3, 5, 26, tzinfo=timezone.utc)
    assert m.select("user", "text").row(-1) == ("Riddell", "yofel: excellent") and m["t_abs"][-1] == datetime(2013, 1, 3, 22, 28, tzinfo=timezone.utc)
    assert m["source_line"].to_list() == [i + 1 for i, ln in enumerate(lines) if ln.startswith("[")]
