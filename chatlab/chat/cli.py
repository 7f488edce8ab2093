"""`chatlab chat parse FILE [--json]` and `chatlab bench chat`."""

from __future__ import annotations

import argparse
import json
import sys

# The fields DESIGN.md promises for `chat parse --json`, then a few more that come free.
JSON_FIELDS = ("msg_id", "t_s", "user", "text", "badges", "emotes", "is_command", "is_bot", "t_abs", "emote_only", "bits", "msg_type", "source_line", "source_index")


def register(sub: argparse._SubParsersAction, bench_sub: argparse._SubParsersAction) -> None:
    chat = sub.add_parser("chat", help="read chat exports (TwitchDownloader, Twitch API/GQL, chat-downloader, yt-dlp YouTube, Kick, IRC, client logs, text, CSV)")
    chat.set_defaults(func=lambda _a: chat.print_help() or 2)
    chat_sub = chat.add_subparsers(dest="chat_command", metavar="COMMAND")
    p = chat_sub.add_parser("parse", help="parse any supported chat export; a summary of parsed/rejected goes to stderr")
    p.add_argument("file", help="chat export (format detected from content; gzip is fine)")
    p.add_argument("--json", action="store_true", help="one JSON object per message on stdout")
    p.add_argument("--start-time", help="VOD start (ISO 8601, UTC if no zone) for formats with wall-clock times")
    p.add_argument("--rejects", action="store_true", help="also print the rejected records (JSON, on stderr)")
    p.set_defaults(func=_parse)
    b = bench_sub.add_parser("chat", help="parse + clean a generated export of N messages: messages/s, peak memory")
    b.add_argument("--messages", type=int, default=1_000_000)
    b.add_argument("--file", help="benchmark this export instead of a generated one")
    b.add_argument("--keep", action="store_true", help="keep the generated file (its path is printed)")
    b.add_argument("--no-baseline", action="store_true", help="skip the json.load baseline")
    b.set_defaults(func=_bench)


def _parse(args: argparse.Namespace) -> int:
    from datetime import datetime, timezone
    from pathlib import Path

    import polars as pl

    from chatlab.chat import parse_file

    path = Path(args.file)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    start = None
    if args.start_time:
        start = datetime.fromisoformat(args.start_time.replace("Z", "+00:00"))
        start = start if start.tzinfo else start.replace(tzinfo=timezone.utc)
    r = parse_file(path, start_time=start, start_source="--start-time")
    out = sys.stdout
    if args.json:
        df = r.messages.select(JSON_FIELDS).with_columns(pl.col("t_abs").dt.to_string("%Y-%m-%dT%H:%M:%S%.6fZ"))
        df.write_ndjson(out)
    else:
        for t, user, text in r.messages.select("t_s", "user", "text").iter_rows():
            s = int(t)
            out.write(f"[{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}] {user}: {text}\n")
    out.flush()
    if args.rejects and r.rejects.height:
        for row in r.rejects.iter_rows(named=True):
            print(json.dumps(row, ensure_ascii=False), file=sys.stderr)
    print(r.summary(), file=sys.stderr)
    file_failed = r.messages.height == 0 and r.rejects.height > 0
    if file_failed and r.rejects.height == 1:
        print(r.rejects["reason"][0], file=sys.stderr)  # the whole file failed: say why
    return 1 if file_failed else 0


def _bench(args: argparse.Namespace) -> int:
    from chatlab.chat.bench import run

    res = run(args.messages, file=args.file, keep=args.keep, do_baseline=not args.no_baseline)
    print(json.dumps(res, indent=2))
    return 0
