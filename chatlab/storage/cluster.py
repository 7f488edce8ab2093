"""`chatlab cluster-test` (`make cluster-test`): the same VODs built on the embedded default and
on a cluster set up by configuration only, then every table compared.

Embedded: `chatlab materialize` (SQLite instance, DuckLake with a SQLite catalog).
Cluster, on this machine: PostgreSQL and Redis from deps/cluster/services.sh; the Dagster instance
in PostgreSQL (deps/cluster/dagster.yaml); the lake's catalog in PostgreSQL and its Parquet on a
shared path; CHATLAB_EXECUTOR=celery; two Celery workers, each in its own working directory (one
serves queue `gpu`); the daemon runs a backfill of every VOD. Every start has a timeout, and
everything started is stopped at the end, also on failure.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from chatlab.chat.privacy import SALT_FILE
from chatlab.process_group import children, process_tree
from chatlab.storage.compare import digest_tables, differences
from chatlab.storage.lake import LakeConfig, lake_config
from chatlab.config import layout as make_layout

REPO_ROOT = Path(__file__).resolve().parents[2]
CLUSTER = REPO_ROOT / "deps" / "cluster"
BIN = Path(sys.executable).parent


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


_PORTS: dict[str, str] = {}


def _services(cmd: str, svc: Path) -> dict[str, str]:
    # Ports free at the start (another cluster test or test run may hold the default ones).
    if not _PORTS:
        _PORTS.update(PG_PORT=str(_free_port()), REDIS_PORT=str(_free_port()))
    r = subprocess.run(["bash", str(CLUSTER / "services.sh"), cmd, str(svc)], capture_output=True, text=True, timeout=180,
                       env=dict(os.environ, **_PORTS))
    if r.returncode != 0:
        raise RuntimeError(f"services.sh {cmd}: {r.stderr.strip() or r.stdout.strip()}")
    env = {}
    for line in r.stdout.splitlines():
        for part in line.removeprefix("export ").split(" CHATLAB_"):
            if "=" in part:
                k, v = part.split("=", 1)
                env[k if k.startswith("CHATLAB_") else "CHATLAB_" + k] = v.strip('"')
    return env


def _run(cmd: list[str], **kw: Any) -> subprocess.CompletedProcess:
    """Runs a command to completion (with a timeout); a failure raises with the end of its output."""
    r = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(Path(c).name if i == 0 else c for i, c in enumerate(cmd[:4]))} ...: exit {r.returncode}: "
                           f"{(r.stderr or r.stdout).strip()[-1500:]}")
    return r


def _worker_steps(logs: Path) -> dict[str, dict[str, int]]:
    """{worker: {step: times}} from the Celery workers' logs: where each step ran."""
    import re

    out = {}
    for f in sorted(logs.glob("worker*.log")):
        steps: dict[str, int] = {}
        for m in re.finditer(r"Executing steps (\S+) in celery worker", f.read_text(errors="replace")):
            steps[m.group(1)] = steps.get(m.group(1), 0) + 1
        out[f.stem] = steps
    return out


def _proc(pid: int) -> tuple[int, float, str] | None:
    """(parent pid, CPU seconds, command line) of a process, from /proc; None when it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except (OSError, IndexError):
        return None
    return int(stat[1]), (int(stat[11]) + int(stat[12])) / os.sysconf("SC_CLK_TCK"), cmd


def _children(pid: int) -> list[int]:
    return children().get(pid, [])


def _pool_processes(worker_pid: int) -> list[int]:
    """The Celery pool processes (they run the steps) of a worker started by `dagster-celery worker
    start`: the children of its `celery ... worker` process."""
    todo, main = [worker_pid], None
    while todo and main is None:
        p = todo.pop(0)
        info = _proc(p)
        kids = _children(p)
        if info and "worker" in info[2] and "celery" in info[2] and kids and p != worker_pid:
            main = p
        todo.extend(kids)
    if main is None:  # the CLI exec'd celery itself
        main = worker_pid
    return _children(main)


def _busy_worker(workers: dict[str, int], logs: Path) -> tuple[str, int, str] | None:
    """(worker name, pool pid, task id) of a worker that is running a step now: its log says it
    received a task at least 2 s ago that has not finished yet."""
    import re

    now = time.time()
    for name, pid in workers.items():
        f = logs / f"{name}.log"
        text = f.read_text(errors="replace") if f.exists() else ""
        received = {m.group(2): m.group(1) for m in re.finditer(r"\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d),\d+: INFO/MainProcess\] Task \S+\[([\w-]+)\] received", text)}
        done = set(re.findall(r"Task \S+\[([\w-]+)\] (?:succeeded|failed|raised|retry)", text))
        done |= set(re.findall(r"\[([\w-]+)\][^\n]*WorkerLostError", text))
        for task, at in received.items():
            started = time.mktime(time.strptime(at, "%Y-%m-%d %H:%M:%S"))  # the worker logs local time
            pools = _pool_processes(pid)
            if task not in done and pools and now - started >= 2.0:
                return name, pools[0], task
    return None


@contextmanager
def _instance(home: Path, env: dict[str, str]) -> Iterator[Any]:
    """The Dagster instance at ``home``, with ``env`` (which its dagster.yaml reads) set meanwhile."""
    import dagster as dg

    old = dict(os.environ)
    os.environ.update(env)
    try:
        yield dg.DagsterInstance.from_config(str(home))
    finally:
        os.environ.clear()
        os.environ.update(old)


def _latest_runs(instance: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for r in reversed(instance.get_runs()):  # oldest first: a retry wins
        out[r.tags.get("dagster/partition", "?")] = r
    return dict(sorted(out.items()))


def _statuses(home: Path, env: dict[str, str]) -> dict[str, str]:
    """{VOD: status of its latest run} in the instance at ``home``."""
    with _instance(home, env) as instance:
        return {vod: r.status.value for vod, r in _latest_runs(instance).items()}


def _failures(home: Path, env: dict[str, str]) -> dict[str, str]:
    """{VOD: the first error message of its latest run} for runs that failed, so a failed test says why."""
    import dagster as dg

    out = {}
    with _instance(home, env) as instance:
        for vod, r in _latest_runs(instance).items():
            if r.status != dg.DagsterRunStatus.FAILURE:
                continue
            out[vod] = "failed with no error event"
            for e in instance.all_logs(r.run_id):
                ev = e.dagster_event
                err = getattr(getattr(ev, "event_specific_data", None), "error", None) if ev else None
                if err is not None:
                    out[vod] = f"{ev.event_type_value} {ev.step_key or ''}: {err.message.strip()[:400]}"
                    break
    return out


def _wait_runs(home: Path, env: dict[str, str], want: int, timeout: float, log: Callable[[str], None],
               kills: int = 0, seed: int = 0, worker_kills: int = 0, workers: dict[str, int] | None = None,
               whole_worker: Callable[[str], int] | None = None, logs: Path | None = None) -> list[dict[str, Any]]:
    """Waits until every VOD's latest run has finished. With ``kills``, first SIGKILLs that many
    run workers (the `dagster api execute_run` process of a started run, found by its RUN_START
    event's pid) at random moments; run monitoring must then mark each failed and run_retries
    start it again. With ``worker_kills``, SIGKILLs that many Celery pool processes while they run
    a step (Celery starts a new one; the run must fail, not wait, and run_retries run it again);
    with ``whole_worker``, the whole worker (every process of it) instead, then
    ``whole_worker(name)`` starts it again and returns its new pid. Returns what was killed."""
    import random

    import dagster as dg

    rng = random.Random(seed)
    old = dict(os.environ)
    os.environ.update(env)
    killed: list[dict[str, Any]] = []
    try:
        instance = dg.DagsterInstance.from_config(str(home))
        deadline = time.monotonic() + timeout
        done = {dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED}
        last, changed = "", time.monotonic()
        next_kill = time.monotonic() + rng.uniform(5, 40)
        while True:
            runs = instance.get_runs()
            state = ", ".join(sorted(f"{r.tags.get('dagster/partition', '?')} {r.status.value.lower()}" for r in runs))
            if state != last:
                log(f"  runs: {state or 'none yet'}")
                last, changed = state, time.monotonic()
            if worker_kills and sum(k.get("what") == "celery pool process" for k in killed) < worker_kills \
                    and time.monotonic() >= next_kill and any(r.status == dg.DagsterRunStatus.STARTED for r in runs):
                busy = _busy_worker(workers or {}, logs) if logs else None
                if busy:
                    name, pid, task = busy
                    steps = {r.tags.get("dagster/partition"): instance.all_logs(r.run_id, of_type=dg.DagsterEventType.STEP_START)
                             for r in runs if r.status == dg.DagsterRunStatus.STARTED}
                    during = ", ".join(f"{v}: {s[-1].step_key}" for v, s in steps.items() if s) or "?"
                    if whole_worker is not None:
                        for p in process_tree(workers[name]):
                            try:
                                os.kill(p, signal.SIGKILL)
                            except ProcessLookupError:
                                pass
                        workers[name] = whole_worker(name)
                        log(f"  kill -9 every process of Celery worker {name} while it runs task {task[:8]} (steps started: {during}); started it again")
                    else:
                        try:
                            os.kill(pid, signal.SIGKILL)
                            log(f"  kill -9 Celery pool process {pid} of {name} while it runs task {task[:8]} (steps started: {during})")
                        except ProcessLookupError:
                            continue
                    killed.append({"what": "celery pool process", "worker": name, "whole": whole_worker is not None, "during": during})
                    next_kill = time.monotonic() + rng.uniform(5, 40)
            if len(killed) - sum(k.get("what") == "celery pool process" for k in killed) < kills and time.monotonic() >= next_kill:
                started = [r for r in runs if r.status == dg.DagsterRunStatus.STARTED]
                if started:
                    run = rng.choice(started)
                    starts = instance.all_logs(run.run_id, of_type=dg.DagsterEventType.RUN_START)
                    steps = instance.all_logs(run.run_id, of_type=dg.DagsterEventType.STEP_START)
                    pid = starts[0].dagster_event.pid if starts and starts[0].dagster_event else None
                    if pid:
                        try:
                            os.kill(pid, signal.SIGKILL)
                            where = steps[-1].step_key if steps else "before any step"
                            killed.append({"what": "run worker", "run": run.run_id[:8], "vod": run.tags.get("dagster/partition"), "during": where})
                            log(f"  kill -9 run worker {pid} of {run.tags.get('dagster/partition')} (during {where})")
                        except ProcessLookupError:
                            pass
                next_kill = time.monotonic() + rng.uniform(5, 40)
            # Finished: every VOD's latest run is done; with kills, all succeeded or nothing changed
            # for 60 s (a retry is started by the daemon some seconds after a run is marked failed).
            latest: dict[str, Any] = {}
            for r in reversed(runs):
                latest[r.tags.get("dagster/partition")] = r
            if len(latest) >= want and all(r.status in done for r in latest.values()) and len(killed) >= kills + worker_kills:
                if all(r.status == dg.DagsterRunStatus.SUCCESS for r in latest.values()) or time.monotonic() - changed > 60:
                    return killed
            if time.monotonic() > deadline:
                raise TimeoutError(f"cluster runs not finished after {timeout:.0f} s: {state}")
            time.sleep(2)
    finally:
        os.environ.clear()
        os.environ.update(old)


def cluster_test(streams: int = 2, minutes: float = 2.0, seed: int = 0, work: Path | None = None,
                 timeout: float = 900, kills: int = 0, worker_kills: int = 0, whole_worker: bool = False,
                 log: Callable[[str], None] = print) -> dict[str, Any]:
    # SIGTERM (CI's timeout) unwinds through the finally below, which stops every service.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    work = Path(work or REPO_ROOT / "data" / "cluster-test").resolve()
    if work.exists():
        shutil.rmtree(work)
    inbox = work / "inbox"
    inbox.mkdir(parents=True)
    chatlab = [sys.executable, "-m", "chatlab.cli"]
    base_env = {k: v for k, v in os.environ.items() if not k.startswith(("CHATLAB_LAKE_", "CHATLAB_EXECUTOR", "DAGSTER_HOME"))}
    base_env["CHATLAB_CONFIG"] = str(REPO_ROOT / "chatlab.toml")
    _run([*chatlab, "demo", "--streams", str(streams), "--minutes", str(minutes), "--seed", str(seed), "--out", str(inbox)],
         env=base_env, timeout=600)
    vods = sorted(p.name.split(".")[0] for p in inbox.glob("*.mp4"))
    out: dict[str, Any] = {"vods": vods}

    # 1. Embedded default.
    emb = work / "embedded"
    shutil.copytree(inbox, emb / "inbox")
    env = dict(base_env, CHATLAB_DATA=str(emb))
    t0 = time.monotonic()
    r = subprocess.run([*chatlab, "materialize"], env=env, capture_output=True, text=True, timeout=timeout)
    out["embedded_s"] = round(time.monotonic() - t0, 1)
    log(f"embedded: {len(vods)} VODs by `chatlab materialize` in {out['embedded_s']} s")
    want = digest_tables(lake_config(make_layout(emb), storage={}), [str(emb)])
    out["embedded_runs"] = _statuses(emb / "dagster_home", {})

    # 2. The cluster, by configuration.
    svc, shared, home = work / "services", work / "cluster" / "shared", work / "cluster" / "dagster_home"
    shutil.copytree(inbox, shared / "inbox")
    shutil.copyfile(emb / SALT_FILE, shared / SALT_FILE)  # one project, one salt: users hash alike
    home.mkdir(parents=True)
    shutil.copyfile(CLUSTER / "dagster.yaml", home / "dagster.yaml")
    procs: list[subprocess.Popen] = []
    workers: dict[str, int] = {}
    sensor = bool(kills or worker_kills)  # killed runs are retried only when the sensor started them
    try:
        t0 = time.monotonic()
        cenv = dict(base_env, **_services("start", svc), CHATLAB_DATA=str(shared), CHATLAB_LAKE_DATA=str(shared / "lake"),
                    CHATLAB_EXECUTOR="celery", DAGSTER_HOME=str(home), PATH=f"{BIN}{os.pathsep}{base_env.get('PATH', '')}")
        log(f"services: PostgreSQL + Redis up in {time.monotonic() - t0:.1f} s")
        # What the README asks of a cluster before its first run (see chatlab/defs/pools.py).
        r = _run([*chatlab, "pools"], env=cenv, timeout=180)
        log("  " + "; ".join(r.stdout.split("\n")).strip("; "))
        lake = LakeConfig(catalog=cenv["CHATLAB_LAKE_CATALOG"], data_path=str(shared / "lake") + "/")
        logs = work / "cluster" / "logs"
        logs.mkdir()
        queues = {"worker1": ["dagster", "gpu"], "worker2": ["dagster"]}
        celery_yaml = CLUSTER / "celery.yaml"
        if whole_worker:
            # The shipped config hands a dead worker's task to another after visibility_timeout
            # (2 h, above the longest step); shortened here so the test need not wait that long.
            celery_yaml = work / "cluster" / "celery-short-visibility.yaml"
            text = (CLUSTER / "celery.yaml").read_text()
            if "visibility_timeout: 7200" not in text:
                raise RuntimeError(f"{CLUSTER / 'celery.yaml'}: no visibility_timeout: 7200 to shorten for the test")
            celery_yaml.write_text(text.replace("visibility_timeout: 7200", "visibility_timeout: 60"))

        def start_worker(name: str) -> int:
            cwd = work / "cluster" / name
            cwd.mkdir(exist_ok=True)
            cmd = [str(BIN / "dagster-celery"), "worker", "start", "-A", "dagster_celery.app", "-y", str(celery_yaml),
                   "-n", name, *[a for q in queues[name] for a in ("-q", q)], "--", "--concurrency=1"]
            procs.append(subprocess.Popen(cmd, cwd=cwd, env=cenv, stdout=open(logs / f"{name}.log", "a"), stderr=subprocess.STDOUT,
                                          start_new_session=True))
            return procs[-1].pid

        for name in queues:
            workers[name] = start_worker(name)
        ws = ["-w", str(REPO_ROOT / "workspace.yaml")]
        if not sensor:
            # The backfill, not the inbox sensor, runs the VODs here.
            _run([str(BIN / "dagster"), "sensor", "stop", "inbox_sensor", *ws], cwd=REPO_ROOT, env=cenv, timeout=180)
            _run([sys.executable, "-c", "import sys, dagster as dg; dg.DagsterInstance.get().add_dynamic_partitions('vods', sys.argv[1:])",
                  *vods], env=cenv, timeout=120)
        procs.append(subprocess.Popen([str(BIN / "dagster-daemon"), "run", *ws], cwd=REPO_ROOT, env=cenv,
                                      stdout=open(logs / "daemon.log", "w"), stderr=subprocess.STDOUT, start_new_session=True))
        t0 = time.monotonic()
        if not sensor:
            _run([str(BIN / "dagster"), "job", "backfill", "-j", "vod_job", "--partitions", ",".join(vods), "--noprompt", *ws],
                 cwd=REPO_ROOT, env=cenv, timeout=300)
            log(f"backfill of {len(vods)} VODs submitted; the daemon runs it, steps on 2 Celery workers")
        else:
            # Runs the inbox sensor started: Dagster retries a failed one (run_retries). It does not
            # retry a run of a job backfill, which is complete as soon as its runs are submitted.
            log(f"the inbox sensor starts a run per VOD; kill -9 for {kills} of their run workers and {worker_kills} Celery pool processes mid-step")
        out["killed"] = _wait_runs(home, cenv, len(vods), timeout, log, kills=kills, seed=seed, worker_kills=worker_kills, workers=workers,
                                   whole_worker=start_worker if whole_worker else None, logs=logs)
        out["cluster_s"] = round(time.monotonic() - t0, 1)
        out["cluster_runs"] = _statuses(home, cenv)
        out["cluster_failures"] = _failures(home, cenv)
        got = digest_tables(lake, [str(shared)])
    finally:
        for p in procs:
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for p in procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
        _services("stop", svc)
    diff = differences(want, got)
    out["tables"] = {t: d.rows for t, d in want.items()}
    out["steps_per_worker"] = _worker_steps(work / "cluster" / "logs")
    out["differences"] = diff
    log(f"embedded runs: {', '.join(f'{k} {v.lower()}' for k, v in out['embedded_runs'].items())}")
    log(f"cluster: {out['cluster_s']} s for the backfill; runs: {', '.join(f'{k} {v.lower()}' for k, v in out['cluster_runs'].items())}")
    for vod, why in out.get("cluster_failures", {}).items():
        log(f"  {vod} failed: {why}")
    for name, steps in out["steps_per_worker"].items():
        log(f"  {name} ran {sum(steps.values())} steps: {', '.join(f'{k} x{v}' for k, v in sorted(steps.items()))}")
    built = want.get("vod_source")
    if built is None or built.rows != len(vods):  # never "identical" over two empty lakes
        diff.append(f"the embedded run built {built.rows if built else 0} vod_source rows for {len(vods)} VODs")
    if out["cluster_runs"] != out["embedded_runs"]:
        diff.append(f"run outcomes differ: embedded {out['embedded_runs']}, cluster {out['cluster_runs']}")
    for t, d in want.items():
        g = got.get(t)
        log(f"  {t:22s} embedded {d.rows:6d} rows   cluster {g.rows if g else '-':>6} rows")
    log("identical" if not diff else "DIFFERENT:\n  " + "\n  ".join(diff))
    return out
