"""Resources: the data directory and settings file, and the DuckDB IO manager on top of them."""

from __future__ import annotations

from typing import Any

from dagster import ConfigurableResource
from dagster_duckdb_polars import DuckDBPolarsIOManager

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
        return cfg.section(cfg.load_config(self.config_file or None), name, vod_id)


def duckdb_io_manager(settings: ChatlabSettings) -> DuckDBPolarsIOManager:
    return DuckDBPolarsIOManager(database=str(settings.layout().duckdb), schema=SCHEMA)


def build_resources(data_dir: str = "", config_file: str = "") -> dict[str, Any]:
    settings = ChatlabSettings(data_dir=data_dir, config_file=config_file)
    return {"settings": settings, "io_manager": duckdb_io_manager(settings)}
