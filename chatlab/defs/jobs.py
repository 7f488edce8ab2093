"""The per-VOD job: every asset partitioned by VOD, so a new stage joins it by being defined."""

import dagster as dg

from chatlab.partitions import vods

VOD_JOB = "vod_job"


def per_vod_assets(defs: dg.Definitions) -> list[dg.AssetKey]:
    keys = []
    for a in defs.assets or []:
        if isinstance(a, dg.AssetsDefinition) and a.partitions_def == vods:
            keys.extend(a.keys)
    return keys


def per_vod_job(defs: dg.Definitions) :
    return dg.define_asset_job(
        VOD_JOB,
        selection=dg.AssetSelection.assets(*per_vod_assets(defs)),
        description="Everything chatlab builds for one VOD, from the file in the inbox onwards.",
    )


@dg.sensor(
    name="dead_runs",
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Marks failed the runs whose run worker on this machine is gone and frees their pool slots "
    "(run monitoring misses them when the daemon's whole process group died); run_retries then runs them again.",
)
def dead_runs_sensor(context: dg.SensorEvaluationContext) -> dg.SkipReason:
    from chatlab.runner import reap_dead_runs

    # The sensor runs in a code server beside the daemon, where the daemon's run workers run.
    lines = reap_dead_runs(context.instance, daemon_runs=True)
    for line in lines:
        context.log.warning(line)
    return dg.SkipReason("; ".join(lines) or "no dead runs")
