"""chatlab's tables in DuckLake: Parquet files under a data path, and a catalog that says which
files make up each table at each snapshot. Every reader and writer is a plain DuckDB connection
with the lake attached as ``lake`` and made the default catalog, so ``chatlab.<table>`` works as
it did with one DuckDB file.

Why DuckLake with a SQLite catalog by default: a DuckDB file allows one writing process (the
old single-writer lock), and a DuckLake catalog kept in a DuckDB file has the same limit, while a
SQLite catalog lets several local processes commit (a commit that meets another one gets
"database is locked" and is retried here). A cluster puts the catalog in PostgreSQL and the data
on a path every worker sees; the SQL is the same.

Settings (environment first, then ``[storage]`` in chatlab.toml, then the defaults):

- ``CHATLAB_LAKE_CATALOG`` / ``catalog``: ``sqlite:<file>`` (default ``<data>/lake.sqlite``),
  ``postgres:<libpq conninfo>`` (e.g. ``postgres:dbname=chatlab host=db user=chatlab``) or
  ``duckdb:<file>`` (one process at a time);
- ``CHATLAB_LAKE_DATA`` / ``data_path``: the Parquet directory (default ``<data>/lake/``), a
  local or shared-filesystem path (object storage URLs are refused: not supported).

Extensions load offline from the ``duckdb-extension-*`` wheels, by path.
"""

from __future__ import annotations

import importlib
import os
import random
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from chatlab import config as cfg

CATALOG_ENV = "CHATLAB_LAKE_CATALOG"
DATA_ENV = "CHATLAB_LAKE_DATA"
ALIAS = "lake"
SCHEMA = "chatlab"
KINDS = ("sqlite", "postgres", "duckdb")
# The wheel's file name -> the name DuckDB needs to find the extension's entry point.
_EXTENSIONS = {
    "ducklake": ("duckdb_extension_ducklake", "ducklake"),
    "sqlite": ("duckdb_extension_sqlite", "sqlite"),
    "postgres": ("duckdb_extension_postgres", "postgres"),
}
_ENTRYPOINT = {"ducklake": "ducklake", "sqlite": "sqlite_scanner", "postgres": "postgres_scanner"}


class LakeWriteConflict(RuntimeError):
    """A write that met other writers' commits on every attempt; the step's RetryPolicy runs it again."""


@dataclass(frozen=True)
class LakeConfig:
    """Where the catalog and the Parquet files are."""

    catalog: str  # "sqlite:<file>", "postgres:<conninfo>" or "duckdb:<file>"
    data_path: str  # a directory; every writer must see the same one

    @property
    def kind(self) -> str:
        return self.catalog.split(":", 1)[0]

    @property
    def target(self) -> str:
        return self.catalog.split(":", 1)[1] if ":" in self.catalog else ""

    def describe(self) -> str:
        where = self.target if self.kind != "postgres" else _hide_password(self.target)
        return f"DuckLake, {self.kind} catalog {where}, data in {self.data_path}"


def lake_config(layout: cfg.Layout | None = None, storage: dict[str, Any] | None = None) -> LakeConfig:
    """The lake for this data directory: $CHATLAB_LAKE_CATALOG / $CHATLAB_LAKE_DATA, else the
    ``[storage]`` section (``storage`` if given), else ``<data>/lake.sqlite`` and ``<data>/lake/``."""
    layout = layout or cfg.layout()
    section = storage if storage is not None else cfg.section(cfg.load_config(), "storage")
    catalog = os.environ.get(CATALOG_ENV) or section.get("catalog") or f"sqlite:{layout.lake_catalog}"
    data = os.environ.get(DATA_ENV) or section.get("data_path") or str(layout.lake_data)
    kind = check_catalog(catalog)
    if kind in ("sqlite", "duckdb"):
        catalog = f"{kind}:{Path(catalog.split(':', 1)[1]).expanduser().resolve()}"
    return LakeConfig(catalog=catalog, data_path=check_data_path(data))


def check_data_path(data: str) -> str:
    """The Parquet directory, absolute, ending in a slash; an error for object storage."""
    if "://" in data:
        # DuckDB reads s3:// through its httpfs extension, which chatlab neither ships nor has
        # tested; a clear refusal beats an attempt to download the extension at run time.
        raise ValueError(f"storage data_path {data!r}: object storage is not supported; give a directory every "
                         "worker sees (a shared filesystem such as NFS), see the README's 'Beyond one machine'")
    return str(Path(data).expanduser().resolve()).rstrip("/") + "/"


def check_catalog(catalog: str) -> str:
    """The catalog's kind; an error unless it is one of KINDS followed by a colon."""
    kind = catalog.split(":", 1)[0]
    if kind not in KINDS or ":" not in catalog:
        raise ValueError(f"storage catalog {catalog!r}: expected one of {', '.join(k + ':...' for k in KINDS)}")
    return kind


def _hide_password(conninfo: str) -> str:
    return " ".join("password=***" if p.startswith("password=") else p for p in conninfo.split())


def _quote(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def _extension_file(name: str) -> Path:
    """The extension's file, under the name DuckDB loads it by (copied once into a cache dir)."""
    package, stem = _EXTENSIONS[name]
    try:
        module = importlib.import_module(package)
    except ModuleNotFoundError as e:
        raise RuntimeError(f"DuckDB extension {name!r} is not installed: pip install {package.replace('_', '-')}") from e
    src = Path(module.__file__).parent / "extensions" / f"v{duckdb.__version__}" / f"{stem}.duckdb_extension"
    if not src.exists():
        have = ", ".join(p.name for p in (Path(module.__file__).parent / "extensions").iterdir())
        raise RuntimeError(f"{package} has no extension for duckdb {duckdb.__version__} (it has {have}); pin the same versions")
    entry = _ENTRYPOINT[name]
    if stem == entry:
        return src
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "chatlab" / "duckdb-extensions" / duckdb.__version__
    dst = cache / f"{entry}.duckdb_extension"
    if not dst.exists() or dst.stat().st_size != src.stat().st_size:
        cache.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=cache, prefix=f".{entry}.")
        os.close(fd)
        shutil.copyfile(src, tmp)
        os.replace(tmp, dst)  # several processes may copy at once; each rename is whole
    return dst


def _attach(con: duckdb.DuckDBPyConnection, lake: LakeConfig, read_only: bool, snapshot: int | None) -> None:
    con.execute(f"LOAD {_quote(str(_extension_file('ducklake')))}")
    if lake.kind in ("sqlite", "postgres"):
        con.execute(f"LOAD {_quote(str(_extension_file(lake.kind)))}")
    uri = f"ducklake:{lake.target}" if lake.kind == "duckdb" else f"ducklake:{lake.catalog}"
    # Every row goes to Parquet (DuckLake would keep writes of up to 10 rows inside the catalog).
    opts = [f"DATA_PATH {_quote(lake.data_path)}", "DATA_INLINING_ROW_LIMIT 0"]
    if read_only or snapshot is not None:
        opts.append("READ_ONLY")
    if snapshot is not None:
        opts.append(f"SNAPSHOT_VERSION {int(snapshot)}")
    con.execute(f"ATTACH {_quote(uri)} AS {ALIAS} ({', '.join(opts)})")
    con.execute(f"USE {ALIAS}")


def _catalog_missing(lake: LakeConfig) -> bool:
    return lake.kind in ("sqlite", "duckdb") and not Path(lake.target).exists()


def connect(
    layout: cfg.Layout | None = None,
    read_only: bool = True,
    snapshot: int | None = None,
    lake: LakeConfig | None = None,
) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection to chatlab's tables: ``SELECT * FROM chatlab.aligned_pairs`` works on it.

    Read-only by default: a reader never blocks a writer (it reads the snapshot that was current
    when its query began) and can stay open while runs write. ``snapshot`` opens the tables as
    they were at that lake snapshot (see ``current_snapshot``). Close it when done (``with``)."""
    lake = lake or lake_config(layout)
    if _catalog_missing(lake):
        Path(lake.target).parent.mkdir(parents=True, exist_ok=True)
        _wal(lake)  # before DuckLake's first write
        if read_only or snapshot is not None:
            _init(lake)
    if "://" not in lake.data_path:
        Path(lake.data_path).mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    try:
        _retry(lambda: _attach(con, lake, read_only, snapshot), what=f"attach {lake.describe()}")
    except BaseException:
        con.close()
        raise
    return con


_roots: dict[LakeConfig, duckdb.DuckDBPyConnection] = {}
_roots_lock = threading.Lock()


def _forget_after_fork() -> None:
    # A forked child must not touch its parent's DuckDB instances (their threads did not come
    # along, and a lock one of them held stays held): it attaches afresh, with a fresh lock.
    global _roots_lock
    _roots.clear()
    _roots_lock = threading.Lock()


os.register_at_fork(after_in_child=_forget_after_fork)


def _cursor(lake: LakeConfig) -> duckdb.DuckDBPyConnection:
    """A cursor on this process's one read-write connection to the lake: loading the extensions
    and attaching cost more than a small write, so the IO manager attaches once per process.
    Each cursor has its own transaction; the lake is re-read at each transaction's start."""
    with _roots_lock:
        root = _roots.get(lake)
        if root is None:
            while len(_roots) >= 4:  # a process rarely uses more than one lake (tests do)
                _roots.pop(next(iter(_roots))).close()
            root = _roots[lake] = connect(read_only=False, lake=lake)
        cur = root.cursor()
    cur.execute(f"USE {ALIAS}")
    return cur


def _forget(lake: LakeConfig) -> None:
    with _roots_lock:
        root = _roots.pop(lake, None)
    if root is not None:
        root.close()


def _init(lake: LakeConfig) -> None:
    """Creates an empty catalog, so a reader of a new data directory sees no tables (not an error)."""
    Path(lake.target).parent.mkdir(parents=True, exist_ok=True)
    con = connect(read_only=False, lake=lake)
    con.close()


def _wal(lake: LakeConfig) -> None:
    """A SQLite catalog in WAL mode: readers never block a writer's commit, nor it them (in the
    default rollback journal, an open reader makes every writer fail with "database is locked").
    The mode is stored in the file; setting it again is a no-op."""
    if lake.kind != "sqlite":
        return
    import sqlite3

    for attempt in range(20):
        try:
            db = sqlite3.connect(lake.target, timeout=5)
            try:
                db.execute("PRAGMA journal_mode=WAL")
            finally:
                db.close()
            return
        except sqlite3.OperationalError:
            time.sleep(0.05 * (attempt + 1))


def _retryable(e: Exception) -> bool:
    text = str(e).lower()
    return isinstance(e, duckdb.TransactionException) or any(
        s in text for s in ("database is locked", "conflict", "could not set lock", "busy", "deadlock")
    )


def _retry(fn: Callable[[], Any], what: str, attempts: int = 10, log: Callable[[str], None] | None = None) -> Any:
    for attempt in range(attempts):
        try:
            return fn()
        except duckdb.Error as e:
            if not _retryable(e):
                raise
            if attempt == attempts - 1:
                raise LakeWriteConflict(f"{what}: still conflicting after {attempts} attempts ({e})") from e
            wait = min(2.0, 0.05 * 2**attempt) * (0.5 + random.random())
            if log:
                log(f"{what}: {str(e).splitlines()[0]}; retrying in {wait:.2f} s ({attempt + 1}/{attempts})")
            time.sleep(wait)


def current_snapshot(con: duckdb.DuckDBPyConnection) -> int:
    """The lake snapshot this connection sees: the id a dataset version records."""
    return int(con.execute(f"SELECT * FROM {ALIAS}.current_snapshot()").fetchone()[0])


def table_names(con: duckdb.DuckDBPyConnection, schema: str = SCHEMA) -> set[str]:
    """The tables in ``schema`` (``chatlab``) of the lake."""
    rows = con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_catalog = ? AND table_schema = ?", [ALIAS, schema]
    ).fetchall()
    return {r[0] for r in rows}


def _columns(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> list[str]:
    rows = con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_catalog = ? AND table_schema = ? AND table_name = ?",
        [ALIAS, schema, table],
    ).fetchall()
    return [r[0] for r in rows]


@dataclass(frozen=True)
class ParquetFiles:
    """Rows in Parquet files, for replace_rows/replace_tables: DuckDB scans them itself (streaming,
    in file order), so a table bigger than memory is written without being loaded."""

    paths: tuple[Path, ...]


def replace_rows(
    lake: LakeConfig,
    table: str,
    rows: Any,
    partition_column: str | None = None,
    partition_keys: Iterable[str] = (),
    schema: str = SCHEMA,
    log: Callable[[str], None] | None = None,
    attempts: int = 10,
) -> int:
    """Replace a partition's rows (``partition_column IN partition_keys``), or the whole table when
    no column is given, by ``rows`` (a Polars frame or Arrow table), in ONE transaction: a reader
    sees the old rows or the new ones, never neither, and a killed writer changes nothing. The
    table is created from ``rows``'s schema on first write; new columns are added. A commit that
    meets another writer's is retried with backoff; returns the snapshot id of the commit."""
    return replace_tables(lake, {table: rows}, partition_column, partition_keys, schema, log, attempts)


def replace_tables(
    lake: LakeConfig,
    tables: dict[str, Any],
    partition_column: str | None = None,
    partition_keys: Iterable[str] = (),
    schema: str = SCHEMA,
    log: Callable[[str], None] | None = None,
    attempts: int = 10,
) -> int:
    """``replace_rows`` for several tables ({table: rows}) in ONE transaction: a reader sees every
    table's new rows or none of them (a step that makes two tables of one VOD, such as the
    transcript's segments and words, never leaves one replaced and the other not)."""
    arrows = {t: (r.to_arrow() if hasattr(r, "to_arrow") else r) for t, r in tables.items()}
    keys = list(partition_keys)
    if partition_column and not keys:
        raise ValueError(f"{schema}.{', '.join(tables)}: a partitioned write needs its partition keys")
    if not arrows:
        raise ValueError("replace_tables: no table to write")

    def write_one(con: duckdb.DuckDBPyConnection, table: str, arrow: Any) -> None:
        qualified = f'{schema}."{table}"'
        files = isinstance(arrow, ParquetFiles)
        if files:  # DuckDB reads them itself, row group by row group, in file order
            names = ", ".join("'" + str(f).replace("'", "''") + "'" for f in arrow.paths)
            con.execute(f"CREATE OR REPLACE TEMP VIEW incoming AS SELECT * FROM read_parquet([{names}])")
        else:
            con.register("incoming", arrow)
        try:
            have = _columns(con, schema, table)
            if not have:
                con.execute(f"CREATE TABLE {qualified} AS SELECT * FROM incoming LIMIT 0")
            else:
                incoming = [r[0] for r in con.execute("DESCRIBE SELECT * FROM incoming").fetchall()]
                new = [c for c in incoming if c not in have]
                types = dict(con.execute("SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM incoming)").fetchall()) if new else {}
                for col in new:
                    con.execute(f'ALTER TABLE {qualified} ADD COLUMN "{col}" {types[col]}')
            if partition_column:
                marks = ", ".join("?" for _ in keys)
                con.execute(f'DELETE FROM {qualified} WHERE "{partition_column}" IN ({marks})', keys)
            else:
                con.execute(f"DELETE FROM {qualified}")
            con.execute(f"INSERT INTO {qualified} BY NAME SELECT * FROM incoming")
        finally:
            if files:
                con.execute("DROP VIEW IF EXISTS temp.main.incoming")
            else:
                con.unregister("incoming")

    def write() -> int:
        con = _cursor(lake)
        try:
            con.execute("BEGIN")
            con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
            for table, arrow in arrows.items():
                write_one(con, table, arrow)
            con.execute("COMMIT")
            return current_snapshot(con)
        except BaseException as e:
            try:
                con.execute("ROLLBACK")
            except duckdb.Error:
                pass
            if isinstance(e, duckdb.Error) and not _retryable(e):
                _forget(lake)  # start the next write from a fresh attach
            raise
        finally:
            con.close()

    names = ", ".join(f'{schema}."{t}"' for t in arrows)
    return _retry(write, what=f"write {names}", attempts=attempts, log=log)


def read_rows(
    lake: LakeConfig, table: str, partition_column: str | None = None, partition_keys: Iterable[str] | None = None,
    columns: list[str] | None = None, schema: str = SCHEMA,
):
    """A table (or some partitions of it) as a Polars frame; a clear error when it is not there."""
    con = _cursor(lake)
    try:
        if table not in table_names(con, schema):
            raise LookupError(f"table {schema}.{table} is not in the lake ({lake.describe()}); materialize it first")
        cols = ", ".join(f'"{c}"' for c in columns) if columns else "*"
        sql = f'SELECT {cols} FROM {schema}."{table}"'
        params: list[str] = []
        if partition_column and partition_keys is not None:
            params = list(partition_keys)
            if not params:
                sql += " WHERE false"
            else:
                sql += f' WHERE "{partition_column}" IN ({", ".join("?" for _ in params)})'
        return con.execute(sql, params).pl()
    finally:
        con.close()
