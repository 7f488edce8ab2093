"""Resources: the data directory and settings file, and the DuckDB IO manager on top of them."""

from __future__ import annotations

from typing import Any

import polars as pl
from dagster import ConfigurableResource
from dagster_duckdb_polars import DuckDBPolarsIOManager, DuckDBPolarsTypeHandler

from chatlab import config as cfg

SCHEMA = "chatlab"


class ChatlabSettings(ConfigurableResource):
    """Where data lives and which settings file to read; empty strings mean the defaults
    (``$CHATLAB_DATA`` or ``./data``; ``$CHATLAB_CONFIG`` or ``./chatlab.toml``)."""

    data_dir: str = ""
    config_file: str = ""

    def layout(self) -> cfg.Layout:
        return cfg.layout(self.data_dir or None).ensure()

    def section(self, name: str, vod_id: str | None = None) -> dict[str, Any]:
        return cfg.section(cfg.load_config(self.config_file or None, self.data_dir or None), name, vod_id)


class _PolarsTypeHandler(DuckDBPolarsTypeHandler):
    """Writes empty frames too: the stock handler skips them and creates no table, so a VOD with
    no chat (or no pairs) would leave nothing for downstream assets and queries to read."""

    def handle_output(self, context, table_slice, obj: pl.DataFrame, connection) -> None:
        if not obj.is_empty():
            return super().handle_output(context, table_slice, obj, connection)
        empty = obj.to_arrow()  # noqa: F841 - DuckDB reads it by name
        connection.execute(f"create schema if not exists {table_slice.schema}")
        connection.execute(f"create table if not exists {table_slice.schema}.{table_slice.table} as select * from empty")
        context.add_output_metadata({"row_count": 0})


class ChatlabDuckDBIOManager(DuckDBPolarsIOManager):
    """The DuckDB Polars IO manager, except that an empty frame still creates its table."""

    @staticmethod
    def type_handlers():
        return [_PolarsTypeHandler()]


def duckdb_io_manager(settings: ChatlabSettings) -> ChatlabDuckDBIOManager:
    return ChatlabDuckDBIOManager(database=str(settings.layout().duckdb), schema=SCHEMA)


def build_resources(data_dir: str = "", config_file: str = "") -> dict[str, Any]:
    settings = ChatlabSettings(data_dir=data_dir, config_file=config_file)
    return {"settings": settings, "io_manager": duckdb_io_manager(settings)}
