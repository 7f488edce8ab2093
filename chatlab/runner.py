"""Running the per-VOD job outside the daemon (`chatlab materialize`, `make demo`) and summarising
what was built. Runs go into the same Dagster instance the UI shows, so they appear there."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import dagster as dg
import duckdb

from chatlab.config import Layout
from chatlab.ingest.inbox import scan_inbox, vod_fingerprint
from chatlab.resources import SCHEMA


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
    instance.add_dynamic_partitions(vods.name, [v for v in wanted if not instance.has_dynamic_partition(vods.name, v)])
    job = defs.resolve_job_def(VOD_JOB)
    results = []
    for i, vod_id in enumerate(wanted, 1):
        vod = found[vod_id]
        log(f"[{i}/{len(wanted)}] {vod_id}: {vod.media.name}" + (f" + {vod.chat.name}" if vod.chat else ""))
        result = job.execute_in_process(
            partition_key=vod_id,
            instance=instance,
            tags={FINGERPRINT_TAG: vod_fingerprint(vod), "chatlab/file": vod.media.name},
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


def _error_text(error) -> str:
    """The message of a step failure without the exception's class path."""
    if error is None:
        return "failed"
    return re.sub(r"^[\w.]+(Error|Failure|Exception): ", "", error.message.strip())


def table_counts(layout: Layout) -> dict[str, dict[str, int]]:
    """{table: {vod_id: rows}} for every table in the chatlab schema that has a vod_id column."""
    if not layout.duckdb.exists():
        return {}
    out: dict[str, dict[str, int]] = {}
    with duckdb.connect(str(layout.duckdb), read_only=True) as con:
        tables = con.execute(
            "select table_name from information_schema.columns where table_schema = ? and column_name = 'vod_id' order by 1",
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
    return f"{len(partitions)} VOD partition(s) in {instance.root_directory}; tables in {layout.duckdb}\n" + "\n".join(text)
