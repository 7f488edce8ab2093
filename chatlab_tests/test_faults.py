"""A run killed with SIGKILL while it holds a pool slot: the next in-process command marks it
failed and frees the slot, so the next run in that pool starts instead of waiting forever."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import dagster as dg

from chatlab.platform_cli import REPO_ROOT
from chatlab.runner import reap_dead_runs

JOB = """
import os, sys, time
import dagster as dg
from chatlab.runner import process_tags

@dg.op(pool="asr")
def transcribe():
    time.sleep(float(os.environ["HOLD_S"]))

@dg.job
def one_step():
    transcribe()

result = one_step.execute_in_process(instance=dg.DagsterInstance.get(), tags=process_tags(), raise_on_error=False)
print("success" if result.success else "failure", flush=True)
"""


def _start(home: Path, hold_s: float) -> subprocess.Popen:
    env = dict(os.environ, DAGSTER_HOME=str(home), HOLD_S=str(hold_s))
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(JOB)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_a_killed_run_is_marked_failed_and_frees_its_pool_slot(tmp_path: Path) -> None:
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copyfile(REPO_ROOT / "dagster.yaml", home / "dagster.yaml")  # the shipped pools: one asr step at a time
    instance = dg.DagsterInstance.from_config(str(home))
    assert instance.get_runs() == []  # storage created here first: two processes creating it at once race
    dead = _start(home, hold_s=120)
    deadline = time.monotonic() + 240  # a loaded machine imports Dagster slowly
    while not instance.event_log_storage.get_concurrency_run_ids():  # the step holds the asr slot
        assert dead.poll() is None and time.monotonic() < deadline, dead.stderr.read() if dead.poll() is not None else "no slot claimed"
        time.sleep(0.2)
    (run,) = instance.get_runs()
    dead.send_signal(signal.SIGKILL)
    dead.wait(10)
    assert instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.STARTED  # what the issue saw: a dead run, still started

    lines = reap_dead_runs(instance)
    assert len(lines) == 1 and "is gone; marked failed, pool slots freed" in lines[0], lines
    assert instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.FAILURE
    assert instance.event_log_storage.get_concurrency_run_ids() == set()

    nxt = _start(home, hold_s=0)  # the next run in pool asr starts at once (it hung forever before)
    out, err = nxt.communicate(timeout=120)
    assert nxt.returncode == 0 and out.strip() == "success", err[-2000:]
    assert reap_dead_runs(instance) == []  # a run that finished is never touched


DAEMON_LIKE = """
import json, os, sys, time
import dagster as dg

@dg.op(pool="asr")
def transcribe():
    time.sleep(float(os.environ["HOLD_S"]))

@dg.job
def one_step():
    transcribe()

# The tag a code server puts on a run it launched for the daemon (no chatlab host/pid tags).
tags = {".dagster/grpc_info": json.dumps({"host": "localhost", "socket": "/tmp/gone"})}
result = one_step.execute_in_process(instance=dg.DagsterInstance.get(), tags=tags, raise_on_error=False)
print("success" if result.success else "failure", flush=True)
"""


def test_a_daemon_run_whose_worker_died_with_the_daemon_is_marked_failed(tmp_path: Path) -> None:
    """The daemon's whole process group killed (its code server too): run monitoring never hears
    of the run again. The dead_runs sensor's reaper finds its RUN_START pid gone and fails it."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copyfile(REPO_ROOT / "dagster.yaml", home / "dagster.yaml")
    instance = dg.DagsterInstance.from_config(str(home))
    assert instance.get_runs() == []
    env = dict(os.environ, DAGSTER_HOME=str(home), HOLD_S="120")
    dead = subprocess.Popen([sys.executable, "-c", textwrap.dedent(DAEMON_LIKE)], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 240
    while not instance.event_log_storage.get_concurrency_run_ids():
        assert dead.poll() is None and time.monotonic() < deadline, dead.stderr.read() if dead.poll() is not None else "no slot claimed"
        time.sleep(0.2)
    (run,) = instance.get_runs()
    assert reap_dead_runs(instance, daemon_runs=True) == []  # alive: never touched
    dead.send_signal(signal.SIGKILL)
    dead.wait(10)
    assert reap_dead_runs(instance, daemon_runs=False) == []  # another machine's instance could not tell
    assert instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.STARTED
    lines = reap_dead_runs(instance, daemon_runs=True)
    assert len(lines) == 1 and "run worker" in lines[0] and "marked failed, pool slots freed" in lines[0], lines
    assert instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.FAILURE
    assert instance.event_log_storage.get_concurrency_run_ids() == set()
    assert reap_dead_runs(instance) == []  # SQLite: this machine's; nothing left to reap
