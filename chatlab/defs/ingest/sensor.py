"""The inbox sensor: new or changed VODs in data/inbox/ become partitions and runs."""

import dagster as dg

from chatlab.defs.ingest.forget import instance_step, observe_stale
from chatlab.defs.jobs import VOD_JOB
from chatlab.forget import ForgetRefused, forget_vod, on_removed_setting
from chatlab.ingest.inbox import scan_inbox
from chatlab.ingest.watch import WatchState, plan_tick
from chatlab.partitions import vods
from chatlab.resources import ChatlabSettings

FINGERPRINT_TAG = "chatlab/fingerprint"


def materialized_fingerprint(instance: dg.DagsterInstance, vod_id: str) -> str | None:
    """The fingerprint recorded by the latest `vod_source` materialization of a VOD, if any."""
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey("vod_source"), asset_partitions=[vod_id]), limit=1
    ).records
    if not records:
        return None
    mat = records[0].asset_materialization
    value = mat.metadata.get("fingerprint") if mat else None
    return getattr(value, "value", value)


@dg.sensor(
    job_name=VOD_JOB,
    minimum_interval_seconds=15,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Registers each new or changed VOD in data/inbox/ as a partition and runs it. "
    "Files still being copied wait a tick; nothing in the inbox is ever modified, except that with "
    "[ingest] on_removed = \"forget\" a VOD whose media leaves the inbox is forgotten (chatlab forget).",
)
def inbox_sensor(context: dg.SensorEvaluationContext, settings: ChatlabSettings) -> dg.SensorResult:
    inbox = settings.layout().inbox
    state = WatchState.from_cursor(context.cursor)
    plan = plan_tick(
        scan_inbox(inbox),
        state,
        already_done=lambda vod_id, fp: materialized_fingerprint(context.instance, vod_id) == fp,
    )
    for p in plan.new_problems:
        context.log.warning(f"inbox: {p.path.name}: {p.reason}")
    for name, vod_id in plan.renamed.items():
        context.log.info(f"inbox: {name!r} is not a valid VOD id ([a-z0-9_-]{{1,64}}); it runs as {vod_id!r}")
    if plan.waiting:
        context.log.info(f"inbox: waiting one more tick to see these files are complete (size unchanged): {', '.join(sorted(plan.waiting))}")

    if plan.removed:
        _removed(context, settings, plan)

    known = set(context.instance.get_dynamic_partitions(vods.name))
    new_ids = [r.vod.vod_id for r in plan.ready if r.vod.vod_id not in known]
    runs = [
        dg.RunRequest(
            partition_key=r.vod.vod_id,
            run_key=r.run_key,
            tags={FINGERPRINT_TAG: r.fingerprint, "chatlab/file": r.vod.media.name},
        )
        for r in plan.ready
    ]
    for r in plan.ready:
        what = "changed, re-running" if r.changed else "new"
        chat = f" with chat {r.vod.chat.name}" if r.vod.chat else " (no chat export)"
        context.log.info(f"inbox: {r.vod.media.name}{chat}: {what} -> VOD {r.vod.vod_id!r}")
    return dg.SensorResult(
        run_requests=runs,
        dynamic_partitions_requests=[vods.build_add_request(new_ids)] if new_ids else [],
        cursor=plan.state.to_cursor(),
        skip_reason=None if runs else "no new or changed VODs",
    )


def _removed(context: dg.SensorEvaluationContext, settings: ChatlabSettings, plan) -> None:
    """VODs whose media left the inbox: kept (the default) or forgotten, per [ingest] on_removed."""
    policy = on_removed_setting(settings.section("ingest"), f"{settings.config_file or 'chatlab.toml'} [ingest]")
    if policy == "keep":
        context.log.info(f"inbox: {', '.join(plan.removed)} left the inbox; their tables stay ([ingest] on_removed = \"keep\")")
        return
    for vod_id in plan.removed:
        try:
            report = forget_vod(settings.layout(), vod_id, reason="its media left the inbox ([ingest] on_removed = forget)",
                                instance_step=instance_step(context.instance), delete_inbox_files=True)
        except ForgetRefused as e:
            context.log.warning(f"inbox: {vod_id} left the inbox but cannot be forgotten yet: {e}; trying again next tick")
            plan.state.done[vod_id] = "forget-pending"
            continue
        observe_stale(context.instance, report)
        context.log.info(f"inbox: {report.summary()}")
