"""Tables in DuckLake: Parquet files under a data path plus a catalog (a local SQLite file by
default, PostgreSQL on a cluster), read and written through DuckDB. See ``lake.py``."""

from chatlab.storage.lake import (
    LakeConfig,
    LakeWriteConflict,
    connect,
    current_snapshot,
    lake_config,
    read_rows,
    replace_rows,
    replace_tables,
    table_names,
)

__all__ = [
    "LakeConfig",
    "LakeWriteConflict",
    "connect",
    "current_snapshot",
    "lake_config",
    "read_rows",
    "replace_rows",
    "replace_tables",
    "table_names",
]
