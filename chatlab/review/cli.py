"""`chatlab review [--port P] [--host H] [VOD]` and `chatlab bench review`."""

from __future__ import annotations

import argparse
import ipaddress
import secrets
import socket

from chatlab.review import DEFAULT_PORT

LOOPBACK = "127.0.0.1"


def register(sub: argparse._SubParsersAction, bench_sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("review", help="the review page: waveform, transcript and aligned chat of each VOD; corrections re-run it")
    p.add_argument("vod", nargs="?", help="open this VOD's page (default: the VOD list)")
    p.add_argument("--port", type=int, default=DEFAULT_PORT)
    p.add_argument("--host", default=LOOPBACK, help="address to bind; anything but loopback requires a token")
    p.add_argument("--token", help="access token for a non-loopback address (default: a random one, printed)")
    p.set_defaults(func=cmd_review)
    b = bench_sub.add_parser("review", help="a synthetic 10-hour VOD with 1,000,000 messages in headless chromium: time to interactive, zoom and scroll")
    b.add_argument("--hours", type=float, default=10.0)
    b.add_argument("--messages", type=int, default=1_000_000)
    b.add_argument("--keep", help="keep the synthetic data directory here (default: a temporary one)")
    b.set_defaults(func=cmd_bench)


def is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(socket.gethostbyname(host)).is_loopback
    except (OSError, ValueError):
        return False


def cmd_review(args: argparse.Namespace) -> int:
    import uvicorn

    from chatlab import config as cfg
    from chatlab.review.app import build_app
    from chatlab.review.data import check_vod_id

    layout = cfg.layout()
    if not layout.root.exists():
        raise FileNotFoundError(f"{layout.root}: no data directory; run `chatlab demo` and `chatlab materialize` first")
    from chatlab.platform_cli import dagster_home

    dagster_home(layout)  # saved corrections start runs in this data directory's instance
    token = None
    if not is_loopback(args.host):
        token = args.token or secrets.token_urlsafe(18)
    path = f"/vod/{check_vod_id(args.vod)}" if args.vod else "/"
    url = f"http://{args.host}:{args.port}{path}" + (f"?token={token}" if token else "")
    print(f"chatlab review of {layout.root} on {url} (Ctrl-C stops it; the tables are read first)", flush=True)
    uvicorn.run(build_app(layout, token, preload=args.vod), host=args.host, port=args.port, log_level="warning")
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from chatlab.review.bench import bench_review

    out = bench_review(hours=args.hours, messages=args.messages, keep=args.keep)
    for k, v in out.items():
        print(f"{k}: {v}")
    return 0
