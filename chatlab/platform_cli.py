"""Platform commands: `ingest`, `materialize`, `status`, `pools`, `ui`."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

from chatlab import config as cfg
from chatlab.files import replacing

REPO_ROOT = Path(__file__).resolve().parents[1]


def register(sub: argparse._SubParsersAction, bench_sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("ingest", help="copy a VOD (and its chat export) into the inbox")
    p.add_argument("path", type=Path, help="video or audio file")
    p.add_argument("--chat", type=Path, help="chat export that belongs to it (copied beside it, same stem)")
    p.add_argument("--name", help="VOD id to use instead of the file's stem ([a-z0-9_-]{1,64})")
    p.set_defaults(func=cmd_ingest)

    p = sub.add_parser("materialize", help="register the inbox's VODs and build every per-VOD asset, in this process")
    p.add_argument("vods", nargs="*", help="VOD ids (default: every VOD in the inbox)")
    p.add_argument("--in-this-process", action="store_true", help=argparse.SUPPRESS)  # the supervised worker
    p.set_defaults(func=cmd_materialize)

    p = sub.add_parser("status", help="the VODs, what was built for each, and table row counts")
    p.set_defaults(func=cmd_status)

    p = bench_sub.add_parser("faults", help="kill -9 `chatlab materialize`, and runs the daemon launched, at random moments; "
                             "re-run (or run_retries); compare every table with a clean run")
    p.add_argument("--trials", type=int, default=20, help="kills inside a run, per mode (default 20)")
    p.add_argument("--mode", choices=("materialize", "daemon", "both"), default="both",
                   help="kill `chatlab materialize` and run it again, or kill runs the daemon launched (default: both)")
    p.add_argument("--streams", type=int, default=1, help="demo streams (default 1)")
    p.add_argument("--minutes", type=float, default=2.0, help="length of each demo stream (default 2)")
    p.add_argument("--seed", type=int, default=0, help="demo seed and kill-time seed")
    p.add_argument("--work", type=Path, help="scratch folder (default data/bench/faults, emptied first)")
    p.set_defaults(func=cmd_bench_faults)

    p = bench_sub.add_parser("backfill", help="N VODs by one process, then by 2 and 4 concurrent runs on the same tables")
    p.add_argument("--vods", type=int, default=20)
    p.add_argument("--concurrency", type=int, nargs="+", default=[2, 4])
    p.add_argument("--minutes", type=float, default=0.5, help="length of each demo stream (default 0.5)")
    p.add_argument("--seed", type=int, default=100)
    p.add_argument("--work", type=Path, help="scratch folder (default data/bench/backfill, emptied first)")
    p.set_defaults(func=cmd_bench_backfill)

    p = bench_sub.add_parser("formats", help="DuckLake vs one Parquet file per partition: write, read-all, read-one times")
    p.add_argument("--partitions", type=int, default=100)
    p.add_argument("--rows", type=int, default=1000)
    p.add_argument("--work", type=Path, help="scratch folder (default data/bench/formats, emptied first)")
    p.set_defaults(func=cmd_bench_formats)

    p = sub.add_parser("cluster-test", help="the demo VODs on the embedded default and on PostgreSQL + Celery workers + the daemon; compare every table")
    p.add_argument("--streams", type=int, default=2)
    p.add_argument("--minutes", type=float, default=2.0)
    p.add_argument("--work", type=Path, help="scratch folder (default data/cluster-test, emptied first)")
    p.add_argument("--timeout", type=float, default=900, help="seconds each side may take")
    p.add_argument("--kill", type=int, default=0, metavar="N",
                   help="kill -9 N run workers at random moments during the backfill (run monitoring + run_retries must recover)")
    p.add_argument("--kill-worker", type=int, default=0, metavar="N",
                   help="kill -9 N Celery pool processes while they run a step (the runs are the sensor's)")
    p.add_argument("--whole-worker", action="store_true", help="with --kill-worker: kill every process of the worker, then start it again")
    p.add_argument("--seed", type=int, default=0, help="demo seed and kill-time seed")
    p.set_defaults(func=cmd_cluster_test)

    p = sub.add_parser("pools", help="set every pool the assets use (asr, ocr, train) to dagster.yaml's default limit on the "
                       "instance in $DAGSTER_HOME; a cluster runs it once before its first run")
    p.set_defaults(func=cmd_pools)

    p = sub.add_parser("storage", help="the lake's upkeep")
    st = p.add_subparsers(dest="storage_cmd", required=True)
    c = st.add_parser("compact", help="merge small Parquet files, expire old snapshots that no training set, adapter, evaluation "
                      "or export records, delete the files no snapshot uses")
    c.add_argument("--keep-hours", type=float, default=24.0, help="never expire a snapshot younger than this (default 24)")
    c.add_argument("--dry-run", action="store_true", help="say what would be expired, change nothing")
    c.set_defaults(func=cmd_storage_compact)

    p = sub.add_parser("ui", help="Dagster webserver + daemon (the inbox sensor runs) on the local instance")
    p.add_argument("--port", type=int, default=3000)
    p.add_argument("--host", default="127.0.0.1",
                   help="address to bind; the Dagster UI has no login, so anything but loopback needs --allow-remote")
    p.add_argument("--allow-remote", action="store_true",
                   help="bind a non-loopback --host although anyone who reaches it can add partitions and run or wipe assets")
    p.set_defaults(func=cmd_ui)


def dagster_home(layout: cfg.Layout) -> Path:
    """data/dagster_home with the project's dagster.yaml in it; sets $DAGSTER_HOME."""
    home = layout.dagster_home
    home.mkdir(parents=True, exist_ok=True)
    src = REPO_ROOT / "dagster.yaml"
    dst = home / "dagster.yaml"
    if src.exists() and (not dst.exists() or dst.read_bytes() != src.read_bytes()):
        shutil.copyfile(src, dst)
    elif not dst.exists():
        dst.write_text("telemetry:\n  enabled: false\n")
    os.environ["DAGSTER_HOME"] = str(home)
    return home


def copy_into(src: Path, dst: Path) -> None:
    """Copy under a hidden temp name, then rename: the sensor never sees a half-copied file."""
    with replacing(dst) as tmp:
        shutil.copyfile(src, tmp)


def cmd_ingest(args: argparse.Namespace) -> int:
    from chatlab.ingest.inbox import CHAT_SUFFIXES, is_valid_vod_id, split_name, vod_id_from_stem

    src: Path = args.path
    if not src.is_file():
        raise FileNotFoundError(f"{src}: no such file")
    parts = split_name(src.name)
    if parts is None or parts[1] != "media":
        raise ValueError(f"{src}: not a supported video or audio file")
    stem = args.name or parts[0]
    if args.name and not is_valid_vod_id(args.name):
        raise ValueError(f"--name {args.name!r}: a VOD id is 1-64 characters of a-z, 0-9, '_' or '-'")
    inbox = cfg.layout().ensure().inbox
    ext = src.name[len(parts[0]) :]
    dst = inbox / f"{stem}{ext}"
    if dst.exists():
        raise FileExistsError(f"{dst}: already in the inbox; choose another --name")
    copy_into(src, dst)
    print(f"{src} -> {dst} (VOD id {vod_id_from_stem(stem)!r})")
    if args.chat:
        if not args.chat.is_file():
            raise FileNotFoundError(f"{args.chat}: no such file")
        lower = args.chat.name.lower()
        suffix = next((s for s in CHAT_SUFFIXES if lower.endswith(s)), args.chat.suffix)
        chat_dst = inbox / f"{stem}{suffix}"
        copy_into(args.chat, chat_dst)
        print(f"{args.chat} -> {chat_dst}")
    return 0


def cmd_materialize(args: argparse.Namespace) -> int:
    from chatlab.runner import materialize_vods

    layout = cfg.layout().ensure()
    dagster_home(layout)
    if not args.in_this_process:
        return _supervised_materialize(args, layout)
    results = materialize_vods(layout, args.vods or None, log=print)
    failed = [r for r in results if not r.success]
    print()
    print_status(layout)
    return 1 if failed else 0


def _supervised_materialize(args: argparse.Namespace, layout: cfg.Layout) -> int:
    """The runs go on in a child process group; this one only waits. Dagster's in-process
    executor captures SIGTERM and, while a step waits for a pool slot, never looks at it (seen
    polling 20 minutes after a SIGTERM). So a SIGTERM/SIGINT here stops the child (SIGTERM, then
    SIGKILL after a grace period), and its runs are marked failed and their pool slots freed."""
    import dagster as dg

    from chatlab.process_group import run_group
    from chatlab.runner import reap_dead_runs

    cmd = [sys.executable, "-m", "chatlab.cli", *(["--debug"] if getattr(args, "debug", False) else []),
           "materialize", "--in-this-process", *args.vods]
    rc = run_group(cmd, env=dict(os.environ, CHATLAB_DATA=str(layout.root)), grace_s=MATERIALIZE_GRACE_S)
    if rc == 130:
        with dg.DagsterInstance.get() as instance:
            for line in reap_dead_runs(instance):
                print(line, flush=True)
        print("chatlab materialize: stopped", file=sys.stderr, flush=True)
    return rc


# How long a stopped `chatlab materialize` lets its runs end by themselves before killing them.
MATERIALIZE_GRACE_S = 10.0


def cmd_status(args: argparse.Namespace) -> int:
    layout = cfg.layout()
    dagster_home(layout)
    print_status(layout)
    return 0


def cmd_pools(args: argparse.Namespace) -> int:
    import dagster as dg

    from chatlab.definitions import defs
    from chatlab.defs.pools import asset_pools, set_pool_limits

    if not os.environ.get("DAGSTER_HOME"):
        dagster_home(cfg.layout())
    with dg.DagsterInstance.get() as instance:
        for pool, limit in set_pool_limits(instance, asset_pools(defs)).items():
            print(f"pool {pool}: {limit}")
    return 0


def print_status(layout: cfg.Layout) -> None:
    from chatlab.runner import status_table

    print(status_table(layout))


def cmd_bench_faults(args: argparse.Namespace) -> int:
    import json

    from chatlab.storage.bench import faults

    modes = ("materialize", "daemon") if args.mode == "both" else (args.mode,)
    out = faults(args.trials, args.streams, args.minutes, args.seed, args.work, modes=modes)
    print(json.dumps({m: {k: v for k, v in out[m].items() if k != "per_trial"} for m in modes}, indent=2))
    ok = True
    for m in modes:
        s = out[m]
        ok &= s["identical"] == s["trials"] and not s["hangs"] and s["marked_failed"] == s["slots_freed"] == s["killed_inside_a_run"]
        ok &= m != "daemon" or s["retried"] == s["killed_inside_a_run"]
    return 0 if ok else 1


def cmd_bench_backfill(args: argparse.Namespace) -> int:
    import json

    from chatlab.storage.bench import backfill

    out = backfill(args.vods, tuple(args.concurrency), args.minutes, args.seed, args.work)
    print(json.dumps(out, indent=2))
    return 0 if all(not out[f"runs_{n}"]["differences"] and not out[f"runs_{n}"]["lock_failures"] for n in args.concurrency) else 1


def cmd_bench_formats(args: argparse.Namespace) -> int:
    from chatlab.storage.bench import formats

    formats(args.partitions, args.rows, args.work)
    return 0


def cmd_cluster_test(args: argparse.Namespace) -> int:
    from chatlab.storage.cluster import cluster_test

    out = cluster_test(args.streams, args.minutes, seed=args.seed, work=args.work, timeout=args.timeout, kills=args.kill,
                       worker_kills=args.kill_worker, whole_worker=args.whole_worker)
    return 0 if not out["differences"] else 1


def cmd_storage_compact(args: argparse.Namespace) -> int:
    from chatlab.storage import lake_config
    from chatlab.storage.compact import compact, missing_recorded

    layout = cfg.layout().ensure()
    lake = lake_config(layout)
    report = compact(layout, lake, keep_hours=args.keep_hours, dry_run=args.dry_run)
    if args.dry_run:
        print(f"dry run, nothing changed: would expire snapshots {', '.join(map(str, report.expired)) or 'none'}")
    else:
        print(report.summary())
    for snap, who in sorted(missing_recorded(layout, lake).items()):
        print(f"note: snapshot {snap}, recorded by {', '.join(who)}, is no longer in the lake (expired by `chatlab forget`); "
              "that dataset cannot be rebuilt from the lake", file=sys.stderr)
    return 0


def cmd_ui(args: argparse.Namespace) -> int:
    from chatlab.process_group import run_group
    from chatlab.review.cli import is_loopback

    if not is_loopback(args.host) and not args.allow_remote:
        # Unlike the review page (a token off loopback), dagster dev cannot check a token.
        raise ValueError(f"--host {args.host}: the Dagster UI has no login, so anyone who reaches it could add partitions "
                         "and run or wipe assets; bind 127.0.0.1 (and tunnel, e.g. ssh -L) or pass --allow-remote")
    layout = cfg.layout().ensure()
    home = dagster_home(layout)
    exe = Path(sys.executable).with_name("dagster")
    cmd = [str(exe), "dev", "-h", args.host, "-p", str(args.port)]
    workspace = REPO_ROOT / "workspace.yaml"
    cmd += ["-w", str(workspace)] if workspace.exists() else ["-m", "chatlab.definitions"]
    print(f"DAGSTER_HOME={home}\nDagster UI on http://{args.host}:{args.port} (Ctrl-C stops it)", flush=True)
    env = dict(os.environ, CHATLAB_DATA=str(layout.root))
    # Its own process group, stopped whole on any exit of ours (dagster dev alone left its webserver,
    # daemon and code server running when this process was killed).
    return run_group(cmd, env=env, cwd=REPO_ROOT if workspace.exists() else None)
