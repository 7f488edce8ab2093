"""Resources: the data directory and settings file, and the DuckLake IO manager on top of them."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import polars as pl
from dagster import (
    ConfigurableIOManager,
    ConfigurableResource,
    InputContext,
    MetadataValue,
    OutputContext,
    RetryRequested,
    TableColumn,
    TableSchema,
)

from chatlab import config as cfg
from chatlab.storage.lake import _cursor  # the IO manager's one attached connection per process
from chatlab.storage.lake import connect as connect_lake
from chatlab.storage.lake import ParquetFiles
from chatlab.storage.lake import SCHEMA, LakeConfig, LakeWriteConflict, lake_config, read_rows, replace_rows, table_names

# A write that still conflicts after the IO manager's own attempts runs its step again (Dagster's
# RetryRequested), at most this often. Not a RetryPolicy on the assets: Dagster applies a policy
# to every error, so a bad file would run again and its message would read "Exceeded max_retries".
WRITE_STEP_RETRIES = 3

# Output metadata of a table that its step writes itself, with other tables in one transaction
# (chatlab.storage.replace_tables): the IO manager only reads it back for the steps downstream.
WRITTEN_BY_STEP = "written_by_step"

# On the steps that want a GPU (ASR, training, evaluation): with the Celery executor they go to
# queue "gpu", which only the workers on GPU machines serve. Other executors ignore the tag.
GPU_QUEUE = {"dagster-celery/queue": "gpu"}


class ChatlabSettings(ConfigurableResource):
    """Where data lives and which settings file to read; empty strings mean the defaults
    (``$CHATLAB_DATA`` or ``./data``; ``$CHATLAB_CONFIG`` or ``./chatlab.toml``)."""

    data_dir: str = ""
    config_file: str = ""

    def layout(self) -> cfg.Layout:
        return cfg.layout(self.data_dir or None).ensure()

    def section(self, name: str, vod_id: str | None = None) -> dict[str, Any]:
        return cfg.section(cfg.load_config(self.config_file or None, self.data_dir or None), name, vod_id)


def _vod_keys(keys) -> list[str]:
    """Partition keys, refused unless each is a VOD id (a key typed into the UI never reaches SQL)."""
    from chatlab.ingest.inbox import is_valid_vod_id

    for k in keys:
        if not is_valid_vod_id(k):
            raise ValueError(f"partition key {k!r} is not a VOD id ([a-z0-9_-]{{1,64}}); no table read or written")
    return list(keys)


class DuckLakeIOManager(ConfigurableIOManager):
    """Per-VOD tables in DuckLake (``chatlab.<asset name>``), read and written through DuckDB.

    Unlike Dagster's DuckDB IO manager (delete, then insert: two commits, one writing process per
    file), a partition's rows are replaced in ONE transaction, and several processes write at
    once (a conflicting commit is retried; see chatlab.storage.lake). An empty frame still creates
    its table, so a VOD with no chat leaves an empty table, not a missing one. Empty strings mean
    the data directory's defaults; ``catalog``/``data_path`` take the forms lake_config documents."""

    data_dir: str = ""
    config_file: str = ""
    catalog: str = ""
    data_path: str = ""
    schema_name: str = SCHEMA
    write_attempts: int = 10  # commits tried before the step itself is retried

    def lake(self) -> LakeConfig:
        storage = cfg.section(cfg.load_config(self.config_file or None), "storage")
        storage.update({k: v for k, v in (("catalog", self.catalog), ("data_path", self.data_path)) if v})
        return lake_config(cfg.layout(self.data_dir or None), storage)

    def _where(self, context) -> tuple[str | None, list[str] | None]:
        column = (context.definition_metadata or {}).get("partition_expr")
        if column and context.has_asset_partitions:
            return column, _vod_keys(context.asset_partition_keys)
        return None, None

    def handle_output(self, context: OutputContext, obj: pl.DataFrame | pl.LazyFrame | ParquetFiles) -> None:
        """A frame, a LazyFrame (e.g. a scan of Parquet files bigger than memory), or Parquet files
        the step wrote (``ParquetFiles``, e.g. its rows a block at a time; they stay the step's to
        remove): the lazy one is streamed to one Parquet file under the data directory's tmp/, and
        DuckDB inserts from the files batch by batch, in the same one-transaction partition replace."""
        if not isinstance(obj, (pl.DataFrame, pl.LazyFrame, ParquetFiles)):
            raise TypeError(f"{context.asset_key.to_user_string()}: the DuckLake IO manager stores Polars frames "
                            f"(DataFrame or LazyFrame) or ParquetFiles, got {type(obj).__name__}")
        table = context.asset_key.path[-1]
        if (context.definition_metadata or {}).get(WRITTEN_BY_STEP):
            # The step wrote this table itself, together with others, in one transaction
            # (chatlab.storage.replace_tables); writing it again here would be a second commit.
            if isinstance(obj, pl.DataFrame):
                context.add_output_metadata({"row_count": obj.height})
            return
        column, keys = self._where(context)
        with self._staged(obj) as (rows, n, schema):
            try:
                snapshot = replace_rows(self.lake(), table, rows, column, keys or (), self.schema_name,
                                        log=context.log.warning, attempts=self.write_attempts)
            except LakeWriteConflict as e:
                context.log.warning(f"{e}; the step runs again")
                raise RetryRequested(max_retries=WRITE_STEP_RETRIES, seconds_to_wait=2.0) from e
        context.add_output_metadata({
            "row_count": n,
            "lake_snapshot": snapshot,
            "dataframe_columns": MetadataValue.table_schema(
                TableSchema(columns=[TableColumn(name=c, type=str(t)) for c, t in schema.items()])
            ),
        })

    @contextmanager
    def _staged(self, obj: pl.DataFrame | pl.LazyFrame | ParquetFiles) -> Iterator[tuple[Any, int, dict[str, Any]]]:
        """(rows for replace_rows, row count, schema): a DataFrame as it is; a LazyFrame sunk to
        Parquet (Polars' streaming engine), which DuckDB then reads itself, row group by row group
        (an Arrow dataset read ahead so far that its memory grew with the table)."""
        if isinstance(obj, pl.DataFrame):
            yield obj, obj.height, dict(obj.schema)
            return
        import pyarrow.parquet as pq

        if isinstance(obj, ParquetFiles):
            if not obj.paths:
                raise ValueError("ParquetFiles with no file: write at least one (an empty one carries the schema)")
            yield obj, sum(pq.ParquetFile(p).metadata.num_rows for p in obj.paths), dict(pl.read_parquet_schema(obj.paths[0]))
            return

        tmp_root = cfg.layout(self.data_dir or None).root / "tmp"
        tmp_root.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="write-", dir=tmp_root) as tmp:
            path = Path(tmp) / "rows.parquet"
            obj.sink_parquet(path)
            yield ParquetFiles((path,)), pq.ParquetFile(path).metadata.num_rows, dict(pl.read_parquet_schema(path))

    def load_input(self, context: InputContext) -> pl.DataFrame | TableStream:
        """The rows as a frame; with input metadata ``{"stream": True}`` a TableStream instead, read
        in batches (a table bigger than memory); ``{"columns": [...]}`` reads only those;
        ``{"order_by": [...]}`` sorts them in DuckDB (memory-limited, spilling under data/tmp)
        and reads them in batches (no second copy while converting to Polars); ``{"where": SQL}``
        (written in the asset's definition, never from input) reads only the rows it selects."""
        upstream = context.upstream_output
        table = context.asset_key.path[-1]
        column = ((upstream.definition_metadata if upstream else None) or {}).get("partition_expr")
        keys = _vod_keys(context.asset_partition_keys) if column and context.has_asset_partitions else None
        columns = (context.definition_metadata or {}).get("columns")
        md = context.definition_metadata or {}
        if md.get("stream") or md.get("order_by") or md.get("where"):
            stream = TableStream(self.lake(), table, column if keys is not None else None, keys, columns, self.schema_name,
                                 order_by=md.get("order_by"), tmp_dir=cfg.layout(self.data_dir or None).root / "tmp",
                                 where=md.get("where"))
            return stream if md.get("stream") else stream.frame()
        return read_rows(self.lake(), table, column if keys is not None else None, keys, columns, self.schema_name)


class TableStream:
    """A table's rows (some partitions of it) read in batches, in the order a whole read gives
    them, never all at once: for a step whose input is bigger than memory."""

    MEMORY = "256MB"  # DuckDB's limit while reading (a sort spills beyond it)

    def __init__(self, lake: LakeConfig, table: str, column: str | None, keys: list[str] | None,
                 columns: list[str] | None, schema: str = SCHEMA, order_by: list[str] | None = None,
                 tmp_dir: Path | None = None, where: str | None = None) -> None:
        self.lake, self.table, self.column, self.keys, self.columns, self.schema = lake, table, column, keys, columns, schema
        self.order_by, self.tmp_dir, self.where = order_by, tmp_dir, where
        self.range: tuple[str, float | None, float | None] | None = None

    def between(self, column: str, lo: float | None, hi: float | None) -> "TableStream":
        """The same rows with lo <= column < hi (None: no bound), e.g. one time block of a chat."""
        import copy

        out = copy.copy(self)
        out.range = (column, lo, hi)
        return out

    def aggregate(self, select: str, tail: str = "") -> pl.DataFrame:
        """``SELECT <select> FROM`` the rows (unsorted) ``<tail>`` (e.g. GROUP BY), on the process's
        lake connection: counts, bounds, histograms of a table without reading it."""
        sql, params = self._query(order=False)
        con = _cursor(self.lake)
        try:
            if self.table not in table_names(con, self.schema):
                raise LookupError(f"table {self.schema}.{self.table} is not in the lake ({self.lake.describe()}); materialize it first")
            return con.execute(f"SELECT {select} FROM ({sql}) {tail}", params).pl()
        finally:
            con.close()

    def _query(self, order: bool = True) -> tuple[str, list]:
        cols = ", ".join(f'"{c}"' for c in self.columns) if self.columns else "*"
        sql, params = f'SELECT {cols} FROM {self.schema}."{self.table}"', []
        if self.column and self.keys is not None:
            params = list(self.keys)
            sql += f' WHERE "{self.column}" IN ({", ".join("?" for _ in params)})' if params else " WHERE false"
        if self.where:
            sql += (" AND " if " WHERE " in sql else " WHERE ") + f"({self.where})"
        if self.range is not None:
            col, lo, hi = self.range
            for op, v in ((">=", lo), ("<", hi)):
                if v is not None:
                    sql += (" AND " if " WHERE " in sql else " WHERE ") + f'"{col}" {op} ?'
                    params.append(float(v))
        if self.order_by and order:
            sql += " ORDER BY " + ", ".join(f'"{c}"' for c in self.order_by)
        return sql, params

    def batches(self, rows: int = 250_000) -> Iterator[pl.DataFrame]:
        """The rows as frames of at most ``rows`` rows."""
        from chatlab.storage import connect

        sql, params = self._query()
        con = _cursor(self.lake)  # the process's attached lake: no attach for a small table
        try:
            if self.table not in table_names(con, self.schema):
                raise LookupError(f"table {self.schema}.{self.table} is not in the lake ({self.lake.describe()}); materialize it first")
            n = con.execute(f"SELECT count(*) FROM ({sql})", params).fetchone()[0]
            if n <= rows:  # one batch
                if n:
                    yield con.execute(sql, params).pl()
                return
        finally:
            con.close()
        # A big table on a connection of its own, memory-limited and one thread: DuckDB's
        # scan cannot run ahead of the reader (on the shared connection it buffered 3 GB).
        with connect(lake=self.lake) as con:
            con.execute(f"SET memory_limit = '{self.MEMORY}'")
            con.execute("SET threads = 1")
            if self.tmp_dir is not None:  # where a sort spills
                self.tmp_dir.mkdir(parents=True, exist_ok=True)
                con.execute("SET temp_directory = '" + str(self.tmp_dir).replace("'", "''") + "'")
            if self.table not in table_names(con, self.schema):
                raise LookupError(f"table {self.schema}.{self.table} is not in the lake ({self.lake.describe()}); materialize it first")
            reader = con.execute(sql, params).to_arrow_reader(rows)
            for batch in reader:
                yield pl.from_arrow(batch)

    def frame(self) -> pl.DataFrame:
        """All the rows as one frame, assembled batch by batch (chunks kept, not copied)."""
        parts = list(self.batches())
        if not parts:
            with connect_lake(lake=self.lake) as con:
                sql, params = self._query()
                return con.execute(f"SELECT * FROM ({sql}) LIMIT 0", params).pl()
        return pl.concat(parts, rechunk=False)

    def collect(self) -> pl.DataFrame:
        """All the rows as one frame (what load_input gives without ``stream``)."""
        return read_rows(self.lake, self.table, self.column, self.keys, self.columns, self.schema)


def duckdb_io_manager(settings: ChatlabSettings) -> DuckLakeIOManager:
    return DuckLakeIOManager(data_dir=settings.data_dir, config_file=settings.config_file)


def build_resources(data_dir: str = "", config_file: str = "") -> dict[str, Any]:
    settings = ChatlabSettings(data_dir=data_dir, config_file=config_file)
    return {"settings": settings, "io_manager": duckdb_io_manager(settings)}
