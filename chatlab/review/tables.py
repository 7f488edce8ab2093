"""Every table the review page reads, in one place, so the storage behind it can change here alone.

The pipeline's writer must never wait for the page: each read opens a read-only connection,
copies what it needs into Polars and closes it at once (milliseconds to a second for a
million-message VOD). With the tables in DuckLake (``chatlab.storage``) a reader reads a snapshot
and never holds a lock; with the older single DuckDB file a read that meets the writer's lock
retries briefly and then says so. Results are cached per catalog/file modification time, so a
page that polls does not reopen the tables while nothing changed.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from chatlab.config import Layout
from chatlab.resources import SCHEMA

_LOCK_RETRIES = 20
_cache: dict[tuple, Any] = {}
_cache_lock = threading.Lock()


class TablesBusy(RuntimeError):
    """The pipeline holds the table file longer than the page waits."""


try:  # DuckLake (chatlab.storage) where it is installed, else the single DuckDB file
    from chatlab import storage
except ImportError:  # pragma: no cover - the older layout
    storage = None


def _files(layout: Layout) -> list[Path]:
    """The files whose change means the tables changed; [] when that cannot be told (a server catalog)."""
    if storage is None:
        f = layout.duckdb
        return [f, f.with_name(f.name + ".wal")]
    lake = storage.lake_config(layout)
    if lake.kind in ("sqlite", "duckdb"):
        f = Path(lake.target)
        return [f, f.with_name(f.name + "-wal"), f.with_name(f.name + ".wal")]
    return []


def _stamp(layout: Layout) -> tuple:
    files = _files(layout)
    if not files:
        return (int(time.time() / 2),)  # a PostgreSQL catalog: re-read at most every 2 s
    return tuple(p.stat().st_mtime_ns if p.exists() else 0 for p in files)


def _exists(layout: Layout) -> bool:
    files = _files(layout)
    return not files or files[0].exists()


_lake: dict[str, duckdb.DuckDBPyConnection] = {}
_lake_lock = threading.Lock()


def _run(layout: Layout, sql: str, params: list[Any]) -> pl.DataFrame:
    if storage is None:  # one DuckDB file: open, read, close, so the writer's lock is free again at once
        with duckdb.connect(str(layout.duckdb), read_only=True) as con:
            return con.execute(sql, params).pl()
    # DuckLake: a read-only reader never blocks a writer and sees the snapshot current when each
    # query begins, so one connection is kept (attaching costs more than most queries)
    with _lake_lock:
        con = _lake.get(str(layout.root))
        if con is None:
            con = _lake[str(layout.root)] = storage.connect(layout, read_only=True)
        try:
            return con.execute(sql, params).pl()
        except duckdb.Error:
            _lake.pop(str(layout.root), None)
            con.close()
            raise


def _query(layout: Layout, sql: str, params: list[Any] | None = None) -> pl.DataFrame:
    if not _exists(layout):
        return pl.DataFrame()
    delay = 0.05
    for attempt in range(_LOCK_RETRIES):
        try:
            return _run(layout, sql, params or [])
        except duckdb.IOException as e:  # the writer holds the lock: wait a little, never block it
            if "lock" not in str(e).lower() or attempt == _LOCK_RETRIES - 1:
                raise TablesBusy(f"tables busy (the pipeline is writing them): {e}") from e
            time.sleep(delay)
            delay = min(delay * 1.5, 0.5)
        except duckdb.CatalogException:
            return pl.DataFrame()  # the table is not built yet
    raise AssertionError("unreachable")


_key_locks: dict[tuple, threading.Lock] = {}


def cached(layout: Layout, key: str, sql: str, params: list[Any] | None = None) -> pl.DataFrame:
    k = (str(layout.root), _stamp(layout), key, tuple(params or ()))
    with _cache_lock:
        if k in _cache:
            return _cache[k]
        lock = _key_locks.setdefault(k, threading.Lock())
    with lock:  # two requests for the same rows read them once
        with _cache_lock:
            if k in _cache:
                return _cache[k]
        df = _query(layout, sql, params)
        with _cache_lock:
            if len(_cache) > 64:
                _cache.clear()
                _key_locks.clear()
            _cache[k] = df
    return df


def table_names(layout: Layout) -> set[str]:
    where = "table_schema = ?" + (" and table_catalog = current_database()" if storage is not None else "")
    df = cached(layout, "tables", f"select distinct table_name from information_schema.tables where {where}", [SCHEMA])
    return set(df["table_name"].to_list()) if df.height else set()


def _if_table(layout: Layout, table: str, key: str, sql: str, params: list[Any]) -> pl.DataFrame:
    if table not in table_names(layout):
        return pl.DataFrame()
    return cached(layout, key, sql, params)


def per_vod(layout: Layout, table: str, vod_id: str, columns: str = "*", order: str = "") -> pl.DataFrame:
    """Rows of one VOD from ``chatlab.<table>`` (``table`` and ``columns`` are chatlab's own names)."""
    sql = f"select {columns} from {SCHEMA}.{table} where vod_id = ?" + (f" order by {order}" if order else "")
    return _if_table(layout, table, f"{table}:{columns}:{order}", sql, [vod_id])


def all_rows(layout: Layout, table: str, columns: str = "*") -> pl.DataFrame:
    return _if_table(layout, table, f"all:{table}:{columns}", f"select {columns} from {SCHEMA}.{table}", [])


def counts(layout: Layout, table: str) -> dict[str, int]:
    df = _if_table(layout, table, f"count:{table}", f"select vod_id, count(*) as n from {SCHEMA}.{table} group by 1", [])
    return dict(zip(df["vod_id"].to_list(), df["n"].to_list())) if df.height else {}


def peek(layout: Layout, key: str, params: list[Any]) -> pl.DataFrame | None:
    """What ``cached`` holds for this key now, without reading."""
    with _cache_lock:
        return _cache.get((str(layout.root), _stamp(layout), key, tuple(params)))


CHAT_COLUMNS = "msg_id, t_s, user_hash, text, keep, drop_rule"


def chat_rows(layout: Layout, vod_id: str, start: int, count: int) -> pl.DataFrame:
    """Rows start..start+count of ``chat``: from the whole chat when it is read already, else one
    query for just these rows (the first screen of a million-message VOD does not wait for all)."""
    full = peek(layout, f"chat_clean:{CHAT_COLUMNS}:t_s, msg_id", [vod_id])
    if full is not None:
        return full.with_row_index("i").slice(start, count) if full.height else full
    if "chat_clean" not in table_names(layout):
        return pl.DataFrame()
    sql = (f"select {CHAT_COLUMNS} from {SCHEMA}.chat_clean where vod_id = ? order by t_s, msg_id limit {int(count)} offset {int(start)}")
    df = cached(layout, f"chat_rows:{start}:{count}", sql, [vod_id])
    return df.with_row_index("i", offset=start) if df.height else df


def chat(layout: Layout, vod_id: str) -> pl.DataFrame:
    """chat_clean of a VOD in chat-clock order, with a row index ``i`` (the page addresses messages by it)."""
    df = per_vod(layout, "chat_clean", vod_id, CHAT_COLUMNS, "t_s, msg_id")
    return df.with_row_index("i") if df.height else df


def chat_times(layout: Layout, vod_id: str) -> pl.DataFrame:
    """msg_id, t_s, keep of a VOD's chat in the order (and so with the row index) of ``chat``: a
    quarter of the full read, all the timeline needs."""
    df = per_vod(layout, "chat_clean", vod_id, "msg_id, t_s, keep", "t_s, msg_id")
    return df.with_row_index("i") if df.height else df


def pairs(layout: Layout, vod_id: str) -> pl.DataFrame:
    return per_vod(layout, "aligned_pairs", vod_id)



def write_table(layout: Layout, table: str, df: pl.DataFrame) -> None:
    """Replace ``chatlab.<table>`` by ``df`` (the bench's synthetic VOD; the pipeline writes through its IO manager)."""
    if storage is None:
        arrow = df.to_arrow()  # noqa: F841 - read by DuckDB
        with duckdb.connect(str(layout.duckdb)) as con:
            con.execute(f"create schema if not exists {SCHEMA}")
            con.execute(f"create or replace table {SCHEMA}.{table} as select * from arrow")
        return
    storage.replace_rows(storage.lake_config(layout), table, df)
