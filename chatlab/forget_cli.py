"""`chatlab forget VOD`: remove a VOD from every table, its artifacts and the Dagster instance."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction, bench_sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("forget", help="remove a VOD: its partition, its rows in every table, its artifacts; "
                       "marks datasets and adapters built from it stale; logged in data/forget.log")
    p.add_argument("vod", help="VOD id")
    p.add_argument("--reason", default="chatlab forget", help="recorded in the log (e.g. who asked)")
    p.add_argument("--delete-inbox-files", action="store_true",
                   help="also delete the VOD's files still in the inbox (else a VOD still there is refused)")
    p.add_argument("--keep-history", action="store_true",
                   help="do not expire older lake snapshots (their Parquet files keep the VOD's rows)")
    p.set_defaults(func=cmd_forget)


def cmd_forget(args: argparse.Namespace) -> int:
    import dagster as dg

    from chatlab import config as cfg
    from chatlab.defs.ingest.forget import instance_step, observe_stale
    from chatlab.forget import forget_vod
    from chatlab.platform_cli import dagster_home

    layout = cfg.layout()
    if not layout.root.exists():
        raise FileNotFoundError(f"{layout.root}: no data directory")
    dagster_home(layout)
    with dg.DagsterInstance.get() as instance:
        report = forget_vod(layout, args.vod, reason=args.reason, instance_step=instance_step(instance),
                            delete_inbox_files=args.delete_inbox_files, purge_history=not args.keep_history)
        observe_stale(instance, report)
    print(report.summary())
    for what in ("artifacts", "inbox_files", "stale"):
        for p in getattr(report, what):
            print(f"  {what.replace('_', ' ')}: {p}")
    print(f"logged in {layout.root / 'forget.log'}")
    return 0
