"""`chatlab storage compact`: fewer, bigger Parquet files and a shorter history, without losing a
dataset version.

Every partition replace adds Parquet files and a snapshot, and DuckLake keeps every snapshot
(time travel), so a long-lived lake grows. Compacting merges adjacent small files
(``ducklake_merge_adjacent_files``), expires the snapshots nobody needs
(``ducklake_expire_snapshots``) and deletes the files only they used
(``ducklake_cleanup_old_files``). A snapshot is a dataset version: one that a training set, an
adapter, an evaluation or a dataset export records is never expired, so each of them can still
be rebuilt from its exact rows; nor is the current one, nor any younger than ``keep_hours``
(a reader may be on it).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chatlab.config import Layout
from chatlab.storage.lake import ALIAS, LakeConfig, _cursor, _retry, current_snapshot


@dataclass
class CompactReport:
    snapshots_before: int
    snapshots_after: int
    files_before: int | None  # Parquet files on disk (None: the data path is not a local folder)
    files_after: int | None
    kept_recorded: dict[int, list[str]] = field(default_factory=dict)  # snapshot -> who records it
    expired: list[int] = field(default_factory=list)

    def summary(self) -> str:
        kept = ", ".join(f"{s} ({', '.join(w)})" for s, w in sorted(self.kept_recorded.items())) or "none"
        return (f"snapshots {self.snapshots_before} -> {self.snapshots_after} ({len(self.expired)} expired); "
                f"data files {self.files_before} -> {self.files_after}; kept for recorded dataset versions: {kept}")


def _snapshot_of(doc: Any) -> int | None:
    if isinstance(doc, dict):
        for key in ("lake_snapshot",):
            if isinstance(doc.get(key), int):
                return doc[key]
        for key in ("training_set",):  # adapter stamp, evaluation.json
            found = _snapshot_of(doc.get(key))
            if found is not None:
                return found
    return None


def recorded_snapshots(layout: Layout) -> dict[int, list[str]]:
    """{snapshot: [files that record it]} over training-set cards, adapter stamps, evaluations
    and dataset exports under the data directory (an unreadable file is skipped, not guessed)."""
    from chatlab.train.lora import ADAPTER_STAMP

    places = [
        (layout.artifacts / "training_set", "card.json"),
        (layout.models / "adapters", ADAPTER_STAMP),
        (layout.artifacts / "evaluation", "evaluation.json"),
        (layout.artifacts / "dataset_export", "dataset.json"),
    ]
    out: dict[int, list[str]] = {}
    for root, name in places:
        if not root.is_dir():
            continue
        for p in sorted(root.glob(f"*/{name}")):
            try:
                snap = _snapshot_of(json.loads(p.read_text(encoding="utf-8")))
            except (OSError, ValueError):
                continue
            if snap is not None:
                out.setdefault(snap, []).append(str(p.relative_to(layout.root)))
    return out


def _snapshots(con) -> int:
    return int(con.execute(f"SELECT count(*) FROM ducklake_snapshots('{ALIAS}')").fetchone()[0])


def _files(lake: LakeConfig) -> int | None:
    """Parquet files under the lake's data path (every snapshot's), when it is a local folder."""
    if "://" in lake.data_path:
        return None
    return sum(1 for _ in Path(lake.data_path).rglob("*.parquet"))


def compact(layout: Layout, lake: LakeConfig, keep_hours: float = 24.0, dry_run: bool = False) -> CompactReport:
    """Merge small files, expire unrecorded snapshots older than ``keep_hours``, delete the files
    no snapshot uses any more. Safe beside running pipelines (each call is one commit, retried on
    a conflict); a reader of a kept snapshot sees the same rows before and after."""
    recorded = recorded_snapshots(layout)

    def run() -> CompactReport:
        con = _cursor(lake)
        try:
            before = (_snapshots(con), _files(lake))
            if not dry_run:
                con.execute(f"CALL ducklake_merge_adjacent_files('{ALIAS}')")
            now = current_snapshot(con)
            rows = con.execute(f"SELECT snapshot_id, snapshot_time FROM ducklake_snapshots('{ALIAS}') "
                               f"WHERE snapshot_time < now() - INTERVAL (?) HOUR ORDER BY 1", [float(keep_hours)]).fetchall()
            expire = [int(s) for s, _ in rows if int(s) != now and int(s) not in recorded]
            if expire and not dry_run:
                con.execute(f"CALL ducklake_expire_snapshots('{ALIAS}', versions => ?)", [expire])
                con.execute(f"CALL ducklake_cleanup_old_files('{ALIAS}', cleanup_all => true)")
            after = (_snapshots(con), _files(lake))
            present = {int(r[0]) for r in con.execute(f"SELECT snapshot_id FROM ducklake_snapshots('{ALIAS}')").fetchall()}
            return CompactReport(before[0], after[0], before[1], after[1],
                                 kept_recorded={s: w for s, w in recorded.items() if s in present}, expired=expire)
        finally:
            con.close()

    return _retry(run, what="compact the lake")


def missing_recorded(layout: Layout, lake: LakeConfig) -> dict[int, list[str]]:
    """Recorded snapshots the lake no longer holds (expired by `chatlab forget`, which must remove
    a VOD's bytes from history too): those datasets can no longer be rebuilt from the lake."""
    con = _cursor(lake)
    try:
        present = {int(r[0]) for r in con.execute(f"SELECT snapshot_id FROM ducklake_snapshots('{ALIAS}')").fetchall()}
    finally:
        con.close()
    return {s: w for s, w in recorded_snapshots(layout).items() if s not in present}
