"""`chatlab materialize` waiting for a pool slot ends on SIGTERM (it used to poll on for 20
minutes): the command exits, its run is marked failed and it holds or waits for no slot."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import dagster as dg

CHATLAB = str(Path(sys.executable).with_name("chatlab"))
HOLDER = str(uuid.uuid4())


def test_sigterm_while_waiting_for_the_asr_slot(tmp_path, media_factory, monkeypatch):
    from chatlab.config import Layout
    from chatlab.platform_cli import dagster_home

    data = tmp_path / "data"
    layout = Layout(data).ensure()
    media_factory(layout.inbox / "waits.mp4", seconds=2)
    monkeypatch.setenv("CHATLAB_DATA", str(data))
    dagster_home(layout)  # sets $DAGSTER_HOME; the project's dagster.yaml: pool limit 1
    with dg.DagsterInstance.get() as instance:
        # Another run (say the daemon's) is in its ASR step and holds the one asr slot.
        instance.add_run(dg.DagsterRun(job_name="vod_job", run_id=HOLDER, status=dg.DagsterRunStatus.STARTED))
        storage = instance.event_log_storage
        storage.initialize_concurrency_limit_to_default("asr")
        assert storage.claim_concurrency_slot("asr", HOLDER, "transcript").is_claimed

        env = dict(os.environ, CHATLAB_DATA=str(data))
        proc = subprocess.Popen([CHATLAB, "materialize"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, start_new_session=True)
        try:
            deadline = time.monotonic() + 300
            while storage.get_concurrency_info("asr").pending_step_count == 0:
                assert proc.poll() is None, proc.stdout.read()
                assert time.monotonic() < deadline, "the run never waited for the asr slot"
                time.sleep(1)
            time.sleep(3)  # well inside the wait
            t0 = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            out, _ = proc.communicate(timeout=60)
            took = time.monotonic() - t0
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        assert proc.returncode != 0 and took < 30, (proc.returncode, took, out[-2000:])
        assert "stopped" in out
        runs = instance.get_runs(dg.RunsFilter(tags={"dagster/partition": "waits"}))
        assert runs and all(r.status in (dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED) for r in runs), \
            [r.status for r in runs]
        info = storage.get_concurrency_info("asr")
        assert info.pending_step_count == 0
        assert {s.run_id for s in info.claimed_slots} == {HOLDER}  # only the other run's slot
