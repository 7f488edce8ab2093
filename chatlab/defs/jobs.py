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
