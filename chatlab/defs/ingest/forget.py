"""The Dagster side of forgetting a VOD: its runs (and their event logs, which hold previews of
its chat and transcript), its materializations, and its partition. Marks the all-VOD assets
built from it with an observation, so the UI says they are stale."""

from __future__ import annotations

from typing import Any

import dagster as dg

from chatlab.forget import ForgetRefused, ForgetReport
from chatlab.partitions import vods

PARTITION_TAG = "dagster/partition"
ACTIVE = [dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.STARTING,
          dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.CANCELING]
DERIVED = {"training_set": "training_set", "dataset_export": "dataset_export", "adapters": "adapter", "evaluation": "evaluation"}


def instance_step(instance: dg.DagsterInstance) -> Any:
    """``step(vod_id)`` for chatlab.forget.forget_vod: refuses while a run of the VOD is active."""

    def step(vod_id: str) -> dict[str, Any]:
        active = instance.get_runs(dg.RunsFilter(statuses=ACTIVE, tags={PARTITION_TAG: vod_id}))
        if active:
            raise ForgetRefused(f"run {active[0].run_id} of VOD {vod_id!r} is {active[0].status.value}; "
                                "wait for it or cancel it, then forget again")
        runs = instance.get_runs(dg.RunsFilter(tags={PARTITION_TAG: vod_id}))
        for run in runs:
            instance.delete_run(run.run_id)
        wiped = []
        for key in instance.get_asset_keys():
            if vod_id in instance.get_materialized_partitions(key):
                instance.wipe_asset_partitions(key, [vod_id])
                wiped.append(key.to_user_string())
        had = instance.has_dynamic_partition(vods.name, vod_id)
        if had:
            instance.delete_dynamic_partition(vods.name, vod_id)
        return {"runs_deleted": len(runs), "materializations_wiped": sorted(wiped), "partition_removed": had}

    return step


def observe_stale(instance: dg.DagsterInstance, report: ForgetReport) -> None:
    """An observation on each all-VOD asset with a stale version: visible beside its materializations."""
    by_asset: dict[str, list[str]] = {}
    for path in report.stale:
        parts = path.split("/")
        asset = DERIVED.get(parts[-2]) if len(parts) >= 2 else None
        if asset:
            by_asset.setdefault(asset, []).append(parts[-1])
    for asset, versions in by_asset.items():
        instance.report_runless_asset_event(dg.AssetObservation(
            asset_key=dg.AssetKey(asset),
            metadata={"stale_versions": ", ".join(sorted(versions)), "forgotten_vod": report.vod_id,
                      "reason": f"built from VOD {report.vod_id!r}, forgotten at {report.at} ({report.reason})"},
        ))
