"""The one Definitions object: every domain's assets and checks, the per-VOD job, the inbox sensor."""

import dagster as dg

from chatlab.defs import align, asr, chat, ingest, ocr, review, train
from chatlab.defs.jobs import per_vod_job
from chatlab.resources import build_resources


def build_definitions() -> dg.Definitions:
    # Built in a function: Dagster refuses a module with two Definitions objects at its top level.
    domains = dg.Definitions.merge(ingest.defs, asr.defs, chat.defs, ocr.defs, align.defs, train.defs, review.defs)
    return dg.Definitions.merge(
        domains,
        dg.Definitions(jobs=[per_vod_job(domains)], sensors=[ingest.inbox_sensor], resources=build_resources()),
    )


defs = build_definitions()
