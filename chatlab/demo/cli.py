"""``chatlab demo``: write demo streams (media, chat export, ground truth) into the inbox."""

from __future__ import annotations

import argparse
import sys
import time


def register(sub: argparse._SubParsersAction, bench_sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="generate demo streams with known ground truth into the inbox",
                       description="Synthesize streams (speech, reacting chat, video) and their ground truth. "
                                   "The same seed gives the same chat and truth files.")
    p.add_argument("--streams", type=int, default=1, metavar="N", help="how many streams (default 1)")
    p.add_argument("--minutes", type=float, default=3.0, metavar="M", help="length of each stream (default 3)")
    p.add_argument("--seed", type=int, default=0, metavar="S", help="seed of the first stream; stream i uses S+i (default 0)")
    p.add_argument("--out", metavar="DIR", help="output folder (default: the data layout's inbox)")
    p.add_argument("--audio-only", action="store_true", help="write <name>.wav instead of an mp4 with video")
    p.add_argument("--overlay", action="store_true", help="draw the chat into the video, as OCR input")
    p.set_defaults(func=_demo)


def _demo(args: argparse.Namespace) -> int:
    from pathlib import Path

    from chatlab.config import layout
    from chatlab.demo import make_demo

    if args.streams < 1:
        raise ValueError(f"--streams must be at least 1, got {args.streams}")
    if args.minutes <= 0:
        raise ValueError(f"--minutes must be positive, got {args.minutes}")
    if args.seed < 0:
        raise ValueError(f"--seed must be >= 0, got {args.seed}")
    out = Path(args.out) if args.out else layout().inbox  # read here: --data is applied before commands run
    started = time.perf_counter()

    def progress(msg: str) -> None:
        print(f"  [{time.perf_counter() - started:5.1f} s] {msg}", file=sys.stderr, flush=True)

    streams = make_demo(out, streams=args.streams, minutes=args.minutes, seed=args.seed, progress=progress,
                        video=not args.audio_only, overlay=args.overlay)
    for s in streams:
        print(f"{s.name}: {s.media.name} {s.chat.name} {s.truth.name} ({s.duration_s:.1f} s) in {out}")
    return 0
