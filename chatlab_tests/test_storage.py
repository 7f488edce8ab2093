"""DuckLake tables (chatlab.storage): one transaction per partition replace, several writing
processes at once, readers that never block them, snapshots, and a conflict that retries its step."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import dagster as dg
import duckdb
import polars as pl
import pytest

from chatlab.resources import DuckLakeIOManager
from chatlab.storage import LakeConfig, connect, current_snapshot, read_rows, replace_rows, table_names


@pytest.fixture
def lake(tmp_path: Path) -> LakeConfig:
    return LakeConfig(catalog=f"sqlite:{tmp_path / 'lake.sqlite'}", data_path=str(tmp_path / "lake") + "/")


def frame(vod: str, n: int, start: int = 0) -> pl.DataFrame:
    return pl.DataFrame({"vod_id": [vod] * n, "i": list(range(start, start + n))}, schema={"vod_id": pl.String, "i": pl.Int64})


def rows(lake: LakeConfig, sql: str) -> list[tuple]:
    with connect(lake=lake) as con:
        return con.execute(sql).fetchall()


def _python(code: str, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code), *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def test_killed_writer_between_delete_and_insert_leaves_the_old_rows(lake: LakeConfig) -> None:
    replace_rows(lake, "t", frame("a", 3), "vod_id", ["a"])
    writer = _python(
        """
        import sys, time
        from chatlab.storage import LakeConfig, connect
        con = connect(read_only=False, lake=LakeConfig(sys.argv[1], sys.argv[2]))
        con.execute("BEGIN")
        con.execute("DELETE FROM chatlab.t WHERE vod_id = 'a'")
        print("deleted", flush=True)
        time.sleep(60)
        """,
        lake.catalog, lake.data_path,
    )
    assert writer.stdout.readline().strip() == "deleted", writer.stderr.read()
    writer.send_signal(signal.SIGKILL)
    writer.wait(10)
    assert rows(lake, "SELECT vod_id, count(*) FROM chatlab.t GROUP BY 1") == [("a", 3)]
    replace_rows(lake, "t", frame("a", 2), "vod_id", ["a"])  # nothing left locked by the dead writer
    assert rows(lake, "SELECT count(*) FROM chatlab.t") == [(2,)]


def test_a_failed_insert_keeps_the_old_rows(lake: LakeConfig) -> None:
    replace_rows(lake, "t", frame("a", 3), "vod_id", ["a"])
    bad = pl.DataFrame({"vod_id": ["a"], "i": ["not a number"]})
    with pytest.raises(duckdb.Error):
        replace_rows(lake, "t", bad, "vod_id", ["a"])
    assert rows(lake, "SELECT count(*) FROM chatlab.t WHERE vod_id = 'a'") == [(3,)]


def test_several_processes_write_while_a_reader_stays_open(lake: LakeConfig) -> None:
    replace_rows(lake, "t", frame("seed", 1), "vod_id", ["seed"])  # the catalog and table exist
    reader = connect(lake=lake)  # held open all along, querying: it must block no one
    code = """
        import sys
        import polars as pl
        from chatlab.storage import LakeConfig, replace_rows
        lake, who = LakeConfig(sys.argv[1], sys.argv[2]), sys.argv[3]
        for rep in range(2):
            for k in range(3):
                vod = f"{who}_{k}"
                replace_rows(lake, "t", pl.DataFrame({"vod_id": [vod] * 50, "i": list(range(rep, rep + 50))}), "vod_id", [vod])
        print("ok")
    """
    writers = [_python(code, lake.catalog, lake.data_path, w) for w in ("a", "b", "c")]
    seen = []
    while any(w.poll() is None for w in writers):
        seen.append(reader.execute("SELECT count(*) FROM chatlab.t").fetchone()[0])
        time.sleep(0.05)
    for w in writers:
        out, err = w.communicate()
        assert w.returncode == 0 and out.strip() == "ok", err
    reader.close()
    # 9 partitions of 50 rows from the last round (i = 1..50), no partition doubled or lost.
    assert rows(lake, "SELECT count(*), count(DISTINCT vod_id), min(i), max(i) FROM chatlab.t WHERE vod_id <> 'seed'") == [(450, 9, 1, 50)]
    assert rows(lake, "SELECT count(*) FROM (SELECT vod_id, i FROM chatlab.t GROUP BY ALL HAVING count(*) > 1)") == [(0,)]
    assert all(n % 50 == 1 for n in seen), seen  # a reader sees whole partitions only (plus the seed row)


def test_snapshots_empty_frames_and_new_columns(lake: LakeConfig) -> None:
    first = replace_rows(lake, "t", frame("a", 3), "vod_id", ["a"])
    replace_rows(lake, "t", frame("a", 1).with_columns(note=pl.lit("new")), "vod_id", ["a"])
    replace_rows(lake, "empty", pl.DataFrame(schema={"vod_id": pl.String, "x": pl.Float64}), "vod_id", ["a"])
    with connect(lake=lake) as con:
        assert table_names(con) == {"t", "empty"}
        assert con.execute("SELECT count(*) FROM chatlab.empty").fetchone() == (0,)
        assert con.execute("SELECT i, note FROM chatlab.t").fetchall() == [(0, "new")]
        assert current_snapshot(con) > first
    with connect(lake=lake, snapshot=first) as old:
        assert old.execute("SELECT count(*) FROM chatlab.t").fetchone() == (3,)
    with pytest.raises(LookupError, match="chatlab.missing is not in the lake"):
        read_rows(lake, "missing")


def test_a_write_conflict_retries_the_step_and_the_vod_succeeds(lake: LakeConfig, tmp_path: Path) -> None:
    replace_rows(lake, "numbers", frame("v", 1), "vod_id", ["v"])
    parts = dg.DynamicPartitionsDefinition(name="vods")

    @dg.asset(partitions_def=parts, metadata={"partition_expr": "vod_id"})
    def numbers(context) -> pl.DataFrame:
        return frame(context.partition_key, 5)

    # Another process holds the catalog's write lock (in this process SQLite's POSIX locks would
    # not conflict) until the step has been sent to run again: every commit meanwhile fails with
    # "database is locked", the IO manager gives up after 2 attempts and the step is retried.
    holder = _python(
        """
        import sqlite3, sys
        db = sqlite3.connect(sys.argv[1], isolation_level=None)
        db.execute("BEGIN EXCLUSIVE")
        print("locked", flush=True)
        sys.stdin.readline()
        db.execute("COMMIT")
        """,
        lake.catalog.split(":", 1)[1],
    )
    assert holder.stdout.readline().strip() == "locked", holder.stderr.read()
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("vods", ["v"])

    def release_after_retry() -> None:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            if any(e.dagster_event_type == dg.DagsterEventType.STEP_UP_FOR_RETRY for r in instance.get_runs()
                   for e in instance.all_logs(r.run_id)):
                break
            time.sleep(0.2)
        release.write("go\n")
        release.flush()

    import threading

    release = holder.stdin
    watcher = threading.Thread(target=release_after_retry, daemon=True)
    watcher.start()
    io = DuckLakeIOManager(catalog=lake.catalog, data_path=lake.data_path, write_attempts=2)
    result = dg.materialize([numbers], partition_key="v", instance=instance, resources={"io_manager": io}, raise_on_error=False)
    watcher.join(10)
    holder.wait(30)
    retries = [e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_UP_FOR_RETRY]
    assert result.success and retries
    assert rows(lake, "SELECT count(*) FROM chatlab.numbers WHERE vod_id = 'v'") == [(5,)]


def test_two_tables_are_replaced_in_one_transaction(lake: LakeConfig) -> None:
    """transcript_tables' write: segments and words of a VOD change together or not at all."""
    from chatlab.storage import replace_tables

    first = replace_tables(lake, {"segs": frame("a", 3), "words": frame("a", 30)}, "vod_id", ["a"])
    bad_words = pl.DataFrame({"vod_id": ["a"], "i": ["not a number"]})
    with pytest.raises(duckdb.Error):
        replace_tables(lake, {"segs": frame("a", 5, start=100), "words": bad_words}, "vod_id", ["a"])
    # The failed second table took the first one's new rows with it.
    assert rows(lake, "SELECT count(*), min(i) FROM chatlab.segs") == [(3, 0)]
    assert rows(lake, "SELECT count(*) FROM chatlab.words") == [(30,)]
    second = replace_tables(lake, {"segs": frame("a", 5, start=100), "words": frame("a", 7)}, "vod_id", ["a"])
    assert second == first + 1  # one commit, one snapshot, for both tables
    with connect(lake=lake) as con:
        assert con.execute("SELECT count(*) FROM chatlab.segs").fetchone() == (5,)
        assert con.execute("SELECT count(*) FROM chatlab.words").fetchone() == (7,)
    with connect(lake=lake, snapshot=first) as old:
        assert old.execute("SELECT (SELECT count(*) FROM chatlab.segs), (SELECT count(*) FROM chatlab.words)").fetchone() == (3, 30)


def test_compact_keeps_every_recorded_dataset_version(tmp_path: Path) -> None:
    """`chatlab storage compact`: small files merged, unrecorded old snapshots expired and their
    files deleted; a snapshot that a training set (or adapter, evaluation, export) records still
    reads the same rows, and so does the current one."""
    import json

    from chatlab.cli import main
    from chatlab.config import layout as make_layout
    from chatlab.storage import lake_config
    from chatlab.storage.compact import compact

    layout = make_layout(tmp_path / "data").ensure()
    lake = lake_config(layout, storage={})
    snaps = [replace_rows(lake, "t", frame(v, 5, start=rep), "vod_id", [v]) for rep in range(3) for v in "abcd"]
    recorded, adapter_snap = snaps[5], snaps[8]
    card = layout.artifacts / "training_set" / "ds-1" / "card.json"
    card.parent.mkdir(parents=True)
    card.write_text(json.dumps({"dataset_version": "ds-1", "lake_snapshot": recorded}))
    from chatlab.train.lora import ADAPTER_STAMP

    stamp = layout.models / "adapters" / "ds-2" / ADAPTER_STAMP
    stamp.parent.mkdir(parents=True)
    stamp.write_text(json.dumps({"dataset_version": "ds-2", "training_set": {"lake_snapshot": adapter_snap}}))
    now = rows(lake, "SELECT * FROM chatlab.t ORDER BY ALL")
    with connect(lake=lake, snapshot=recorded) as con:
        then = con.execute("SELECT * FROM chatlab.t ORDER BY ALL").fetchall()
    with connect(lake=lake, snapshot=adapter_snap) as con:
        then_adapter = con.execute("SELECT * FROM chatlab.t ORDER BY ALL").fetchall()
    files = len(list((tmp_path / "data" / "lake").rglob("*.parquet")))

    assert compact(layout, lake, keep_hours=24).expired == []  # everything is younger than a day
    report = compact(layout, lake, keep_hours=0)
    assert set(report.kept_recorded) == {recorded, adapter_snap}
    assert report.expired == [s for s in [0, *snaps] if s not in (recorded, adapter_snap)]  # the current one is the merge's
    assert report.files_after < report.files_before and files == len(snaps)  # one file per write before
    with connect(lake=lake, snapshot=recorded) as con:
        assert con.execute("SELECT * FROM chatlab.t ORDER BY ALL").fetchall() == then
    with connect(lake=lake, snapshot=adapter_snap) as con:
        assert con.execute("SELECT * FROM chatlab.t ORDER BY ALL").fetchall() == then_adapter
    assert rows(lake, "SELECT * FROM chatlab.t ORDER BY ALL") == now
    with pytest.raises(duckdb.Error, match="snapshot"):
        connect(lake=lake, snapshot=snaps[0])
    assert main(["--data", str(layout.root), "storage", "compact", "--keep-hours", "0"]) == 0


def test_object_storage_for_the_tables_is_refused_clearly(tmp_path: Path) -> None:
    from chatlab.config import layout as make_layout
    from chatlab.storage import lake_config

    with pytest.raises(ValueError, match="object storage is not supported; give a directory every worker sees"):
        lake_config(make_layout(tmp_path), storage={"data_path": "s3://bucket/lake"})
