"""`chatlab bench faults` and `chatlab bench backfill`: the tables under kill -9 and under several
concurrent runs, on demo streams in a scratch folder, through the real `chatlab` command.

faults: one clean `chatlab materialize` gives the reference tables. Then, in mode
``materialize``, each trial starts `chatlab materialize`, kills it with
SIGKILL at a random moment (every process of it at once, the supervised run child included), and
runs `chatlab materialize` again (a hang counts as a failure);
every fifth trial starts from an empty data directory. In mode ``daemon``, each trial starts from
an empty data directory with `dagster-daemon run` on the local instance: the inbox sensor starts
the VOD's run, and at a random moment inside it one of three things is killed with SIGKILL (in
turn): the run worker with its step processes, the run worker alone (its step processes go on),
or the daemon's whole process group (daemon, code server, run) with the daemon started again.
Run monitoring must mark the dead run failed and free its pool slots, and ``run_retries`` must
run it again to success. After each trial every table must equal the reference (same rows, no
duplicates), and the artifacts folder must hold no half-written file.

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
from chatlab.process_group import process_tree
from chatlab.storage.cluster import BIN, REPO_ROOT
from chatlab.config import layout as make_layout
from chatlab.storage.compare import digest_tables, differences
from chatlab.storage.lake import SCHEMA, lake_config

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
            if any(w in (e.dagster_event.message or "") for e in ends if e.dagster_event for w in ("is gone", "interrupted")):
                starts = instance.all_logs(run.run_id, of_type=dg.DagsterEventType.STEP_START)
                return starts[-1].step_key if starts else "before any step"
    finally:
        instance.dispose()
    return "between runs"


def _partial_files(data: Path) -> list[str]:
    """Files under artifacts/ that a writer left half-done (the temporary names chatlab's writers
    rename into place when whole)."""
    root = data / "artifacts"
    if not root.is_dir():
        return []
    return sorted(str(p.relative_to(data)) for p in root.rglob("*")
                  if p.is_file() and (p.suffix == ".tmp" or ".tmp" in p.name or p.name.startswith(".")))


MODES = ("materialize", "daemon")


def faults(trials: int = 20, streams: int = 1, minutes: float = 2.0, seed: int = 0, work: Path | None = None,
           log: Callable[[str], None] = print, modes: tuple[str, ...] = MODES) -> dict[str, Any]:
    """Both modes (see the module doc) on the same demo VODs and the same clean reference;
    returns {mode: summary} plus the clean run's figures, and prints each mode's trials table."""
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
    result: dict[str, Any] = {"clean_s": round(t_clean, 1), "tables": {t: d.rows for t, d in want.items()}}
    for mode in modes:
        if mode not in MODES:
            raise ValueError(f"faults mode {mode!r}: expected one of {', '.join(MODES)}")
        run = _faults_materialize if mode == "materialize" else _faults_daemon
        rows = run(trials, work, inbox, ref, want, t_clean, seed, log)
        result[mode] = _summary(rows, log, mode)
    return result


def _summary(rows: list[dict[str, Any]], log: Callable[[str], None], mode: str) -> dict[str, Any]:
    cols = ("trial", "kill", "kill_at_s", "killed_in", "marked_failed", "slots_freed", "retried", "rerun_s", "lock_messages")
    table = [cols] + [tuple(str(r.get(c, "-")) for c in cols) + ("identical" if not r["differences"] else "; ".join(r["differences"]),)
                      for r in rows]
    table[0] = cols + ("tables",)
    widths = [max(len(t[i]) for t in table) for i in range(len(table[0]))]
    log(f"--- {mode}: trials")
    for t in table:
        log("  ".join(c.ljust(w) for c, w in zip(t, widths)).rstrip())
    killed = [r for r in rows if r["killed"]]
    in_run = [r for r in killed if r.get("marked_failed") != "-"]  # a run was there to die
    summary = {
        "trials": len(rows), "killed_midway": len(killed), "killed_inside_a_run": len(in_run),
        "hangs": sum(r["rerun_s"] != r["rerun_s"] for r in rows),
        "identical": sum(not r["differences"] for r in rows),
        "marked_failed": sum(r.get("marked_failed") is True for r in in_run),
        "slots_freed": sum(r.get("slots_freed") is True for r in in_run),
        "retried": sum(r.get("retried") is True for r in in_run),
        "lock_messages": sum(r["lock_messages"] for r in rows),
        "steps_killed_in": sorted({r["killed_in"] for r in killed}), "per_trial": rows,
    }
    log(f"--- {mode}: {summary['identical']}/{len(rows)} trials identical to the clean run, {summary['killed_midway']} killed "
        f"mid-run, {len(in_run)} inside a run ({summary['marked_failed']} marked failed, {summary['slots_freed']} with pool slots freed"
        + (f", {summary['retried']} retried by run_retries" if mode == "daemon" else "") + f"), {summary['hangs']} hangs, "
        f"{summary['lock_messages']} lock messages; killed in: {', '.join(summary['steps_killed_in']) or '-'}")
    return summary


def _faults_materialize(trials: int, work: Path, inbox: Path, ref: Path, want: dict, t_clean: float, seed: int,
                        log: Callable[[str], None]) -> list[dict[str, Any]]:
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
            # Every process at once (the command, its supervised run child in its own process
            # group, the watchdog), as a power cut or the OOM killer would: nothing is left to
            # stop the run cleanly, so it stays STARTED until the next command finds it dead.
            _kill(process_tree(p.pid))
            p.wait()
            killed = True
        try:
            t_re, out = _materialize(data, timeout=max(300.0, 4 * t_clean))
            hang = False
        except subprocess.TimeoutExpired:
            t_re, out, hang = float("nan"), "", True
        step = _killed_step(data) if killed else "-"
        diff = ["re-run hung"] if hang else differences(want, _digest(data)) + [f"half-written {p}" for p in _partial_files(data)]
        locks = sum(out.lower().count(w) for w in LOCK_WORDS)
        in_run = killed and step != "between runs"
        rows.append({"trial": i + 1, "kill": "materialize group", "kill_at_s": round(at, 1), "killed": killed, "killed_in": step,
                     "marked_failed": ("marked failed" in out) if in_run else "-",
                     "slots_freed": (not hang and _slots_held(data) == set()) if in_run else "-",
                     "rerun_s": round(t_re, 1), "lock_messages": locks, "differences": diff})
        log(f"trial {i + 1:2d}: kill at {at:5.1f} s ({step if killed else 'run had finished'}); "
            f"re-run {t_re:.1f} s{', dead run marked failed' if 'marked failed' in out else ''}: "
            + ("identical" if not diff else "; ".join(diff)))
    return rows


def _instance(data: Path):
    import dagster as dg

    return dg.DagsterInstance.from_config(str(data / "dagster_home"))


def _slots_held(data: Path) -> set[str]:
    instance = _instance(data)
    try:
        return set(instance.event_log_storage.get_concurrency_run_ids())
    finally:
        instance.dispose()


def _kill(pids: list[int]) -> None:
    for p in pids:
        try:
            os.kill(p, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _start_daemon(data: Path, logs: Path) -> subprocess.Popen:
    env = dict(_env(data), PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    return subprocess.Popen([str(BIN / "dagster-daemon"), "run", "-w", str(REPO_ROOT / "workspace.yaml")], cwd=REPO_ROOT, env=env,
                            stdout=open(logs, "a"), stderr=subprocess.STDOUT, start_new_session=True)


def _stop_daemon(p: subprocess.Popen) -> None:
    """At the end of a trial, when no run is left: the data directory is thrown away, so the
    daemon and everything under it are killed rather than stopped."""
    _kill(process_tree(p.pid) if p.poll() is None else [])
    try:
        os.killpg(p.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    p.wait()


KILLS = ("run worker and its steps", "run worker alone", "daemon group")


def _faults_daemon(trials: int, work: Path, inbox: Path, ref: Path, want: dict, t_clean: float, seed: int,
                   log: Callable[[str], None]) -> list[dict[str, Any]]:
    """Trials through the daemon (see the module doc): every trial in a fresh data directory,
    its run started by the inbox sensor, killed, marked failed by run monitoring, retried by
    run_retries; then the tables against the reference."""
    import dagster as dg

    rng = random.Random(seed + 1)
    data = work / "daemon"
    rows: list[dict[str, Any]] = []
    durations: list[float] = []  # how long a whole run takes here, from its start
    done = {dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED}
    i = -1
    while sum(r["killed"] for r in rows) < trials and len(rows) < 3 * trials:
        i += 1
        kind = KILLS[i % len(KILLS)]
        _fresh(data, inbox, like=ref)
        logs = work / f"daemon-{i + 1:02d}.log"
        daemon = _start_daemon(data, logs)
        row: dict[str, Any] = {"trial": i + 1, "kill": kind, "killed": False, "killed_in": "-", "marked_failed": "-",
                               "slots_freed": "-", "retried": "-", "lock_messages": 0}
        # A run the daemon launched takes longer than `chatlab materialize`'s (a process per step).
        typical = sorted(durations)[len(durations) // 2] if durations else 2 * t_clean
        at = rng.uniform(1.0, typical * 0.95)
        row["kill_at_s"] = round(at, 1)
        instance = _instance(data)
        t_trial = time.monotonic()
        try:
            deadline = time.monotonic() + max(600.0, 6 * t_clean)
            victim = None
            # 1. The sensor's run starts; kill it ``at`` seconds after its RUN_START.
            while victim is None and time.monotonic() < deadline:
                runs = instance.get_runs()
                started = [r for r in runs if r.status == dg.DagsterRunStatus.STARTED]
                if started:
                    run = started[0]
                    start = instance.all_logs(run.run_id, of_type=dg.DagsterEventType.RUN_START)
                    if start and start[0].dagster_event and start[0].dagster_event.pid:
                        victim = (run, start[0].dagster_event.pid, start[0].timestamp)
                        break
                if any(r.status in done for r in runs):
                    break  # finished (or failed) before we saw it start
                time.sleep(0.5)
            if victim is None:
                runs = instance.get_runs()
                if not runs:
                    raise RuntimeError(f"the sensor started no run within the deadline (see {logs.name})")
                victim = (runs[-1], None, 0.0)
            run, pid, t0 = victim
            while time.time() < t0 + at and instance.get_run_by_id(run.run_id).status not in done:
                time.sleep(0.2)
            status = instance.get_run_by_id(run.run_id).status
            if status in done or pid is None:
                row["killed_in"] = "run had finished"
            else:
                steps = instance.all_logs(run.run_id, of_type=dg.DagsterEventType.STEP_START)
                row["killed_in"] = steps[-1].step_key if steps else "before any step"
                row["killed"] = True
                if kind == "run worker and its steps":
                    _kill(process_tree(pid))
                elif kind == "run worker alone":
                    _kill([pid])
                else:
                    _kill(process_tree(daemon.pid) + process_tree(pid))
                    daemon.wait()
                    daemon = _start_daemon(data, logs)
            # 2. The dead run is marked failed (run monitoring), its slots freed, a retry started.
            retry_of = run.run_id if row["killed"] else None
            while time.monotonic() < deadline:
                runs = instance.get_runs()
                mine = instance.get_run_by_id(run.run_id)
                latest = runs[0] if runs else None  # newest first
                if row["killed"]:
                    row["marked_failed"] = mine.status == dg.DagsterRunStatus.FAILURE
                retries = [r for r in runs if r.tags.get("dagster/root_run_id") == retry_of] if retry_of else []
                finished = latest is not None and latest.status in done and (not row["killed"] or retries)
                if finished:
                    break
                time.sleep(1.0)
            else:
                row["rerun_s"] = float("nan")
                row["differences"] = [f"hang: runs {[(r.run_id[:8], r.status.value) for r in instance.get_runs()]}"]
            if row["killed"]:
                held = set(instance.event_log_storage.get_concurrency_run_ids())
                row["slots_freed"] = run.run_id not in held
                row["retried"] = bool(retries) and all(r.status == dg.DagsterRunStatus.SUCCESS for r in retries[:1])
            if "differences" not in row:
                row["rerun_s"] = round(time.monotonic() - t_trial, 1)
                ok = instance.get_runs()[0]
                if ok.status != dg.DagsterRunStatus.SUCCESS:
                    row["differences"] = [f"the last run {ok.run_id[:8]} ended {ok.status.value}"]
                else:
                    if not row["killed"]:
                        durations.append(instance.get_run_stats(ok.run_id).end_time - instance.get_run_stats(ok.run_id).start_time)
                    failures = sum(len(instance.all_logs(r.run_id, of_type=dg.DagsterEventType.STEP_FAILURE)) for r in instance.get_runs())
                    text = "\n".join(e.message or "" for r in instance.get_runs() for e in instance.all_logs(r.run_id)).lower()
                    row["lock_messages"] = sum(text.count(w) for w in LOCK_WORDS)
                    row["differences"] = ([f"{failures} failed steps"] if failures else [])
        finally:
            _stop_daemon(daemon)
            instance.dispose()
        if row["differences"] == [] or not row["differences"][0].startswith(("hang", "the last run")):
            row["differences"] = row.get("differences", []) + differences(want, _digest(data)) + [f"half-written {p}" for p in _partial_files(data)]
        rows.append(row)
        log(f"daemon trial {i + 1:2d}: {kind}, kill at {at:5.1f} s ({row['killed_in']}); marked failed {row['marked_failed']}, "
            f"slots freed {row['slots_freed']}, retried {row['retried']}, {row['rerun_s']} s: "
            + ("identical" if not row["differences"] else "; ".join(row["differences"])))
    return rows


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
        n = con.execute(f"SELECT count(*), sum(t_s) FROM {SCHEMA}.t").fetchone()[0]
        out["ducklake_read_all_ms"] = round((time.perf_counter() - t0) * 1000, 1)
        t0 = time.perf_counter()
        con.execute(f"SELECT * FROM {SCHEMA}.t WHERE vod_id = 'v0042'").pl()
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
