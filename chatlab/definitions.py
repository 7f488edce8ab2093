"""The one Definitions object: every domain's assets and checks, the per-VOD job, the inbox sensor."""

import dagster as dg

from chatlab.defs import asr, chat, ingest
from chatlab.defs.jobs import per_vod_job
from chatlab.resources import build_resources

domains = dg.Definitions.merge(ingest.defs, asr.defs, chat.defs)

defs = dg.Definitions.merge(
    domains,
    dg.Definitions(
        jobs=[per_vod_job(domains)],
        sensors=[ingest.inbox_sensor],
        resources=build_resources(),
    ),
)
