"""Chat client logs, text/HTML exports and yt-dlp YouTube lines, written by hand in the shapes the
tools' own code writes (no real public sample of these was found; see data/real/SOURCES.md)."""

from __future__ import annotations

import gzip
import json
from datetime import datetime, timezone
from pathlib import Path

from chatlab.chat import parse_file
from chatlab.chat.detect import detect_file

UTC = timezone.utc


def write(tmp: Path, name: str, data: str | bytes) -> Path:
    p = tmp / name
    p.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return p


def test_chatterino_daily_log_date_from_header_and_name(tmp_path: Path) -> None:
    log = ("# Start logging at 2024-05-01 20:00:00 CEST\n"
           "[20:00:05]  ann: hello chat\n"
           "[20:00:06]  bob: time is 12:00: lunch\n"
           "[20:00:07]  bob has been timed out for 10m 0s.\n"
           "[20:00:09] 名前 namae: こんにちは\n")  # a localized name before the login (Chatterino 2019 to 2.4.4)
    p = write(tmp_path, "forsen-2024-05-01.log", log)
    assert detect_file(p) == "chatterino_log"
    r = parse_file(p)
    assert r.rejects.height == 0 and r.messages["text"].to_list() == ["hello chat", "time is 12:00: lunch", "こんにちは"]
    assert r.messages["t_abs"][0] == datetime(2024, 5, 1, 18, 0, 5, tzinfo=UTC)  # CEST = UTC+2
    assert r.messages["user_login"][2] == "namae" and r.stats["not_a_message_status_line"] == 1
    assert "CEST" in r.meta["clock"]
    # no header: the date comes from the file name, the zone is unknown (read as UTC, and said so)
    r = parse_file(write(tmp_path, "forsen-2024-05-02.log", "[23:59:58]  ann: late\n[00:00:03]  bob: after midnight\n"))
    assert r.format == "chatterino_log" and r.meta["date_from"] == "file name" and "read as UTC" in r.meta["clock"]
    assert r.messages["t_abs"].to_list() == [datetime(2024, 5, 2, 23, 59, 58, tzinfo=UTC), datetime(2024, 5, 3, 0, 0, 3, tzinfo=UTC)]
    assert r.stats["day_rollovers_inferred"] == 1


def test_chatterino_line_shapes_by_version_and_setting(tmp_path: Path) -> None:
    """What Chatterino's LoggingChannel writes: one space after the stamp since 2.4.5 (`[hh:mm:ss] login: text`), which
    looks like TwitchDownloader text, so the header decides; Windows writes the zone's long name in the header (logs in
    the wild: "Eastern Standard Time"); a moderator's action is logged as the mod's own line; the stamp is a setting."""
    log = ("# Start logging at 2025-03-06 14:37:36 Eastern Standard Time\n"
           "[14:37:36] connected\n"
           "[14:37:40] ann: hello chat\n"
           "[14:37:41] 名前 namae: こんにちは\n"
           "[14:37:42] somemod: somemod timed out someuser for 7d. \n"
           "[14:37:43] \n"
           "[14:37:44] bob: time is 12:00: lunch\n"
           "# Stop logging at 2025-03-06 14:40:00 Eastern Standard Time\n")
    p = write(tmp_path, "forsen-2025-03-06.log", log)
    assert detect_file(p) == "chatterino_log"
    r = parse_file(p)
    m = r.messages
    assert m.select("user", "user_login", "text").rows() == [("ann", "ann", "hello chat"), ("名前", "namae", "こんにちは"),
                                                             ("bob", "bob", "time is 12:00: lunch")]
    assert m["t_abs"][0] == datetime(2025, 3, 6, 19, 37, 40, tzinfo=UTC)  # EST = UTC-5
    assert r.stats["not_a_message_moderation_line"] == 1 and r.rejects.height == 0
    # 12-hour stamps with milliseconds, and a zone Qt writes as a number
    log = "# Start logging at 2025-03-06 13:00:00 +03\n[1:05:02.250 pm] ann: after lunch\n[11:59:59.000 am] bob: before\n"
    m = parse_file(write(tmp_path, "forsen-2025-03-07.log", log)).messages.sort("source_line")
    assert m["t_abs"].to_list() == [datetime(2025, 3, 6, 10, 5, 2, 250000, tzinfo=UTC), datetime(2025, 3, 6, 8, 59, 59, tzinfo=UTC)]


def test_irssi_log_with_day_change(tmp_path: Path) -> None:
    log = ("--- Log opened Wed May 01 23:58:00 2024\n"
           "23:58 -!- ann [~ann@host] has joined #chan\n"
           "23:59 <@ann> last of the day\n"
           "23:59  * ann waves\n"
           "--- Day changed Thu May 02 2024\n"
           "00:01 < bob> first of the next\n")
    r = parse_file(write(tmp_path, "chan.log", log))
    assert r.format == "irssi_log" and r.rejects.height == 0
    assert r.messages["user"].to_list() == ["ann", "ann", "bob"] and r.messages["msg_type"].to_list() == ["chat", "action", "chat"]
    assert r.messages["t_abs"].to_list()[::2] == [datetime(2024, 5, 1, 23, 59, tzinfo=UTC), datetime(2024, 5, 2, 0, 1, tzinfo=UTC)]


def test_weechat_hexchat_mirc(tmp_path: Path) -> None:
    wee = ("2024-05-01 18:00:00\t-->\tann (~ann@host) has joined #chan\n"
           "2024-05-01 18:00:05\t@ann\thello\tthere\n"
           "2024-05-01 18:00:06\t *\tbob dances\n"
           "2024-05-01 18:00:07\t--\tMode #chan [+o bob]\n")
    r = parse_file(write(tmp_path, "irc.chan.weechatlog", wee))
    assert r.format == "weechat_log" and r.messages["text"].to_list() == ["hello\tthere", "dances"]
    assert r.messages["t_s"].to_list() == [0.0, 1.0] and r.stats["not_a_message_status_line"] == 2
    hex_ = ("**** BEGIN LOGGING AT Wed May  1 18:00:00 2024\n\n"
            "May 01 18:00:00 *\tNow talking on #chan\n"
            "May 01 18:00:05 <ann>\thello\n"
            "May 01 18:00:09 <@bob>\thi ann\n")
    r = parse_file(write(tmp_path, "chan.log", hex_))
    assert r.format == "hexchat_log" and r.messages["t_abs"].to_list() == [datetime(2024, 5, 1, 18, 0, 5, tzinfo=UTC), datetime(2024, 5, 1, 18, 0, 9, tzinfo=UTC)]
    mirc = ("Session Start: Wed May 01 18:00:00 2024\nSession Ident: #chan\n"
            "[18:00] * Now talking in #chan\n[18:00] <ann> hello\n[18:01] <+bob> hey\nSession Close: Wed May 01 19:00:00 2024\n")
    r = parse_file(write(tmp_path, "#chan.log", mirc))
    assert r.format == "mirc_log" and r.messages["user"].to_list() == ["ann", "bob"]
    assert r.messages["t_abs"][1] == datetime(2024, 5, 1, 18, 1, tzinfo=UTC) and r.rejects.height == 0


def test_log_without_any_date_is_relative_and_says_so(tmp_path: Path) -> None:
    r = parse_file(write(tmp_path, "chan.log", "12:00 <ann> one\n12:05 <bob> two\n"))
    assert r.format == "irssi_log" and r.messages["t_s"].to_list() == [0.0, 300.0]
    assert r.meta["date_from"].startswith("nowhere")


def test_tcd_text_and_irc_formats(tmp_path: Path) -> None:
    txt = "[0:00:05] <Ann> hello\n[0:01:10] <Bob> hi: there\n[1 day, 0:00:01] <Cat> long stream\n"
    r = parse_file(write(tmp_path, "123456.txt", txt))
    assert r.format == "tcd_text" and r.messages["t_s"].to_list() == [5.0, 70.0, 86401.0]
    irc = "[0:00:05] <~Streamer> welcome\n[0:00:06] <@Mod> rules\n[0:00:07] *Ann waves]\n"
    r = parse_file(write(tmp_path, "123456.log", irc))
    assert r.format == "tcd_text" and r.messages["user"].to_list() == ["Streamer", "Mod", "Ann"]
    assert r.messages["msg_type"].to_list() == ["chat", "chat", "action"] and r.messages["text"][2] == "waves"
    # tcd's csv format: no header, the body in quotes (quotes inside it are not escaped)
    csv_ = '0:00:05, Ann, "hello, chat"\n0:01:10, Bob, "he said "hi""\n1 day, 0:00:01, Cat, "late"\n'
    r = parse_file(write(tmp_path, "123456.csv", csv_))
    assert r.format == "tcd_text" and r.messages["t_s"].to_list() == [5.0, 70.0, 86401.0]
    assert r.messages["text"].to_list() == ["hello, chat", 'he said "hi"', "late"] and r.rejects.height == 0


def test_tcd_srt_and_ssa_subtitles(tmp_path: Path) -> None:
    # tcd's srt format: "{index}\n{start} --> {stop}\n{Name: body}\n", hours past 24 kept as hours
    srt = ("1\n0:00:05,120 --> 0:00:07,120\nStreamer: hello chat\n\n2\n0:01:10,000 --> 0:01:12,000\nAnn: a: b\n\n"
           "3\n25:00:01,500 --> 25:00:03,500\nBob: late\n\n4\n0:02:00,000 --> 0:02:02,000\n\n5\nstray line\n")
    r = parse_file(write(tmp_path, "123456.srt", srt))
    assert r.format == "tcd_srt" and r.messages["t_s"].to_list() == [5.12, 70.0, 90001.5]
    assert r.messages["user"].to_list() == ["Streamer", "Ann", "Bob"] and r.messages["text"].to_list() == ["hello chat", "a: b", "late"]
    assert sorted(r.reject_counts().items()) == [("no_text", 1), ("unrecognized_line", 1)]  # a cue without text, a stray line
    assert r.stats["not_a_message_subtitle_number"] == 5
    # tcd's ssa format: a [Script Info] header, then Dialogue lines whose text repeats the coloured name
    ssa = ("[Script Info]\nTitle: My stream\nScriptType: v4.00\n\n[V4 Styles]\nFormat: Name, Fontname\nStyle: Default,Arial,21\n\n"
           "[Events]\nFormat: Marked, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text\n"
           "Dialogue: Marked=0,0:00:05.12,0:00:07.12,Default,Streamer,0000,0000,0000,,{\\c&HFF0000&}Streamer {\\c&HFFFFFF&}hello, chat\n"
           "Dialogue: Marked=0,1:00:00.50,1:00:02.50,Default,Ann,0000,0000,0000,,{\\c&H00FF00&}Ann {\\c&HFFFFFF&}hi\\Nthere\n"
           "Dialogue: broken\n")
    for name in ("123456.ssa", "123456.ass"):
        r = parse_file(write(tmp_path, name, ssa))
        assert r.format == "tcd_ssa" and r.messages["t_s"].to_list() == [5.12, 3600.5]
        assert r.messages["user"].to_list() == ["Streamer", "Ann"] and r.messages["text"].to_list() == ["hello, chat", "hi there"]
        assert r.reject_counts() == {"unrecognized_line": 1} and r.stats["not_a_message_subtitle_header"] == 8


def test_inbox_takes_every_chat_export_suffix() -> None:
    from chatlab.ingest.inbox import split_name

    for name in ("s.json", "s.json.gz", "s.jsonl", "s.csv", "s.csv.gz", "s.txt", "s.txt.gz", "s.log", "s.log.gz", "s.irc",
                 "s.html", "s.srt", "s.ssa", "s.ass", "s.live_chat.json", "s.gz"):
        assert split_name(name) == ("s", "chat"), name


def test_twitchdownloader_html_and_text_variants(tmp_path: Path) -> None:
    html = ("<!DOCTYPE html>\n<html><head><title>chat</title></head><body>\n"
            '<pre class="comment-root">[<a href="https://twitch.tv/videos/2001/?t=0h0m5s">0:00:05</a>] <img class="badge-image" title="subscriber">'
            '<span class="text-hide">subscriber</span><a href="https://twitch.tv/ann"><span class="comment-author" style="color: #FF0000">Ann</span></a>'
            '<span class="comment-message">: hi <img class="emote-image first-25" title="Kappa"><span class="text-hide">Kappa</span> &amp; &lt;3 </span></pre>\n'
            '<pre class="comment-root">[<a href="https://twitch.tv/videos/2001/?t=1h0m0s">1:00:00</a>] <a href="https://twitch.tv/namae">'
            '<span class="comment-author">名前 (namae)</span></a><span class="comment-message">: やあ</span></pre>\n</body></html>\n')
    r = parse_file(write(tmp_path, "chat.html", html))
    assert r.format == "twitchdownloader_html" and r.rejects.height == 0
    assert r.messages["text"].to_list() == ["hi Kappa & <3", "やあ"] and r.messages["t_s"].to_list() == [5.0, 3600.0]
    assert r.messages["is_subscriber"][0] and r.messages["user_login"][1] == "namae"
    notime = "Ann: hello\nBob: time: now\n"
    r = parse_file(write(tmp_path, "notime.txt", notime))
    assert r.format == "twitchdownloader_text_notime" and r.messages.height == 0 and r.rejects.height == 2
    assert r.reject_counts() == {"no_time": 2} and "without timestamps" in r.rejects["reason"][0]
    full = "[2024-05-01 18:00:05.250 UTC] Ann: UtcFull\n"
    r = parse_file(write(tmp_path, "full.txt", full), start_time=datetime(2024, 5, 1, 18, tzinfo=UTC))
    assert r.messages["t_s"].to_list() == [5.25]


def yt_line(offset_ms: int, renderer: str, body: dict) -> str:
    return json.dumps({"clickTrackingParams": "CAEQl98BIhMI", "replayChatItemAction": {"actions": [{"clickTrackingParams": "CAEQl98BIhMI",
                       "addChatItemAction": {"item": {renderer: body}, "clientId": "x"}}], "videoOffsetTimeMsec": str(offset_ms)}}, ensure_ascii=False)


def test_yt_dlp_live_chat_emoji_runs_super_chat_membership(tmp_path: Path) -> None:
    base = {"authorName": {"simpleText": "Ann"}, "authorExternalChannelId": "UCann", "timestampUsec": "1714586405000000",
            "authorPhoto": {"thumbnails": []}}
    lines = [
        yt_line(5000, "liveChatTextMessageRenderer", {**base, "id": "m1", "message": {"runs": [
            {"text": "hi "}, {"emoji": {"emojiId": "UCx/abc", "shortcuts": [":_wave:"], "isCustomEmoji": True, "image": {}}},
            {"text": " "}, {"emoji": {"emojiId": "😂", "shortcuts": [":face_with_tears_of_joy:"], "image": {}}}]},
            "authorBadges": [{"liveChatAuthorBadgeRenderer": {"icon": {"iconType": "MODERATOR"}, "tooltip": "Moderator"}},
                             {"liveChatAuthorBadgeRenderer": {"customThumbnail": {"thumbnails": []}, "tooltip": "Member (1 year)"}}]}),
        yt_line(6000, "liveChatPaidMessageRenderer", {**base, "id": "m2", "purchaseAmountText": {"simpleText": "$5.00"},
                                                       "message": {"runs": [{"text": "thanks"}]}}),
        yt_line(7000, "liveChatMembershipItemRenderer", {**base, "id": "m3", "headerSubtext": {"runs": [{"text": "Welcome to "}, {"text": "Chan"}]}}),
        json.dumps({"replayChatItemAction": {"actions": [{"addLiveChatTickerItemAction": {"item": {}}}], "videoOffsetTimeMsec": "7000"}}),
        '{"replayChatItemAction": {"actions": [{"addChatItemAction"',  # cut off
        json.dumps({"replayChatItemAction": {"actions": [{"markChatItemAsDeletedAction": {"targetItemId": "m1"}}], "videoOffsetTimeMsec": "8000"}}),
    ]
    p = write(tmp_path, "vid.live_chat.json", "\n".join(lines) + "\n")
    assert detect_file(p) == "youtube_live_chat"
    r = parse_file(p)
    m = r.messages
    assert m["text"].to_list() == ["hi :_wave: 😂", "[super chat: $5.00] thanks", "[membership: Welcome to Chan]"]
    assert m["emotes"][0].to_list() == [{"id": "UCx/abc", "begin": 3, "end": 10}, {"id": "😂", "begin": 11, "end": 12}]
    assert m["t_s"].to_list() == [5.0, 6.0, 7.0] and m["t_abs"][0] == datetime(2024, 5, 1, 18, 0, 5, tzinfo=UTC)
    assert m["msg_type"].to_list() == ["chat", "notice", "notice"] and m["is_moderator"][0] and m["is_subscriber"][0]
    assert m["moderated"].to_list() == [True, False, False]
    assert r.reject_counts() == {"invalid_json": 1} and r.rejects["source_index"][0] == 4
    # the same lines gzipped, with NUL bytes: same messages
    raw = ("\n".join(lines) + "\n").encode().replace(b'"thanks"', b'"tha\x00nks"')
    r = parse_file(write(tmp_path, "vid.live_chat.json.gz", gzip.compress(raw)))
    assert r.messages["text"].to_list()[1] == "[super chat: $5.00] thanks" and r.stats["nul_bytes_removed"] == 1


def test_line_paths_stream_huge_lines_and_latin1(tmp_path: Path) -> None:
    """A 20 MB message (over one block) and a latin-1 line in a UTF-8 client log: read, nothing lost."""
    big = "A" * (20 << 20)
    data = ("[20:00:05]  ann: " + big + "\n").encode() + "[20:00:06]  bob: caf\xe9\n".encode("latin-1") + b"[20:00:07]  cat: ok\n"
    r = parse_file(write(tmp_path, "chan-2024-05-01.log", data))
    assert r.format == "chatterino_log" and r.messages.height == 3 and r.rejects.height == 0
    assert len(r.messages["text"][0]) == len(big) and r.messages["text"].to_list()[1:] == ["café", "ok"]
    assert r.messages["source_line"].to_list() == [1, 2, 3] and r.stats["lines_reencoded_latin1"] == 1


def test_bad_input_on_the_new_paths(tmp_path: Path) -> None:
    """Gzip bombs, truncated gzip, a JSONL that turns into a log halfway: clear errors or rejects, no crash."""
    line = yt_line(5000, "liveChatTextMessageRenderer", {"id": "m1", "authorName": {"simpleText": "Ann"}, "timestampUsec": "1714586405000000",
                                                          "message": {"runs": [{"text": "hi"}]}})
    bomb = write(tmp_path, "bomb.live_chat.json.gz", gzip.compress(((line + "\n") * 20000).encode()))
    r = parse_file(bomb, max_bytes=1 << 20)
    assert r.messages.height == 0 and r.rejects.height == 1 and "size cap" in r.rejects["reason"][0]
    log = "".join(f"[20:00:{i % 60:02d}]  u{i}: message {i}\n" for i in range(2000)).encode()
    cut = gzip.compress(log)[:-200]
    r = parse_file(write(tmp_path, "chan-2024-05-01.log.gz", cut))
    assert r.format == "chatterino_log" and 0 < r.messages.height < 2000 and r.messages["text"][0] == "message 0"
    mixed = line + "\n" + "[0:00:05] Ann: a text line in a JSONL file\n" + line.replace('"m1"', '"m2"') + "\n"
    r = parse_file(write(tmp_path, "mixed.live_chat.json", mixed))
    assert r.messages["msg_id"].to_list() == ["m1", "m2"] and r.reject_counts() == {"invalid_json": 1}
    assert r.rejects["raw"][0].startswith("[0:00:05] Ann")
