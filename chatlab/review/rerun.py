"""A saved correction re-runs the VOD: the `review_rerun` job (offsets and the per-VOD assets
after it) for that partition, in the Dagster instance of the data directory, so the run shows in
the Dagster UI with its logs and check results. It runs in a child process (the page stays
responsive); its progress goes to ``<data>/review/runs/<vod>.json``.

``python -m chatlab.review.rerun VOD`` is that child.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from chatlab.config import Layout
from chatlab.files import replacing
from chatlab.ingest.inbox import is_valid_vod_id

REQUEST_TAG = "chatlab/review_request"


def status_path(layout: Layout, vod_id: str) -> Path:
    return layout.root / "review" / "runs" / f"{vod_id}.json"


def _write(path: Path, doc: dict[str, Any]) -> None:
    with replacing(path) as tmp:
        tmp.write_text(json.dumps(doc), encoding="utf-8")


def start(layout: Layout, vod_id: str) -> dict[str, Any]:
    """Start the child process; returns the request record the page polls."""
    if not is_valid_vod_id(vod_id):
        raise ValueError(f"{vod_id!r} is not a VOD id")
    path = status_path(layout, vod_id)
    old = read(layout, vod_id)
    if old.get("state") in ("starting", "running") and _alive(old.get("pid")):
        raise RuntimeError(f"{vod_id}: a re-run is already going (request {old.get('request')})")
    req = uuid.uuid4().hex[:12]
    doc = {"request": req, "vod_id": vod_id, "state": "starting", "started_at": time.time()}
    _write(path, doc)
    log = path.with_suffix(".log")
    env = {**os.environ, "CHATLAB_DATA": str(layout.root)}
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "chatlab.review.rerun", vod_id, req], env=env, stdout=out,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    doc["pid"] = proc.pid
    _write(path, doc)
    return doc


def _alive(pid: Any) -> bool:
    if not isinstance(pid, int):
        return False
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    try:  # a finished child of this server stays a zombie until reaped
        done, _ = os.waitpid(pid, os.WNOHANG)
        return done == 0
    except ChildProcessError:
        return True


def read(layout: Layout, vod_id: str) -> dict[str, Any]:
    p = status_path(layout, vod_id)
    if not p.exists():
        return {}
    try:
        doc = json.loads(p.read_text(encoding="utf-8"))
    except ValueError:
        return {}
    if doc.get("state") in ("starting", "running") and doc.get("pid") and not _alive(doc["pid"]):
        doc["state"] = "died"
        doc["error"] = f"the re-run process ended without a result; see {p.with_suffix('.log').name}"
    return doc


def run(vod_id: str, request: str) -> int:
    import dagster as dg

    from chatlab import config as cfg
    from chatlab.definitions import defs
    from chatlab.defs.review import REVIEW_JOB
    from chatlab.partitions import vods
    from chatlab.platform_cli import dagster_home

    layout = cfg.layout().ensure()
    dagster_home(layout)
    path = status_path(layout, vod_id)
    doc = {**read(layout, vod_id), "request": request, "vod_id": vod_id, "state": "running", "pid": os.getpid()}
    _write(path, doc)
    instance = dg.DagsterInstance.get()
    if not instance.has_dynamic_partition(vods.name, vod_id):
        _write(path, {**doc, "state": "failed", "error": f"{vod_id} is not a VOD partition in {instance.root_directory}"})
        return 1
    result = defs.resolve_job_def(REVIEW_JOB).execute_in_process(
        partition_key=vod_id, instance=instance, raise_on_error=False,
        tags={REQUEST_TAG: request, "chatlab/source": "review"},
        run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}},
    )
    failures = [f"{e.step_key}: {e.step_failure_data.error.message.strip() if e.step_failure_data.error else 'failed'}"
                for e in result.all_events if e.is_step_failure]
    checks = {c.check_name: c.passed for c in result.get_asset_check_evaluations()}
    built = sorted({e.asset_key.to_user_string() for e in result.get_asset_materialization_events() if e.asset_key})
    _write(path, {**doc, "state": "success" if result.success else "failed", "run_id": result.run_id, "finished_at": time.time(),
                  "materialized": built, "checks": checks, "failures": failures})
    return 0 if result.success else 1


if __name__ == "__main__":
    sys.exit(run(sys.argv[1], sys.argv[2]))
