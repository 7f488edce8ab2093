"""`chatlab ui`: a non-loopback address is refused unless made explicit, and stopping it (SIGTERM,
or even SIGKILL) stops `dagster dev` and every process it started."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from chatlab.cli import main
from chatlab.process_group import process_tree

CHATLAB = [sys.executable, "-m", "chatlab.cli"]


def test_ui_refuses_a_public_host_without_the_flag(layout, capsys):
    assert main(["ui", "--host", "0.0.0.0", "--port", "1"]) == 1
    err = capsys.readouterr().err
    assert "--host 0.0.0.0" in err and "no login" in err and "--allow-remote" in err


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _descendants(pid: int) -> set[int]:
    return set(process_tree(pid)) - {pid}


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _serving(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/server_info", timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_stopping_ui_stops_dagster_dev_and_its_children(layout, sig, tmp_path):
    port = _free_port()
    log = (tmp_path / "ui.log").open("w")
    ui = subprocess.Popen(CHATLAB + ["ui", "--port", str(port)], stdout=log, stderr=subprocess.STDOUT,
                          env=dict(os.environ), start_new_session=True)
    started: set[int] = set()
    try:
        deadline = time.monotonic() + 240
        while not _serving(port):
            assert ui.poll() is None, (tmp_path / "ui.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "the Dagster UI did not start within 240 s"
            time.sleep(1)
        started = _descendants(ui.pid)
        assert len(started) >= 3, started  # dagster dev, its webserver and daemon (and a code server)
        ui.send_signal(sig)
        ui.wait(timeout=90)
        deadline = time.monotonic() + 90
        while any(_alive(p) for p in started) and time.monotonic() < deadline:
            time.sleep(0.5)
        left = sorted(p for p in started if _alive(p))
        assert not left, [Path(f"/proc/{p}/cmdline").read_text().replace("\0", " ")[:200] for p in left]
        assert not _serving(port)
    finally:  # whatever the outcome, nothing of this test keeps running
        for p in ({ui.pid} | started | _descendants(ui.pid)):
            if _alive(p):
                os.kill(p, signal.SIGKILL)
        ui.wait()
