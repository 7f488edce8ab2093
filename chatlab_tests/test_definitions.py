"""The code location loads, and the real webserver serves its asset graph over GraphQL."""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import dagster as dg

from chatlab.definitions import defs
from chatlab.defs.jobs import VOD_JOB, per_vod_assets

REPO = Path(__file__).resolve().parents[1]


def test_definitions_load():
    dg.Definitions.validate_loadable(defs)
    keys = {k.to_user_string() for k in defs.resolve_all_asset_keys()}
    assert {"vod_source", "audio"} <= keys
    job = defs.resolve_job_def(VOD_JOB)
    assert job.partitions_def.name == "vods"
    assert {k.to_user_string() for k in per_vod_assets(defs)} >= {"vod_source", "audio"}
    assert defs.resolve_sensor_def("inbox_sensor").job_name == VOD_JOB
    # Tables are in DuckLake, which takes many writers: no table-writing step waits for (or holds)
    # a one-writer slot while it computes; pools are only for the heavy engines.
    for spec in defs.resolve_all_asset_specs():
        if spec.metadata.get("partition_expr"):
            assets_def = defs.resolve_assets_def(spec.key)
            assert all(n.pool in (None, "asr", "ocr", "train") for n in assets_def.node_def.iterate_op_defs()), spec.key


def test_dagster_yaml_is_a_valid_instance_config(tmp_path):
    (tmp_path / "dagster.yaml").write_text((REPO / "dagster.yaml").read_text())
    with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
        assert instance.get_concurrency_config().pool_config.default_pool_limit == 1


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def graphql(port: int, query: str) -> dict:
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",
        data=json.dumps({"query": query}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read())


def test_webserver_serves_the_asset_graph(tmp_path):
    port = free_port()
    home = tmp_path / "dagster_home"
    home.mkdir()
    env = dict(os.environ, DAGSTER_HOME=str(home), CHATLAB_DATA=str(tmp_path / "data"))
    exe = Path(sys.executable).with_name("dagster-webserver")
    proc = subprocess.Popen(
        [str(exe), "-h", "127.0.0.1", "-p", str(port), "-w", str(REPO / "workspace.yaml")],
        cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        deadline = time.time() + 120
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/server_info", timeout=5) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
            assert time.time() < deadline, "webserver did not come up in 120 s"
            time.sleep(1)
        data = {}
        while time.time() < deadline:  # the code location loads in the background
            data = graphql(port, "{ assetNodes { assetKey { path } partitionDefinition { name } } }")
            if data.get("data", {}).get("assetNodes"):
                break
            time.sleep(1)
        nodes = {tuple(n["assetKey"]["path"]): n for n in data["data"]["assetNodes"]}
        assert ("vod_source",) in nodes and ("audio",) in nodes
        sensors = graphql(port, '{ sensorsOrError(repositorySelector: {repositoryName: "__repository__", repositoryLocationName: "chatlab"}) { ... on Sensors { results { name } } } }')
        assert "inbox_sensor" in [s["name"] for s in sensors["data"]["sensorsOrError"]["results"]]
    finally:
        proc.terminate()
        proc.wait(timeout=30)
