"""The ``chatlab`` command. Each stage registers its own subcommands (``register(sub, bench)``
in ``chatlab/<stage>/cli.py``); heavy imports happen inside the commands, so ``--help`` is instant."""

from __future__ import annotations

import argparse
import importlib
import sys

# Modules that add subcommands; each has register(subparsers, bench_subparsers).
COMMAND_MODULES = (
    "chatlab.platform_cli",
    "chatlab.demo.cli",
    "chatlab.asr.cli",
    "chatlab.chat.cli",
    "chatlab.train.cli",
    "chatlab.ocr.cli",
    "chatlab.align.cli",
    "chatlab.review.cli",
    "chatlab.forget_cli",
    "chatlab.bench_memory",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="chatlab", description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--data", help="data directory (default: $CHATLAB_DATA or ./data)")
    parser.add_argument("--debug", action="store_true", help="show the full traceback of any error")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    bench = sub.add_parser("bench", help="benchmarks that print figures and the ratio to their baseline")
    bench_sub = bench.add_subparsers(dest="bench", metavar="WHAT")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as e:
            if not (e.name and name.startswith(e.name)):  # a missing dependency, not a missing stage
                raise
            continue
        module.register(sub, bench_sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.data:
        import os

        os.environ["CHATLAB_DATA"] = args.data
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 2
    try:
        return int(func(args) or 0)
    except KeyboardInterrupt:
        return 130
    except (OSError, ValueError, LookupError, RuntimeError) as e:
        # A KeyError or IndexError is a bug in chatlab, not something the user can act on.
        if args.debug or isinstance(e, (KeyError, IndexError)):
            raise
        # Errors a user can act on: one clear line.
        print(f"chatlab: error: {e} (--debug shows the traceback)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
