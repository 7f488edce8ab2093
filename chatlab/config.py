"""Where chatlab keeps its data, and the user's settings file.

One optional TOML file (``chatlab.toml`` in the working directory, or the
path in ``$CHATLAB_CONFIG``) holds every setting; each stage reads its own
section and keeps its defaults in code, so an empty file is a valid config.
Per-VOD overrides live under ``[vods.<vod_id>]``. chatlab.settings reads and checks them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chatlab import settings
from chatlab.ingest.inbox import is_valid_vod_id
from chatlab.settings import MANUAL_ALIGN_KEYS, section  # noqa: F401  (their old home; many callers)

DATA_ENV = "CHATLAB_DATA"
CONFIG_ENV = "CHATLAB_CONFIG"


@dataclass(frozen=True)
class Layout:
    """The folders and files under the data directory (see data/README.md)."""

    root: Path

    @property
    def inbox(self) -> Path:
        return self.root / "inbox"

    @property
    def artifacts(self) -> Path:
        return self.root / "artifacts"

    @property
    def models(self) -> Path:
        return self.root / "models"

    @property
    def lake_catalog(self) -> Path:
        # The tables' DuckLake catalog (SQLite: several local processes may commit at once).
        return self.root / "lake.sqlite"

    @property
    def lake_data(self) -> Path:
        # The tables' Parquet files, one folder per table, written only through DuckLake.
        return self.root / "lake"

    @property
    def duckdb(self) -> Path:
        # Loud, not a silent empty read: the tables moved from one DuckDB file into DuckLake.
        raise RuntimeError("tables live in DuckLake now: read them with chatlab.storage.connect(layout)")

    @property
    def dagster_home(self) -> Path:
        return self.root / "dagster_home"

    @property
    def review_overrides(self) -> Path:
        # Corrections saved on the review page (`chatlab review`), laid over the settings file.
        return self.root / "review" / "overrides.toml"

    def artifact_dir(self, asset: str, vod_id: str) -> Path:
        # A partition key can be typed into the Dagster UI: never let one name a path outside data/.
        if not is_valid_vod_id(vod_id):
            raise ValueError(f"not a VOD id: {vod_id!r} (expected 1-64 of a-z, 0-9, _ and -)")
        return self.artifacts / asset / vod_id

    def ensure(self) -> "Layout":
        for d in (self.inbox, self.artifacts, self.models, self.dagster_home):
            d.mkdir(parents=True, exist_ok=True)
        return self


def data_dir() -> Path:
    """``$CHATLAB_DATA`` if set, else ``./data``; always absolute."""
    return Path(os.environ.get(DATA_ENV) or "data").expanduser().resolve()


def layout(root: str | os.PathLike | None = None) -> Layout:
    return Layout(Path(root).expanduser().resolve() if root else data_dir())


def config_path() -> Path:
    return Path(os.environ.get(CONFIG_ENV) or "chatlab.toml").expanduser().resolve()


def load_config(path: str | os.PathLike | None = None, data_root: str | os.PathLike | None = None) -> dict[str, Any]:
    """The settings file as a dict ({} when there is none), with the review page's per-VOD
    overrides (``<data>/review/overrides.toml``) laid over its ``[vods.<id>]`` sections. Both
    are checked by the one strict loader (chatlab.settings): an unknown section or key, a value
    of the wrong type, or one its stage refuses is an error naming the file, the key and what
    was expected."""
    return settings.load(Path(path) if path else config_path(), layout(data_root).review_overrides)
