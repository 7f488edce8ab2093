"""Chat client logs and text exports that carry a clock time per line and the date elsewhere.

- Chatterino daily files: ``# Start logging at 2024-05-01 18:00:00 CEST`` (on Windows the zone's long name,
  ``Eastern Standard Time``), then ``[18:00:05] login: text``, ``[18:00:05]  login: text`` (2019 to 2.4.4) or
  ``[18:00:05] 名前 login: text``; the date also comes from the file name (``…-2024-05-01.log``).
- irssi: ``--- Log opened Wed May 01 18:00:00 2024`` / ``--- Day changed Thu May 02 2024``,
  ``18:00 <@nick> text``, `` * nick waves`` (action).
- WeeChat: ``2024-05-01 18:00:05<TAB>@nick<TAB>text``; ``-->``/``<--``/``--`` are status lines. WeeChat 0.2
  (2007) wrote ``****  Beginning of log  2007 Sep 01 00:23:55  ****`` and ``2007 Sep 01 00:23:55  <nick> text``.
- HexChat/XChat: ``**** BEGIN LOGGING AT Wed May  1 18:00:00 2024``, ``May 01 18:00:05 <nick><TAB>text`` (XChat: a space
  after the nick, the month in the locale's spelling, the header translated).
- mIRC: ``Session Start: Wed May 01 18:00:00 2024``, ``[18:00] <nick> text``; Ubuntu's IRC logs have the same
  lines, ``=== nick is now known as ...`` status lines and no header (the date from the file name).
- Twitch-Chat-Downloader (tcd) text and irc formats: ``[0:00:05] <~Name> text`` (offsets), its csv format
  ``0:00:05, Name, "text"`` (no header); its subtitle
  formats: SRT (``1`` / ``0:00:05,120 --> 0:00:07,120`` / ``Name: text``) and SSA/ASS
  (``Dialogue: Marked=0,0:00:05.12,0:00:07.12,Default,Name,0000,0000,0000,,{\\c&H..&}Name {\\c&HFFFFFF&}text``).
- TwitchDownloader HTML: one ``<pre class="comment-root">`` per comment, time as ``h:mm:ss``.
- TwitchDownloader text without timestamps: ``Name: text`` (recognized; every line is rejected
  as having no time, since a message without a time cannot be placed in the VOD).

Status lines (joins, parts, day changes, timeouts as text) are counted, not rejected; a line that
does not even open like a line of the format (its time stamp or header) is rejected. The
clock of a client log is the logging machine's local time: a zone named in the header is
used when known, else the time is read as UTC (and the metadata says so).
"""

from __future__ import annotations

import html
import re
from collections import Counter
from collections.abc import Iterable
from datetime import date, datetime, timedelta, timezone

from chatlab.chat.fields import rows_frame

import polars as pl

FORMATS = ("chatterino_log", "irssi_log", "weechat_log", "hexchat_log", "mirc_log", "tcd_text", "tcd_srt", "tcd_ssa",
           "twitchdownloader_html", "twitchdownloader_text_notime")
SUBTITLES = ("tcd_srt", "tcd_ssa")

# Zone abbreviations a header may name (Chatterino writes the abbreviation of the local zone).
ZONES = {"UTC": 0, "GMT": 0, "Z": 0, "WET": 0, "BST": 1, "CET": 1, "CEST": 2, "WEST": 1, "EET": 2, "EEST": 3, "MSK": 3,
         "EST": -5, "EDT": -4, "CST": -6, "CDT": -5, "MST": -7, "MDT": -6, "PST": -8, "PDT": -7, "JST": 9, "KST": 9, "IST": 5.5,
         "AEST": 10, "AEDT": 11, "BRT": -3}
# Qt's timeZoneAbbreviation() on Windows gives the zone's long name (real logs: "Eastern Daylight Time").
WINDOWS_ZONES = {"Coordinated Universal Time": 0, "GMT Standard Time": 0, "GMT Daylight Time": 1, "Greenwich Standard Time": 0,
                 "W. Europe Standard Time": 1, "W. Europe Daylight Time": 2, "Central Europe Standard Time": 1,
                 "Central Europe Daylight Time": 2, "Central European Standard Time": 1, "Central European Daylight Time": 2,
                 "Romance Standard Time": 1, "Romance Daylight Time": 2, "E. Europe Standard Time": 2, "E. Europe Daylight Time": 3,
                 "FLE Standard Time": 2, "FLE Daylight Time": 3, "GTB Standard Time": 2, "GTB Daylight Time": 3, "Russian Standard Time": 3,
                 "Eastern Standard Time": -5, "Eastern Daylight Time": -4, "Central Standard Time": -6, "Central Daylight Time": -5,
                 "Mountain Standard Time": -7, "Mountain Daylight Time": -6, "Pacific Standard Time": -8, "Pacific Daylight Time": -7,
                 "Alaskan Standard Time": -9, "Alaskan Daylight Time": -8, "Atlantic Standard Time": -4, "Atlantic Daylight Time": -3,
                 "E. South America Standard Time": -3, "Tokyo Standard Time": 9, "Korea Standard Time": 9,
                 "AUS Eastern Standard Time": 10, "AUS Eastern Daylight Time": 11}
_NUMERIC_ZONE = re.compile(r"^([+-])(\d{2}):?(\d{2})?$")  # Qt on Linux writes "+03" for a zone without an abbreviation
_MON = {m: i + 1 for i, m in enumerate("Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split())}
_NICK = r"[ @+%~&!$*]?(?P<user>[^>\s]+)"

HEADER = {
    "chatterino_log": re.compile(r"^# Start logging at (\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})(?: (.+?))?\s*$"),
    "irssi_log": re.compile(r"^--- (?:Log opened|Day changed) \w{3} (\w{3}) +(\d{1,2})(?: [\d:]+)? (\d{4})"),
    # BEGIN/ENDING LOGGING AT, or its translation (XChat's Italian build writes "INIZIO DEL LOG"); the date is ctime's, in English
    "hexchat_log": re.compile(r"^\*\*\*\* [^*]*?\b\w{3} (\w{3}) +(\d{1,2}) \d{2}:\d{2}:\d{2} (\d{4})\s*$"),
    "mirc_log": re.compile(r"^Session Start: \w{3} (\w{3}) +(\d{1,2}) [\d:]+ (\d{4})"),
}
MESSAGE = {
    # "[hh:mm:ss] " then, by Chatterino version: "login: text" (up to 2019 and from 2.4.5, Aug 2023) or
    # "<localized name> login: text" with an empty localized name for most users ("]  login: text", 2019 to 2.4.4).
    # The stamp is a setting: h/hh, seconds and milliseconds optional, am/pm.
    "chatterino_log": re.compile(r"^\[(?P<h>\d{1,2}):(?P<m>\d{2})(?::(?P<s>\d{2})(?P<ms>\.\d{3})?)?(?: ?(?P<ap>[AaPp][Mm]))?\] "
                                 r"(?:(?P<loc>[^\s:]*) )?(?P<login>[A-Za-z0-9_]+): (?P<text>.*)$"),
    "irssi_log": re.compile(r"^(?P<h>\d{2}):(?P<m>\d{2})(?::(?P<s>\d{2}))? <" + _NICK + r"> (?P<text>.*)$"),
    "weechat_log": re.compile(r"^(?P<date>\d{4}-\d{2}-\d{2}) (?P<h>\d{2}):(?P<m>\d{2}):(?P<s>\d{2})\t[@+%~&!]?(?P<user>[^\t]*)\t(?P<text>.*)$"),
    # the month is strftime's %b in the user's locale (lower case in some); XChat put a space after the nick, HexChat a tab
    "hexchat_log": re.compile(r"^(?P<mon>[A-Za-z]{3}) +(?P<day>\d{1,2}) (?P<h>\d{2}):(?P<m>\d{2}):(?P<s>\d{2}) +<" + _NICK + r">(?:[\t ](?P<text>.*))?$"),
    "mirc_log": re.compile(r"^\[(?P<h>\d{2}):(?P<m>\d{2})(?::(?P<s>\d{2}))?\] <" + _NICK + r"> (?P<text>.*)$"),
    "tcd_text": re.compile(r"^\[(?:(?P<d>\d+) days?, )?(?P<h>\d+):(?P<m>\d{2}):(?P<s>\d{2})(?:\.\d+)?\] <" + _NICK + r"> (?P<text>.*)$"),
    "twitchdownloader_html": re.compile(r'^\s*<pre class="comment-root">\[(?:<a [^>]*>)?(?:(?P<h>\d+):)?(?P<m>\d{1,2}):(?P<s>\d{2})(?:</a>)?\] (?P<rest>.*)</pre>\s*$'),
    "twitchdownloader_text_notime": re.compile(r"^(?P<user>[^\s:\[\]]+)(?: \((?P<login>[A-Za-z0-9_]+)\))?: (?P<text>.*)$"),
}
# tcd's csv format: "{timestamp[relative]}, {commenter[display_name]}, \"{message[body]}\"", no header
_TCD_CSV = re.compile(r'^(?:(?P<d>\d+) days?, )?(?P<h>\d+):(?P<m>\d{2}):(?P<s>\d{2})(?:\.\d+)?, (?P<user>[^,\s]+), "(?P<text>.*)"$')
ACTION = {
    "irssi_log": re.compile(r"^(?P<h>\d{2}):(?P<m>\d{2})(?::(?P<s>\d{2}))? +\* (?P<user>\S+) (?P<text>.*)$"),
    "tcd_text": re.compile(r"^\[(?:(?P<d>\d+) days?, )?(?P<h>\d+):(?P<m>\d{2}):(?P<s>\d{2})\] \*(?P<user>\S+) (?P<text>.*?)\]?$"),
}
_WEECHAT_STATUS = ("-->", "<--", "--", "=!=", "", " ")
# WeeChat 0.2's lines, rewritten into the current tab-separated form before matching.
_WEECHAT_OLD = re.compile(r"^(?P<y>\d{4}) (?P<mon>[A-Z][a-z]{2}) (?P<d>\d{2}) (?P<t>\d{2}:\d{2}:\d{2})  (?:<(?P<nick>[^>\s]+)> ?|(?P<status>\S+) )(?P<text>.*)$")
_WEECHAT_OLD_HEADER = re.compile(r"^\*\*\*\*  (Beginning|End) of log  \d{4} \w{3} \d{2} \d{2}:\d{2}:\d{2}  \*\*\*\*\s*$")
# How every line of a format opens (a message, a status line or a header); other lines are not of the log.
LINE_START = {
    "chatterino_log": re.compile(r"^\[\d{1,2}:\d{2}|^# "),
    "irssi_log": re.compile(r"^\d{2}:\d{2}|^--- "),
    "weechat_log": re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\t"),
    "hexchat_log": re.compile(r"^[A-Za-z]{3} +\d{1,2} \d{2}:\d{2}:\d{2} |^\*\*\*\* "),
    "mirc_log": re.compile(r"^\[\d{2}:\d{2}|^Session |^=== "),  # `=== `: status lines of Ubuntu's IRC logs (same line shape)
    "tcd_text": re.compile(r"^\[|^(\d+ days?, )?\d+:\d{2}:\d{2}"),
}
_MOD_ACTION = re.compile(r"^\S+ (timed out|untimedout|banned|unbanned) \S+")
_FILE_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_AUTHOR = re.compile(r'<span class="comment-author"[^>]*>(?P<user>.*?)</span>')
_BODY = re.compile(r'<span class="comment-message">: (?P<text>.*)</span>', re.S)
_HIDE = re.compile(r'<img [^>]*>\s*<span class="text-hide">(.*?)</span>')
_TAGS = re.compile(r"<[^>]+>")
_BADGE = re.compile(r'<span class="text-hide">([^<]*)</span>')

# Signs in the first lines that a file is in one of these formats (detect.py votes with them).
SIGNS = {
    "chatterino_log": re.compile(r"^# Start logging at |^\[\d{1,2}:\d{2}(:\d{2})?(\.\d{3})?( ?[AaPp][Mm])?\]  \S"),
    "irssi_log": re.compile(r"^--- Log opened |^--- Day changed |^\d{2}:\d{2}(:\d{2})? <[ @+%~&]?[^>\s]+> |^\d{2}:\d{2}(:\d{2})? -!- "),
    "weechat_log": re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\t|^\*\*\*\*  Beginning of log  \d{4} |^\d{4} [A-Z][a-z]{2} \d{2} \d{2}:\d{2}:\d{2}  "),
    "hexchat_log": re.compile(r"^\*\*\*\* (BEGIN|ENDING) LOGGING AT |^\*\*\*\* [^*]+ \w{3} \w{3} +\d{1,2} \d{2}:\d{2}:\d{2} \d{4}\s*$"
                              r"|^[A-Za-z]{3} +\d{1,2} \d{2}:\d{2}:\d{2} +(<[^>\s]+>|\*)[\t ]"),
    "mirc_log": re.compile(r"^Session (Start|Close|Ident): |^\[\d{2}:\d{2}(:\d{2})?\] (<[ @+%~&]?[^>\s]+>|\*) "),
    "tcd_text": re.compile(r'^\[(\d+ days?, )?\d+:\d{2}:\d{2}\] (<[~@%+$!*&]?[^>\s]+>|\*\S) |^(\d+ days?, )?\d+:\d{2}:\d{2}(\.\d+)?, [^,\s]+, "'),
    "twitchdownloader_html": re.compile(r'<pre class="comment-root">'),
    "tcd_srt": re.compile(r"^\d+:\d{2}:\d{2},\d{3} --> \d+:\d{2}:\d{2},\d{3}\s*$"),
    "tcd_ssa": re.compile(r"^\[Script Info\]\s*$|^Dialogue: (Marked=)?\d+,\d+:\d{2}:\d{2}\.\d{2},"),
}
# A subtitle cue's start: SRT's "h:mm:ss,mmm --> ..." line, SSA/ASS's Dialogue line (fields 2 and 5 are start and name).
_SRT_CUE = re.compile(r"^(?P<h>\d+):(?P<m>\d{2}):(?P<s>\d{2}),(?P<ms>\d{3}) --> \d+:\d{2}:\d{2},\d{3}\s*$")
_SSA_CUE = re.compile(r"^Dialogue: (?:Marked=)?\d+,(?P<h>\d+):(?P<m>\d{2}):(?P<s>\d{2})\.(?P<cs>\d{2}),[^,]*,[^,]*,(?P<user>[^,]*),"
                      r"[^,]*,[^,]*,[^,]*,[^,]*,(?P<text>.*)$")
_SSA_OVERRIDE = re.compile(r"\{\\[^}]*\}")  # {\c&HFF0000&}: colour and style codes inside the text


def _zone(abbr: str | None) -> tuple[timezone | None, str]:
    hours = None
    if abbr and abbr.upper() in ZONES:
        hours = ZONES[abbr.upper()]
    elif abbr in WINDOWS_ZONES:
        hours = WINDOWS_ZONES[abbr]
    elif abbr and (n := _NUMERIC_ZONE.match(abbr)):
        hours = (1 if n.group(1) == "+" else -1) * (int(n.group(2)) + int(n.group(3) or 0) / 60)
    if hours is not None:
        return timezone(timedelta(hours=hours)), f"local time, zone {abbr} from the header"
    return None, "local time of the logging client" + (f" (zone {abbr!r} not known)" if abbr else " (zone not written)") + ", read as UTC"


def _header_date(fmt: str, m: re.Match) -> date:
    g = m.groups()
    if fmt == "chatterino_log":
        return date(int(g[0]), int(g[1]), int(g[2]))
    return date(int(g[2]), _MON.get(g[0], 1), int(g[1]))


def _html_message(rest: str) -> tuple[str | None, str | None, list[str]]:
    a, b = _AUTHOR.search(rest), _BODY.search(rest)
    if not a or not b:
        return None, None, []
    badges = [x.lower() for x in _BADGE.findall(rest[: a.start()])]
    text = _TAGS.sub("", _HIDE.sub(r"\1", b.group("text")))
    user = html.unescape(_TAGS.sub("", a.group("user"))).strip()
    return user, html.unescape(text).rstrip(" "), badges


def parse_subtitles(fmt: str, lines: Iterable[tuple[int, str]], stats: Counter, rejects: list[dict]) -> pl.DataFrame:
    """tcd's SRT and SSA/ASS outputs: one cue per message, its start the offset into the VOD."""
    rows: list[dict] = []
    pending: tuple[int, float, str] | None = None  # SRT: the cue line waiting for its text line
    index = 0

    def reject(ln: int, reason: str, raw: str) -> None:
        nonlocal index
        rejects.append({"source_line": ln, "source_index": index, "reason": reason, "raw": raw})
        index += 1

    def add(ln: int, t: float, user: str, text: str, raw: str) -> None:
        nonlocal index
        if not user.strip() or not text.strip():
            reject(ln, "no_text: a subtitle cue without a name or text", raw)
            return
        rows.append({"t_s": t, "t_abs": None, "user": user.strip(), "user_login": user.strip().lower(), "text": text,
                     "source_line": ln, "source_index": index})
        index += 1

    for ln, line in lines:
        line = line.rstrip("\r")
        if fmt == "tcd_ssa":
            m = _SSA_CUE.match(line)
            if m is None:
                if line.startswith("Dialogue:"):
                    reject(ln, "unrecognized_line: an SSA/ASS Dialogue line without start, name and text fields", line)
                elif line.strip():
                    stats["not_a_message_subtitle_header"] += 1
                continue
            t = int(m["h"]) * 3600 + int(m["m"]) * 60 + int(m["s"]) + int(m["cs"]) / 100
            text = _SSA_OVERRIDE.sub("", m["text"]).replace("\\N", " ").replace("\\n", " ")
            user = m["user"]
            if user and text.startswith(user + " "):
                text = text[len(user) + 1:]  # tcd writes the name again, coloured, before the text
            add(ln, t, user, text, line)
            continue
        if not line.strip():
            continue
        if (m := _SRT_CUE.match(line)) is not None:
            if pending is not None:
                reject(pending[0], "no_text: an SRT cue without a text line", pending[2])
            pending = (ln, int(m["h"]) * 3600 + int(m["m"]) * 60 + int(m["s"]) + int(m["ms"]) / 1000, line)
        elif pending is not None and line.strip().isdigit():  # the next cue's number: this cue had no text
            reject(pending[0], "no_text: an SRT cue without a text line", pending[2])
            pending = None
            stats["not_a_message_subtitle_number"] += 1
        elif pending is not None:
            user, sep, text = line.partition(": ")
            if sep:
                add(ln, pending[1], user, text, line)
            else:
                reject(ln, "unrecognized_line: an SRT cue's text is not `Name: text`", line)
            pending = None
        elif line.strip().isdigit():
            stats["not_a_message_subtitle_number"] += 1
        else:
            reject(ln, "unrecognized_line: a line outside any SRT cue", line)
    if pending is not None:
        reject(pending[0], "no_text: an SRT cue without a text line", pending[2])
    return rows_frame(rows)


def parse_lines(fmt: str, lines: Iterable[tuple[int, str]], file_name: str, stats: Counter, rejects: list[dict], meta: dict) -> pl.DataFrame:
    """(line number, text) pairs of one log in file order -> PARSED rows."""
    if fmt in SUBTITLES:
        return parse_subtitles(fmt, lines, stats, rejects)
    rx, act, head = MESSAGE[fmt], ACTION.get(fmt), HEADER.get(fmt)
    relative = fmt in ("tcd_text", "twitchdownloader_html")
    fd = _FILE_DATE.search(file_name)
    day: date | None = date(int(fd.group(1)), int(fd.group(2)), int(fd.group(3))) if fd and not relative else None
    if day is not None:
        meta["date_from"] = "file name"
    tz, clock = _zone(None)
    last_tod: float | None = None
    rows: list[dict] = []
    index = 0
    for ln, line in lines:
        line = line.rstrip("\r")
        if not line.strip():
            continue
        if fmt == "weechat_log" and "\t" not in line:
            if _WEECHAT_OLD_HEADER.match(line):
                stats["not_a_message_log_header"] += 1
                continue
            if (o := _WEECHAT_OLD.match(line)) and o["mon"] in _MON:
                who = o["nick"] if o["nick"] is not None else o["status"]
                line = f"{o['y']}-{_MON.get(o['mon'], 0):02d}-{o['d']} {o['t']}\t{who}\t{o['text']}"
        if fmt in LINE_START and not LINE_START[fmt].match(line.lstrip()):
            rejects.append({"source_line": ln, "source_index": index, "reason": f"unrecognized_line: not a line of a {fmt} (no time stamp or header)", "raw": line})
            index += 1
            continue
        if head is not None and (h := head.match(line)):
            day = _header_date(fmt, h)
            meta.setdefault("date_from", "log header")
            if fmt == "chatterino_log":
                tz, clock = _zone(h.group(7))
            last_tod = None
            stats["not_a_message_log_header"] += 1
            continue
        m = rx.match(line)
        kind = "chat"
        if m is None and act is not None:
            m, kind = act.match(line), "action"
        if m is None and fmt == "tcd_text":
            m, kind = _TCD_CSV.match(line), "chat"
        if m is None:
            if fmt == "twitchdownloader_text_notime" or (fmt == "twitchdownloader_html" and "comment-root" in line):
                rejects.append({"source_line": ln, "source_index": index, "reason": f"unrecognized_line: not a {fmt} message line", "raw": line})
                index += 1
            elif fmt == "twitchdownloader_html":
                stats["not_a_message_html_markup"] += 1
            else:
                stats["not_a_message_status_line"] += 1
            continue
        g = m.groupdict()
        if fmt == "twitchdownloader_text_notime":
            rejects.append({"source_line": ln, "source_index": index, "raw": line,
                            "reason": "no_time: TwitchDownloader text export without timestamps; export again with Relative or UTC timestamps"})
            index += 1
            continue
        if fmt == "weechat_log":
            g["user"] = g["user"].strip()
        if fmt == "weechat_log" and (g["user"] in _WEECHAT_STATUS or g["user"].startswith(("-", "<", "=")) or " " in g["user"]):
            stats["not_a_message_status_line"] += 1
            continue
        if fmt == "weechat_log" and g["user"] == "*":  # action: "nick does something"
            kind = "action"
            g["user"], _, g["text"] = g["text"].partition(" ")
        badges: list[str] = []
        if fmt == "twitchdownloader_html":
            user, text, badges = _html_message(g["rest"])
            if user is None:
                rejects.append({"source_line": ln, "source_index": index, "reason": "unrecognized_line: a comment without author or message span", "raw": line})
                index += 1
                continue
            login = None
            pm = re.match(r"^(.*) \(([A-Za-z0-9_]+)\)$", user)
            if pm:
                user, login = pm.group(1), pm.group(2)
        elif fmt == "chatterino_log":
            user, text, login = g["loc"] or g["login"], g["text"], g["login"]
            if _MOD_ACTION.match(text) and text.split(" ", 1)[0].lower() == login.lower():
                stats["not_a_message_moderation_line"] += 1  # "mod: mod timed out someone for 7d." is Chatterino's own notice
                continue
            if g["ap"]:
                g["h"] = str(int(g["h"]) % 12 + (12 if g["ap"].lower() == "pm" else 0))
        else:
            user, text, login = g["user"], g["text"], g.get("login")
        if not (text or "").strip():
            rejects.append({"source_line": ln, "source_index": index, "reason": "no_text: a message line without text", "raw": line})
            index += 1
            continue
        if not relative and (int(g.get("h") or 0) > 23 or int(g.get("m") or 0) > 59 or int(g.get("s") or 0) > 59):
            rejects.append({"source_line": ln, "source_index": index, "reason": "bad_time: the time of day is not a clock time", "raw": line})
            index += 1
            continue
        tod = int(g.get("h") or 0) * 3600 + int(g.get("m") or 0) * 60 + int(g.get("s") or 0) + int(g.get("d") or 0) * 86400
        tod += float(g.get("ms") or 0)
        t_s = t_abs = None
        if relative:
            t_s = float(tod)
        else:
            if fmt == "weechat_log":
                day = date.fromisoformat(g["date"])
            elif fmt == "hexchat_log" and day is not None:
                prev = day
                day = date(day.year, _MON.get(g["mon"].title(), day.month), int(g["day"]))
                if day < prev - timedelta(days=180):  # "Jan 01" after a December header: the next year
                    day = date(day.year + 1, day.month, day.day)
            if last_tod is not None and tod < last_tod - 6 * 3600 and fmt not in ("weechat_log", "hexchat_log"):
                stats["day_rollovers_inferred"] += 1  # midnight passed without a day-change line
                if day is not None:
                    day += timedelta(days=1)
                else:
                    tod += 86400
            last_tod = tod
            if day is not None:
                t_abs = (datetime(day.year, day.month, day.day, tzinfo=tz or timezone.utc) + timedelta(seconds=tod)).astimezone(timezone.utc)
            else:
                t_s = float(tod)  # no date anywhere: seconds since midnight, made relative below
        rows.append({"t_s": t_s, "t_abs": t_abs, "user": user, "user_login": (login or user).lower(), "text": text, "badges": badges,
                     "msg_type": kind, "source_line": ln, "source_index": index})
        index += 1
    df = rows_frame(rows)
    if not relative:
        meta["clock"] = clock
        if day is None and df.height:
            meta["date_from"] = "nowhere: no date in the file or its name; times are seconds from the first message"
            df = df.with_columns(pl.col("t_s") - pl.col("t_s").min())
    return df
