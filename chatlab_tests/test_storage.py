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
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


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

    # Another process holds the catalog's write lock for 4 s (in this process SQLite's POSIX locks
    # would not conflict): every commit meanwhile fails with "database is locked", the IO manager
    # gives up after 2 attempts and the step runs again, until the lock is gone.
    holder = _python(
        """
        import sqlite3, sys, time
        db = sqlite3.connect(sys.argv[1], isolation_level=None)
        db.execute("BEGIN EXCLUSIVE")
        print("locked", flush=True)
        time.sleep(4)
        db.execute("COMMIT")
        """,
        lake.catalog.split(":", 1)[1],
    )
    assert holder.stdout.readline().strip() == "locked", holder.stderr.read()
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("vods", ["v"])
    io = DuckLakeIOManager(catalog=lake.catalog, data_path=lake.data_path, write_attempts=2)
    result = dg.materialize([numbers], partition_key="v", instance=instance, resources={"io_manager": io}, raise_on_error=False)
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
