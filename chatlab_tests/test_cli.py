"""The `chatlab` command as a user runs it: ingest a file, materialize, see the status."""

import os
import subprocess
import sys
from pathlib import Path
from chatlab.config import Layout
from chatlab.storage import connect


CHATLAB = str(Path(sys.executable).with_name("chatlab"))


def chatlab(*args, data: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, CHATLAB_DATA=str(data))
    env.pop("DAGSTER_HOME", None)
    return subprocess.run([CHATLAB, *args], env=env, capture_output=True, text=True, timeout=300)


def test_ingest_materialize_status(tmp_path):
    from chatlab.demo import make_demo_stream

    data = tmp_path / "data"
    # a real stream (speech + chat) so every stage of the per-VOD job has something to work on
    stream = make_demo_stream(tmp_path / "elsewhere", "source", seed=3, minutes=1.0)
    video = stream.media.rename(tmp_path / "Late Night Stream.mp4")
    chat = stream.chat

    r = chatlab("ingest", str(video), "--chat", str(chat), "--name", "late_night", data=data)
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in (data / "inbox").iterdir()) == ["late_night.json", "late_night.mp4"]
    assert video.exists()  # copied, never moved

    r = chatlab("ingest", str(video), "--name", "late_night", data=data)
    assert r.returncode == 1 and "already in the inbox" in r.stderr

    r = chatlab("materialize", data=data)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "[1/1] late_night" in r.stdout and "  ok (" in r.stdout
    last = r.stdout.splitlines()[-1]
    assert last.startswith("late_night") and "-" not in last.split()[1:], last  # every asset built

    with connect(Layout(data)) as con:
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
