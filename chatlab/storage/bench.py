"""`chatlab bench faults` and `chatlab bench backfill`: the tables under kill -9 and under several
concurrent runs, on demo streams in a scratch folder, through the real `chatlab` command.

faults: one clean `chatlab materialize` gives the reference tables; then each trial starts
`chatlab materialize`, kills its whole process group with SIGKILL at a random moment, and runs
`chatlab materialize` again (a hang counts as a failure); every table must then equal the
reference (same rows, no duplicates). Every fifth trial starts from an empty data directory.

backfill: the same VODs materialized by 1 process (sequential), then split over N processes
(N concurrent runs on the same lake); wall times, lock/conflict failures, tables compared.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from chatlab.chat.privacy import SALT_FILE
from chatlab.config import layout as make_layout
from chatlab.storage.compare import digest_tables, differences
from chatlab.storage.lake import lake_config

CHATLAB = [sys.executable, "-m", "chatlab.cli"]
LOCK_WORDS = ("could not set lock", "database is locked", "conflict", "lakewriteconflict")


def _env(data: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHATLAB_LAKE_")}
    env.update(CHATLAB_DATA=str(data), DAGSTER_HOME=str(data / "dagster_home"))
    return env


def _materialize(data: Path, vods: list[str] | None = None, timeout: float = 1800) -> tuple[float, str]:
    t0 = time.monotonic()
    r = subprocess.run([*CHATLAB, "materialize", *(vods or [])], env=_env(data), capture_output=True, text=True, timeout=timeout)
    return time.monotonic() - t0, r.stdout + r.stderr


def _demo(inbox: Path, streams: int, minutes: float, seed: int) -> None:
    inbox.mkdir(parents=True, exist_ok=True)
    subprocess.run([*CHATLAB, "demo", "--streams", str(streams), "--minutes", str(minutes), "--seed", str(seed), "--out", str(inbox)],
                   check=True, capture_output=True, text=True)


def _fresh(data: Path, inbox: Path, like: Path | None = None) -> None:
    """An empty data directory with the inbox; with the salt of ``like`` (the user hashes are
    salted per data directory, and two directories of one project must hash users alike)."""
    if data.exists():
        shutil.rmtree(data)
    shutil.copytree(inbox, data / "inbox")
    if like is not None:
        shutil.copyfile(like / SALT_FILE, data / SALT_FILE)
    # The instance's SQLite storage is created once here: processes creating it at once race.
    subprocess.run([*CHATLAB, "status"], env=_env(data), check=True, capture_output=True, text=True)


def _digest(data: Path):
    return digest_tables(lake_config(make_layout(data), storage={}), [str(data)])


def _killed_step(data: Path) -> str:
    """The step that was running when the killed run died (from its run's event log)."""
    import dagster as dg

    instance = dg.DagsterInstance.from_config(str(data / "dagster_home"))
    try:
        for run in instance.get_runs(dg.RunsFilter(statuses=[dg.DagsterRunStatus.FAILURE]), limit=5):
            ends = instance.all_logs(run.run_id, of_type=dg.DagsterEventType.RUN_FAILURE)
            if any("is gone" in (e.dagster_event.message or "") for e in ends if e.dagster_event):
                starts = instance.all_logs(run.run_id, of_type=dg.DagsterEventType.STEP_START)
                return starts[-1].step_key if starts else "before any step"
    finally:
        instance.dispose()
    return "between runs"


def faults(trials: int = 20, streams: int = 1, minutes: float = 2.0, seed: int = 0, work: Path | None = None,
           log: Callable[[str], None] = print) -> dict[str, Any]:
    work = Path(work or Path.cwd() / "data" / "bench" / "faults").resolve()
    shutil.rmtree(work, ignore_errors=True)
    inbox = work / "inbox"
    _demo(inbox, streams, minutes, seed)
    ref = work / "clean"
    _fresh(ref, inbox)
    t_clean, out = _materialize(ref)
    want = _digest(ref)
    if not want or want.get("vod_source") is None or want["vod_source"].rows != streams:
        raise RuntimeError(f"the clean run built no complete tables to compare against:\n{out[-3000:]}")
    log(f"clean run: {t_clean:.1f} s; tables: " + ", ".join(f"{t} {d.rows}" for t, d in want.items()))
    rng = random.Random(seed)
    data = work / "trial"
    rows: list[dict[str, Any]] = []
    i = -1
    # `trials` kills that land inside a run (a kill after the run ended is no fault); at most 3x as many tries.
    while sum(r["killed"] for r in rows) < trials and len(rows) < 3 * trials:
        i += 1
        if i % 5 == 0:
            _fresh(data, inbox, like=ref)
        # A re-run can be quicker than the first run (finished steps' files are reused), so kills
        # are drawn over the typical re-run so far, to land inside a run rather than after it.
        reruns = sorted(r["rerun_s"] for r in rows if r["rerun_s"] == r["rerun_s"])
        typical = reruns[len(reruns) // 2] if reruns else t_clean
        at = rng.uniform(0.5, typical * 0.95)
        p = subprocess.Popen([*CHATLAB, "materialize"], env=_env(data), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             start_new_session=True)
        try:
            p.wait(timeout=at)
            killed = False
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
            killed = True
        try:
            t_re, out = _materialize(data, timeout=max(300.0, 4 * t_clean))
            hang = False
        except subprocess.TimeoutExpired:
            t_re, out, hang = float("nan"), "", True
        step = _killed_step(data) if killed else "-"
        diff = ["re-run hung"] if hang else differences(want, _digest(data))
        locks = sum(out.lower().count(w) for w in LOCK_WORDS)
        rows.append({"trial": i + 1, "kill_at_s": round(at, 1), "killed": killed, "killed_in": step,
                     "reaped": "marked failed" in out, "rerun_s": round(t_re, 1), "lock_messages": locks, "differences": diff})
        log(f"trial {i + 1:2d}: kill at {at:5.1f} s ({step if killed else 'run had finished'}); "
            f"re-run {t_re:.1f} s{', dead run marked failed' if 'marked failed' in out else ''}: "
            + ("identical" if not diff else "; ".join(diff)))
    summary = {
        "trials": len(rows), "killed_midway": sum(r["killed"] for r in rows), "hangs": sum(r["rerun_s"] != r["rerun_s"] for r in rows),
        "identical": sum(not r["differences"] for r in rows), "lock_messages": sum(r["lock_messages"] for r in rows),
        "clean_s": round(t_clean, 1), "steps_killed_in": sorted({r["killed_in"] for r in rows if r["killed"]}), "per_trial": rows,
    }
    log(f"{summary['identical']}/{len(rows)} trials identical to the clean run, {summary['killed_midway']} killed mid-run, "
        f"{summary['hangs']} hangs, {summary['lock_messages']} lock messages; killed in: {', '.join(summary['steps_killed_in'])}")
    return summary


def backfill(vods: int = 20, concurrency: tuple[int, ...] = (2, 4), minutes: float = 0.5, seed: int = 100,
             work: Path | None = None, log: Callable[[str], None] = print) -> dict[str, Any]:
    work = Path(work or Path.cwd() / "data" / "bench" / "backfill").resolve()
    shutil.rmtree(work, ignore_errors=True)
    inbox = work / "inbox"
    _demo(inbox, vods, minutes, seed)
    ids = sorted(p.name.split(".")[0] for p in inbox.glob("*.mp4"))
    results: dict[str, Any] = {"vods": len(ids), "minutes_each": minutes}
    ref = work / "sequential"
    _fresh(ref, inbox)
    t_seq, out = _materialize(ref)
    want = _digest(ref)
    if want.get("vod_source") is None or want["vod_source"].rows != len(ids):
        raise RuntimeError(f"the sequential run built no complete tables to compare against:\n{out[-3000:]}")
    results["sequential_s"] = round(t_seq, 1)
    results["sequential_failed_steps"] = out.lower().count("  failed ")
    log(f"{len(ids)} VODs of {minutes} min, one process: {t_seq:.1f} s")
    for n in concurrency:
        data = work / f"runs_{n}"
        _fresh(data, inbox, like=ref)
        t0 = time.monotonic()
        procs = [subprocess.Popen([*CHATLAB, "materialize", *ids[k::n]], env=_env(data), stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True) for k in range(n)]
        outs = [p.communicate()[0] for p in procs]
        wall = time.monotonic() - t0
        text = "\n".join(outs).lower()
        locks = sum(text.count(w) for w in LOCK_WORDS)
        failed_steps = text.count("  failed ")  # steps that failed (a check that did not pass counts too)
        diff = differences(want, _digest(data))
        results[f"runs_{n}"] = {"wall_s": round(wall, 1), "speedup": round(t_seq / wall, 2), "lock_failures": locks,
                                "failed_steps": failed_steps, "differences": diff}
        log(f"{n} concurrent runs: {wall:.1f} s ({t_seq / wall:.2f}x sequential), lock/conflict messages {locks}, "
            f"tables {'identical to sequential' if not diff else '; '.join(diff)}")
    return results


def formats(partitions: int = 100, rows: int = 1000, work: Path | None = None, log: Callable[[str], None] = print) -> dict[str, Any]:
    """The two ways issue 15 allowed, on the same frames: DuckLake (replace_rows, one transaction
    per partition) and one Parquet file per partition (written to a temporary name and renamed,
    the layout dagster-polars writes) read through a DuckDB view over the folder. Times one write
    per partition, a whole-table read, and one partition's read."""
    import duckdb
    import polars as pl

    from chatlab.storage.lake import LakeConfig, connect, replace_rows

    work = Path(work or Path.cwd() / "data" / "bench" / "formats").resolve()
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    frames = [pl.DataFrame({"vod_id": [f"v{k:04d}"] * rows, "t_s": [i * 0.5 for i in range(rows)],
                            "text": [f"message {i} of {k}" for i in range(rows)]}) for k in range(partitions)]
    out: dict[str, Any] = {"partitions": partitions, "rows_each": rows}
    lake = LakeConfig(f"sqlite:{work / 'lake.sqlite'}", str(work / "lake") + "/")
    t0 = time.perf_counter()
    for f in frames:
        replace_rows(lake, "t", f, "vod_id", [f["vod_id"][0]])
    out["ducklake_write_ms"] = round((time.perf_counter() - t0) / partitions * 1000, 1)
    with connect(lake=lake) as con:
        t0 = time.perf_counter()
        n = con.execute("SELECT count(*), sum(t_s) FROM chatlab.t").fetchone()[0]
        out["ducklake_read_all_ms"] = round((time.perf_counter() - t0) * 1000, 1)
        t0 = time.perf_counter()
        con.execute("SELECT * FROM chatlab.t WHERE vod_id = 'v0042'").pl()
        out["ducklake_read_one_ms"] = round((time.perf_counter() - t0) * 1000, 1)
    assert n == partitions * rows
    folder = work / "parquet" / "t"
    folder.mkdir(parents=True)
    t0 = time.perf_counter()
    for f in frames:
        tmp = folder / f".{f['vod_id'][0]}.parquet.tmp"
        f.write_parquet(tmp)
        tmp.replace(folder / f"{f['vod_id'][0]}.parquet")
    out["parquet_write_ms"] = round((time.perf_counter() - t0) / partitions * 1000, 1)
    con = duckdb.connect()
    con.execute(f"CREATE VIEW t AS SELECT * FROM read_parquet('{folder}/*.parquet')")
    t0 = time.perf_counter()
    n = con.execute("SELECT count(*), sum(t_s) FROM t").fetchone()[0]
    out["parquet_read_all_ms"] = round((time.perf_counter() - t0) * 1000, 1)
    t0 = time.perf_counter()
    con.execute("SELECT * FROM t WHERE vod_id = 'v0042'").pl()
    out["parquet_read_one_ms"] = round((time.perf_counter() - t0) * 1000, 1)
    con.close()
    assert n == partitions * rows
    log(", ".join(f"{k} {v}" for k, v in out.items()))
    return out
