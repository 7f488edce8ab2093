"""The `chatlab` command as a user runs it: ingest a file, materialize, see the status."""

import os
import subprocess
import sys
from pathlib import Path

import duckdb

CHATLAB = str(Path(sys.executable).with_name("chatlab"))


def chatlab(*args, data: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, CHATLAB_DATA=str(data))
    env.pop("DAGSTER_HOME", None)
    return subprocess.run([CHATLAB, *args], env=env, capture_output=True, text=True, timeout=300)


def test_ingest_materialize_status(tmp_path, media_factory):
    data = tmp_path / "data"
    video = media_factory(tmp_path / "Late Night Stream.mp4", 3.0)
    chat = tmp_path / "export.json"
    chat.write_text("{}")

    r = chatlab("ingest", str(video), "--chat", str(chat), "--name", "late_night", data=data)
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in (data / "inbox").iterdir()) == ["late_night.json", "late_night.mp4"]
    assert video.exists()  # copied, never moved

    r = chatlab("ingest", str(video), "--name", "late_night", data=data)
    assert r.returncode == 1 and "already in the inbox" in r.stderr

    r = chatlab("materialize", data=data)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "[1/1] late_night" in r.stdout and "ok (audio, vod_source)" in r.stdout
    assert "late_night" in r.stdout.splitlines()[-1] and "yes (1 rows)" in r.stdout

    with duckdb.connect(str(data / "tables.duckdb"), read_only=True) as con:
        assert con.execute("select vod_id from chatlab.audio").fetchall() == [("late_night",)]

    r = chatlab("status", data=data)
    assert r.returncode == 0 and "1 VOD partition(s)" in r.stdout


def test_clear_errors(tmp_path):
    data = tmp_path / "data"
    r = chatlab("ingest", str(tmp_path / "nope.mp4"), data=data)
    assert r.returncode == 1 and "nope.mp4: no such file" in r.stderr
    (tmp_path / "doc.pdf").write_text("x")
    r = chatlab("ingest", str(tmp_path / "doc.pdf"), data=data)
    assert r.returncode == 1 and "not a supported video or audio file" in r.stderr
    r = chatlab("materialize", "ghost", data=data)
    assert r.returncode == 1 and "ghost" in r.stderr
