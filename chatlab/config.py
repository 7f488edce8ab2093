"""Where chatlab keeps its data, and the user's settings file.

One optional TOML file (``chatlab.toml`` in the working directory, or the
path in ``$CHATLAB_CONFIG``) holds every setting; each stage reads its own
section and keeps its defaults in code, so an empty file is a valid config.
Per-VOD overrides live under ``[vods.<vod_id>]``.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chatlab.ingest.inbox import is_valid_vod_id

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


def _read_toml(p: Path) -> dict[str, Any]:
    if not p.exists():
        return {}
    try:
        return tomllib.loads(p.read_text(encoding="utf-8"))
    except UnicodeDecodeError as e:
        raise ValueError(f"{p}: not UTF-8 text (byte {e.start}: {e.reason}); TOML files are UTF-8") from e
    except tomllib.TOMLDecodeError as e:
        raise ValueError(f"{p}: not valid TOML ({e})") from e


# A manual offset is one choice: a review override with anchors replaces an offset_s from the file.
MANUAL_ALIGN_KEYS = ("offset_s", "drift_s_per_h", "anchors")


def load_config(path: str | os.PathLike | None = None, data_root: str | os.PathLike | None = None) -> dict[str, Any]:
    """The settings file as a dict ({} when there is none), with the review page's per-VOD
    overrides (``<data>/review/overrides.toml``) laid over its ``[vods.<id>]`` sections.
    A broken file is an error that names it."""
    out = _read_toml(Path(path) if path else config_path())
    review = _read_toml(layout(data_root).review_overrides).get("vods", {})
    for vod_id, stages in review.items():
        vod = out.setdefault("vods", {}).setdefault(vod_id, {})
        for stage, values in stages.items():
            base = dict(vod.get(stage, {}))
            if stage == "align" and any(k in values for k in MANUAL_ALIGN_KEYS):
                base = {k: v for k, v in base.items() if k not in MANUAL_ALIGN_KEYS}
            vod[stage] = {**base, **values}
    return out


def section(config: dict[str, Any], name: str, vod_id: str | None = None) -> dict[str, Any]:
    """One stage's settings, with ``[vods.<vod_id>.<name>]`` laid over them for that VOD."""
    out = dict(config.get(name, {}))
    if vod_id:
        out = _merged(out, config.get("vods", {}).get(vod_id, {}).get(name, {}))
    return out


def _merged(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """``over`` laid over ``base`` key by key, tables inside tables too: a per-VOD
    ``[vods.x.chat.clean]`` with one key keeps every other key of ``[chat.clean]``."""
    out = dict(base)
    for k, v in over.items():
        out[k] = _merged(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out
