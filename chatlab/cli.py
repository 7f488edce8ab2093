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
    "chatlab.ocr.real_bench",
    "chatlab.align.cli",
    "chatlab.review.cli",
    "chatlab.forget_cli",
    "chatlab.bench_memory",
)

# Commands that run stages: the settings file (and the review overrides) are checked first.
READS_SETTINGS = {"materialize", "ui", "train", "export", "generate", "review", "align", "transcribe", "ocr", "cluster-test", "forget", "pools"}


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
        if args.command in READS_SETTINGS:
            from chatlab.config import load_config

            load_config()  # a mistake in the settings is said now, before any run starts
        return int(func(args) or 0)
    except KeyboardInterrupt:
        return 130
    except (OSError, ValueError, LookupError, RuntimeError) as e:
        if args.debug or not user_error(e):
            raise
        # Errors a user can act on: one clear line.
        print(f"chatlab: error: {e} (--debug shows the traceback)", file=sys.stderr)
        return 1


def user_error(e: BaseException) -> bool:
    """Whether ``e`` is a message for the user (one line) rather than a bug (its traceback): an
    OSError (a file missing or unreadable), or an error chatlab raised on purpose: the innermost
    frame is a ``raise`` statement in chatlab's own code. A KeyError or IndexError, or a
    ValueError from deep inside a library or from a built-in call (``int("x")``), is a bug."""
    if isinstance(e, (KeyError, IndexError)):
        return False
    if isinstance(e, OSError):
        return True
    tb = e.__traceback__
    if tb is None:
        return False
    while tb.tb_next is not None:
        tb = tb.tb_next
    import linecache
    from pathlib import Path

    filename = tb.tb_frame.f_code.co_filename
    package = Path(__file__).resolve().parent
    if not Path(filename).resolve().is_relative_to(package):
        return False
    return linecache.getline(filename, tb.tb_lineno).lstrip().startswith("raise")


if __name__ == "__main__":
    sys.exit(main())
