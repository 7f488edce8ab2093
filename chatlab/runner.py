"""Running the per-VOD job outside the daemon (`chatlab materialize`, `make demo`) and summarising
what was built. Runs go into the same Dagster instance the UI shows, so they appear there."""

from __future__ import annotations

import os
import re
import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import dagster as dg

from chatlab.config import Layout
from chatlab.ingest.inbox import scan_inbox, vod_fingerprint
from chatlab.resources import SCHEMA
from chatlab.storage import connect, lake_config


@dataclass(frozen=True)
class VodRun:
    vod_id: str
    success: bool
    run_id: str
    failures: list[str]


def materialize_vods(layout: Layout, vod_ids: list[str] | None = None, log: Callable[[str], None] = print) -> list[VodRun]:
    """Register the inbox's VODs (or the given ones) as partitions and run the per-VOD job for each.

    Uses the instance in $DAGSTER_HOME. One failing VOD does not stop the others."""
    from chatlab.definitions import defs
    from chatlab.defs.ingest.sensor import FINGERPRINT_TAG
    from chatlab.defs.jobs import VOD_JOB
    from chatlab.partitions import vods

    scan = scan_inbox(layout.inbox)
    for p in scan.problems:
        log(f"inbox: skipped {p}")
    found = scan.by_id()
    wanted = vod_ids or sorted(found)
    missing = [v for v in wanted if v not in found]
    if missing:
        raise LookupError(f"not in {layout.inbox}: {', '.join(missing)}; VODs there: {', '.join(sorted(found)) or 'none'}")
    if not wanted:
        log(f"no VODs in {layout.inbox}; add one with `chatlab ingest FILE` or `chatlab demo`")
        return []
    instance = dg.DagsterInstance.get()
    for line in reap_dead_runs(instance):
        log(line)
    instance.add_dynamic_partitions(vods.name, [v for v in wanted if not instance.has_dynamic_partition(vods.name, v)])
    job = defs.resolve_job_def(VOD_JOB)
    results = []
    for i, vod_id in enumerate(wanted, 1):
        vod = found[vod_id]
        log(f"[{i}/{len(wanted)}] {vod_id}: {vod.media.name}" + (f" + {vod.chat.name}" if vod.chat else ""))
        result = job.execute_in_process(
            partition_key=vod_id,
            instance=instance,
            tags={FINGERPRINT_TAG: vod_fingerprint(vod), "chatlab/file": vod.media.name, **process_tags()},
            raise_on_error=False,
            # Dagster's console log repeats every traceback; the instance keeps the full log for
            # the UI, and the failures are summarised below in one line each.
            run_config={"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}},
        )
        failures = [
            f"{e.step_key}: {_error_text(e.step_failure_data.error)}" for e in result.all_events if e.is_step_failure
        ]
        for check in result.get_asset_check_evaluations():
            if not check.passed:
                text = check.description or ""
                log(f"  check {check.check_name} did not pass ({check.severity.value}){': ' + text if text else ''}")
        for f in failures:
            log(f"  failed {f}")
        if result.success:
            log(f"  ok ({', '.join(sorted({e.asset_key.to_user_string() for e in result.get_asset_materialization_events() if e.asset_key}))})")
        results.append(VodRun(vod_id, result.success, result.run_id, failures))
    return results


HOST_TAG, PID_TAG, PID_START_TAG = "chatlab/host", "chatlab/pid", "chatlab/pid_start"


def _process_start(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (Linux), to tell a reused pid apart."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            return f.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def process_tags() -> dict[str, str]:
    """Tags that say which process runs a run in-process, so a later command can tell it died."""
    return {HOST_TAG: socket.gethostname(), PID_TAG: str(os.getpid()), PID_START_TAG: _process_start(os.getpid()) or ""}


def _alive(pid: int, start: str) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return not start or _process_start(pid) == start


GRPC_INFO_TAG = ".dagster/grpc_info"  # on runs a code server launched (the daemon's runs, DefaultRunLauncher)


def _started_epoch(pid: int) -> float | None:
    """When the process started (seconds since the epoch, Linux), or None when it is gone."""
    try:
        ticks = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19])
        boot = next(int(line.split()[1]) for line in Path("/proc/stat").read_text().splitlines() if line.startswith("btime"))
    except (OSError, IndexError, ValueError, StopIteration):
        return None
    return boot + ticks / os.sysconf("SC_CLK_TCK")


def _local_instance(instance: dg.DagsterInstance) -> bool:
    # SQLite storage is one machine's: every run in it ran here.
    return type(instance.run_storage).__name__.startswith("Sqlite")


def reap_dead_runs(instance: dg.DagsterInstance, daemon_runs: bool | None = None) -> list[str]:
    """Marks failed every run whose process is gone (kill -9, OOM, power cut) and frees the pool
    slots of every finished run that still holds some. Without it a dead run stays STARTED
    holding its pool slot, and the next run waits for it forever. Returns one line per run it
    changed.

    In-process runs (`chatlab materialize`) carry their host and pid. With ``daemon_runs``, also
    the runs a code server on this machine launched for the daemon: their worker is the pid of
    their RUN_START event. The daemon's run monitoring catches a dead run worker only while the
    code server that launched it lives; when the daemon's whole process group died (its machine
    rebooted), nothing else ever fails those runs. Default: only when the instance is this
    machine's alone (SQLite); the `dead_runs` sensor passes True (it runs where the daemon does)."""
    lines = []
    active = [dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.NOT_STARTED,
              dg.DagsterRunStatus.CANCELING]
    here = socket.gethostname()
    for run in instance.get_runs(dg.RunsFilter(statuses=active, tags={HOST_TAG: here})):
        pid = run.tags.get(PID_TAG, "")
        if not pid.isdigit() or _alive(int(pid), run.tags.get(PID_START_TAG, "")):
            continue
        instance.report_run_failed(run, f"process {pid} on {here} that ran it is gone (killed?); marked failed")
        instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
        lines.append(f"run {run.run_id[:8]} ({run.tags.get('dagster/partition', '?')}): process {pid} is gone; marked failed, pool slots freed")
    if daemon_runs if daemon_runs is not None else _local_instance(instance):
        for run in instance.get_runs(dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.CANCELING])):
            if HOST_TAG in run.tags or GRPC_INFO_TAG not in run.tags:
                continue
            start = instance.all_logs(run.run_id, of_type=dg.DagsterEventType.RUN_START)
            pid = start[0].dagster_event.pid if start and start[0].dagster_event else None
            if not pid:
                continue
            began = _started_epoch(pid)
            # Alive only if that pid is still the process that started the run (not a reused pid).
            if began is not None and began <= start[0].timestamp + 1.0:
                continue
            instance.report_run_failed(run, f"run worker {pid} on {here} is gone (killed, or its daemon died with it); marked failed")
            instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
            lines.append(f"run {run.run_id[:8]} ({run.tags.get('dagster/partition', '?')}): run worker {pid} is gone; marked failed, pool slots freed")
    finished = {dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.CANCELED}
    for run_id in instance.event_log_storage.get_concurrency_run_ids():
        run = instance.get_run_by_id(run_id)
        if run is None or run.status in finished:
            instance.event_log_storage.free_concurrency_slots_for_run(run_id)
            lines.append(f"run {run_id[:8]}: finished but held pool slots; freed")
    return lines


def _error_text(error) -> str:
    """The message of a step failure without the exception's class path."""
    if error is None:
        return "failed"
    return re.sub(r"^[\w.]+(Error|Failure|Exception): ", "", error.message.strip())


def table_counts(layout: Layout) -> dict[str, dict[str, int]]:
    """{table: {vod_id: rows}} for every table in the chatlab schema that has a vod_id column."""
    out: dict[str, dict[str, int]] = {}
    with connect(layout) as con:
        tables = con.execute(
            "select table_name from information_schema.columns where table_catalog = 'lake' and table_schema = ? "
            "and column_name = 'vod_id' order by 1",
            [SCHEMA],
        ).fetchall()
        for (table,) in tables:
            rows = con.execute(f'select vod_id, count(*) from {SCHEMA}."{table}" group by 1').fetchall()
            out[table] = {v: n for v, n in rows}
    return out


def status_table(layout: Layout) -> str:
    """A plain-text table: one line per VOD partition, the per-VOD assets built, the rows per table."""
    from chatlab.definitions import defs
    from chatlab.defs.jobs import per_vod_assets
    from chatlab.partitions import vods

    instance = dg.DagsterInstance.get()
    partitions = sorted(instance.get_dynamic_partitions(vods.name))
    if not partitions:
        return "no VOD partitions yet"
    keys = per_vod_assets(defs)
    built = {
        key: set(instance.get_materialized_partitions(key)) for key in keys
    }
    counts = table_counts(layout)
    names = [k.to_user_string() for k in keys]
    header = ["vod"] + names
    lines = [header]
    for vod_id in partitions:
        cells = [vod_id]
        for key, name in zip(keys, names):
            rows = counts.get(name, {}).get(vod_id)
            mark = "yes" if vod_id in built[key] else "-"
            cells.append(f"{mark} ({rows} rows)" if rows is not None and mark == "yes" else mark)
        lines.append(cells)
    widths = [max(len(r[i]) for r in lines) for i in range(len(header))]
    text = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in lines]
    text.insert(1, "  ".join("-" * w for w in widths))
    return f"{len(partitions)} VOD partition(s) in {instance.root_directory}; tables: {lake_config(layout).describe()}\n" + "\n".join(text)
