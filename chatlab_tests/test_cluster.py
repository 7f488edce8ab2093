"""Beyond one machine by configuration: the executor from $CHATLAB_EXECUTOR, the cluster's
dagster.yaml, the `gpu` queue, and the lake with its catalog in a real PostgreSQL
(deps/cluster/services.sh; the whole backfill on Celery workers is `make cluster-test`)."""

from __future__ import annotations

import importlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from chatlab.platform_cli import REPO_ROOT
from chatlab.storage import LakeConfig, connect, replace_rows

CLUSTER = REPO_ROOT / "deps" / "cluster"


def _definitions(monkeypatch: pytest.MonkeyPatch, executor: str | None):
    if executor is None:
        monkeypatch.delenv("CHATLAB_EXECUTOR", raising=False)
    else:
        monkeypatch.setenv("CHATLAB_EXECUTOR", executor)
    import chatlab.definitions as d

    return importlib.reload(d).defs


def test_the_executor_is_chosen_by_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    assert _definitions(monkeypatch, None).executor.name == "multiprocess"
    assert _definitions(monkeypatch, "celery").executor.name == "celery"
    with pytest.raises(ValueError, match="expected multiprocess or celery"):
        _definitions(monkeypatch, "spark")
    _definitions(monkeypatch, None)


def test_gpu_steps_go_to_the_gpu_queue(monkeypatch: pytest.MonkeyPatch) -> None:
    defs = _definitions(monkeypatch, None)
    queues = {}
    for a in defs.assets:
        if isinstance(a, dg.AssetsDefinition):
            queues[a.node_def.name] = a.op.tags.get("dagster-celery/queue")
    assert {k for k, v in queues.items() if v == "gpu"} == {"transcript", "adapter", "evaluation"}


def test_the_cluster_instance_config_is_valid(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from dagster._core.instance.config import dagster_instance_config

    shutil.copyfile(CLUSTER / "dagster.yaml", tmp_path / "dagster.yaml")
    monkeypatch.setenv("CHATLAB_DAGSTER_PG_URL", "postgresql+psycopg2://chatlab@127.0.0.1:1/dagster")
    config, _ = dagster_instance_config(str(tmp_path))
    assert "postgres" in config["storage"] and config["run_retries"]["enabled"]


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def services(tmp_path_factory: pytest.TempPathFactory):
    """PostgreSQL and Redis from services.sh; the variables it prints."""
    svc = tmp_path_factory.mktemp("services")
    # Free ports of this moment: other test runs on the machine may be starting their own services.
    env = dict(os.environ, PG_PORT=str(_free_port()), REDIS_PORT=str(_free_port()))
    r = subprocess.run(["bash", str(CLUSTER / "services.sh"), "start", str(svc)], env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    exported = {}
    for line in r.stdout.splitlines():
        if line.startswith("export "):
            for part in line.removeprefix("export ").split(" CHATLAB_"):
                k, v = part.split("=", 1)
                exported[k if k.startswith("CHATLAB_") else "CHATLAB_" + k] = v.strip('"')
    try:
        yield exported
    finally:
        subprocess.run(["bash", str(CLUSTER / "services.sh"), "stop", str(svc)], env=env, capture_output=True, timeout=120)


@pytest.fixture(scope="module")
def postgres(services: dict[str, str]) -> str:
    return services["CHATLAB_LAKE_CATALOG"]


def test_chatlab_pools_sets_every_pool_once_on_a_postgres_instance(services: dict[str, str], tmp_path: Path) -> None:
    # Without an explicit limit, two runs that start together on PostgreSQL both create the pool and
    # one fails (dagster-io/dagster#33552; seen in `make cluster-test`). `chatlab pools` sets them first.
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copyfile(CLUSTER / "dagster.yaml", home / "dagster.yaml")
    env = dict(os.environ, DAGSTER_HOME=str(home), CHATLAB_DAGSTER_PG_URL=services["CHATLAB_DAGSTER_PG_URL"])
    cmd = [sys.executable, "-m", "chatlab.cli", "pools"]
    first = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=180)
    assert first.returncode == 0, first.stderr
    assert first.stdout.splitlines() == [f"pool {p}: 1 (set now: dagster.yaml's default_limit)" for p in ("asr", "ocr", "train")]
    again = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=180)
    assert again.stdout.splitlines() == [f"pool {p}: 1 (set before, kept)" for p in ("asr", "ocr", "train")]
    old = dict(os.environ)
    os.environ.update(env)
    try:
        with dg.DagsterInstance.from_config(str(home)) as instance:
            limits = {p.name: (p.limit, p.from_default) for p in instance.event_log_storage.get_pool_limits()}
    finally:
        os.environ.clear()
        os.environ.update(old)
    # from_default False: a step's claim no longer creates the pool's limit.
    assert limits == {"asr": (1, False), "ocr": (1, False), "train": (1, False)}


def test_two_processes_write_one_lake_with_a_postgres_catalog(postgres: str, tmp_path: Path) -> None:
    lake = LakeConfig(catalog=postgres, data_path=str(tmp_path / "shared" / "lake") + "/")
    replace_rows(lake, "t", pl.DataFrame({"vod_id": ["seed"], "i": [0]}), "vod_id", ["seed"])
    code = (
        "import sys, polars as pl\n"
        "from chatlab.storage import LakeConfig, replace_rows\n"
        "lake = LakeConfig(sys.argv[1], sys.argv[2])\n"
        "for k in range(3):\n"
        "    vod = f'{sys.argv[3]}_{k}'\n"
        "    replace_rows(lake, 't', pl.DataFrame({'vod_id': [vod] * 20, 'i': list(range(20))}), 'vod_id', [vod])\n"
    )
    procs = [subprocess.Popen([sys.executable, "-c", code, lake.catalog, lake.data_path, w], stderr=subprocess.PIPE, text=True) for w in "ab"]
    for p in procs:
        assert p.wait(120) == 0, p.stderr.read()
    with connect(lake=lake) as con:
        assert con.execute("SELECT count(*), count(DISTINCT vod_id) FROM chatlab.t WHERE vod_id <> 'seed'").fetchone() == (120, 6)
    assert list((tmp_path / "shared" / "lake").rglob("*.parquet"))  # the rows are Parquet on the shared path
