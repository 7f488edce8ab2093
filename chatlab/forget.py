"""Forget a VOD: its rows in every table, its artifacts, its files left in the inbox, its review-page
override (data/review/overrides.toml); every training set, export, adapter and evaluation built
from it is marked stale; the removal is logged.

Used by `chatlab forget VOD` and by the inbox sensor when a file leaves the inbox and
``[ingest] on_removed = "forget"``. The Dagster side (the partition, its runs and their event
logs) is done by the caller through ``instance_step`` (see chatlab/defs/ingest/forget.py), so
this module stays free of Dagster. Every step can run again: a forget cut short is finished
by the next one."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from chatlab.config import Layout
from chatlab.files import replacing
from chatlab.ingest.inbox import is_valid_vod_id, split_name, vod_id_from_stem

LOG_NAME = "forget.log"  # one JSON object per line, under the data directory
STALE_NAME = "STALE.json"
ON_REMOVED = ("keep", "forget")


class ForgetRefused(RuntimeError):
    """The VOD cannot be forgotten now (its file is still in the inbox, a run is in progress)."""


@dataclass
class ForgetReport:
    vod_id: str
    at: str
    reason: str
    rows: dict[str, int] = field(default_factory=dict)  # table -> rows removed
    lake_snapshot: int | None = None
    artifacts: list[str] = field(default_factory=list)  # removed folders, relative to data/
    inbox_files: list[str] = field(default_factory=list)  # removed from the inbox
    stale: list[str] = field(default_factory=list)  # derived folders marked stale, relative to data/
    review_override: dict[str, Any] | None = None  # its [vods.<id>] sections taken out of data/review/overrides.toml
    dagster: dict[str, Any] = field(default_factory=dict)  # what the instance step removed

    def summary(self) -> str:
        rows = sum(self.rows.values())
        return (f"forgot VOD {self.vod_id!r}: {rows} rows from {sum(1 for n in self.rows.values() if n)} tables, "
                f"{len(self.artifacts)} artifact folders, {len(self.inbox_files)} inbox files; "
                f"{len(self.stale)} derived folders marked stale; review override "
                f"{'removed' if self.review_override else 'none'}; Dagster: {self.dagster or 'nothing'}")


def on_removed_setting(section: dict[str, Any], where: str = "[ingest]") -> str:
    value = section.get("on_removed", "keep")
    if value not in ON_REMOVED:
        raise ValueError(f"{where} on_removed = {value!r}: expected one of {', '.join(map(repr, ON_REMOVED))}")
    return value


def inbox_files(layout: Layout, vod_id: str) -> list[Path]:
    """Every file in the inbox that belongs to the VOD (media, chat export, truth file)."""
    if not layout.inbox.is_dir():
        return []
    out = []
    for p in sorted(layout.inbox.iterdir()):
        parts = split_name(p.name) if p.is_file() else None
        if parts and vod_id_from_stem(parts[0]) == vod_id:
            out.append(p)
    return out


def _built_from(card: Path, vod_id: str) -> bool:
    try:
        doc = json.loads(card.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return any(vod_id in (ids or []) for ids in (doc.get("vods") or {}).values())


def _export_has(folder: Path, vod_id: str) -> bool:
    import polars as pl

    for p in sorted((folder / "data").glob("*.parquet")):
        try:
            if pl.scan_parquet(p).filter(pl.col("vod_id") == vod_id).select(pl.len()).collect().item():
                return True
        except Exception:  # noqa: BLE001 - an unreadable export is stale evidence too
            return True
    return False


def _mark(folder: Path, report: ForgetReport, root: Path) -> None:
    with replacing(folder / STALE_NAME) as tmp:
        tmp.write_text(json.dumps({"stale": True, "forgotten_vod": report.vod_id, "at": report.at,
                                   "reason": f"built from VOD {report.vod_id!r}, which was forgotten ({report.reason})"},
                                  indent=1), encoding="utf-8")
    report.stale.append(str(folder.relative_to(root)))


def is_stale(folder: str | Path) -> dict[str, Any] | None:
    """The stale mark of a training set / export / adapter / evaluation folder, or None."""
    p = Path(folder) / STALE_NAME
    return json.loads(p.read_text(encoding="utf-8")) if p.exists() else None


def mark_stale(layout: Layout, report: ForgetReport) -> None:
    """Training sets whose card lists the VOD (and their adapters and evaluations), exports that
    hold its rows. A CURRENT pointer to a stale training set is removed, so no adapter is
    trained on it and `chatlab generate` does not pick its adapter by default."""
    vod_id = report.vod_id
    sets = layout.artifacts / "training_set"
    stale_versions = []
    if sets.is_dir():
        for d in sorted(p for p in sets.iterdir() if p.is_dir()):
            if _built_from(d / "card.json", vod_id):
                stale_versions.append(d.name)
                _mark(d, report, layout.root)
        current = sets / "CURRENT"
        if current.exists() and current.read_text(encoding="utf-8").strip() in stale_versions:
            current.unlink()
    for version in stale_versions:
        for d in (layout.models / "adapters" / version, layout.artifacts / "evaluation" / version):
            if d.is_dir():
                _mark(d, report, layout.root)
    exports = layout.artifacts / "dataset_export"
    if exports.is_dir():
        for d in sorted(p for p in exports.iterdir() if p.is_dir()):
            if _export_has(d, vod_id):
                _mark(d, report, layout.root)


def remove_artifacts(layout: Layout, report: ForgetReport) -> None:
    """data/artifacts/<asset>/<vod>/ for every asset."""
    if not layout.artifacts.is_dir():
        return
    for asset_dir in sorted(p for p in layout.artifacts.iterdir() if p.is_dir()):
        d = asset_dir / report.vod_id
        if d.is_dir():
            shutil.rmtree(d)
            report.artifacts.append(str(d.relative_to(layout.root)))


def remove_review_override(layout: Layout, report: ForgetReport) -> None:
    """The VOD's corrections saved on the review page (its offsets and review record): left there,
    a new VOD under the same id would inherit them."""
    from chatlab.review.overrides import remove

    report.review_override = remove(layout, report.vod_id)


def append_log(layout: Layout, report: ForgetReport) -> Path:
    p = layout.root / LOG_NAME
    with p.open("a", encoding="utf-8") as f:
        f.write(json.dumps(asdict(report), sort_keys=True) + "\n")
    return p


def forget_vod(
    layout: Layout,
    vod_id: str,
    *,
    reason: str,
    instance_step: Callable[[str], dict[str, Any]] | None = None,
    delete_inbox_files: bool = False,
    purge_history: bool = True,
) -> ForgetReport:
    """Forget ``vod_id`` (see the module doc). ``instance_step(vod_id)`` removes the Dagster
    partition and runs (it may raise ForgetRefused). The VOD's media still in the inbox is
    refused unless ``delete_inbox_files`` (else the sensor would bring it straight back)."""
    if not is_valid_vod_id(vod_id):
        raise ValueError(f"{vod_id!r} is not a VOD id (expected 1-64 of a-z, 0-9, _ and -)")
    files = inbox_files(layout, vod_id)
    media = [p for p in files if split_name(p.name)[1] == "media"]
    if media and not delete_inbox_files:
        raise ForgetRefused(f"{media[0]}: VOD {vod_id!r} is still in the inbox and would be ingested again; "
                            "move it out first, or pass --delete-inbox-files")
    report = ForgetReport(vod_id=vod_id, at=datetime.now(timezone.utc).isoformat(timespec="seconds"), reason=reason)
    if instance_step is not None:
        report.dagster = instance_step(vod_id)  # first: it refuses while a run of the VOD is in progress
    for p in files:
        p.unlink(missing_ok=True)
        report.inbox_files.append(str(p.relative_to(layout.root)))

    from chatlab.storage.forget import delete_vod_rows, purge_history as purge
    from chatlab.storage.lake import lake_config

    lake = lake_config(layout)
    if lake.kind == "postgres" or Path(lake.target).exists():
        report.rows = delete_vod_rows(lake, vod_id)
        if purge_history:
            report.lake_snapshot = purge(lake)
    remove_artifacts(layout, report)
    remove_review_override(layout, report)
    mark_stale(layout, report)
    append_log(layout, report)
    return report
