"""The one Definitions object: every domain's assets and checks, the per-VOD job, the inbox sensor and
the dead-runs sensor.

The executor is chosen by configuration: ``CHATLAB_EXECUTOR=multiprocess`` (the default: every
step a process on this machine) or ``celery`` (steps go to dagster-celery workers through the
broker in ``CHATLAB_CELERY_BROKER``; ASR and training go to queue ``gpu``). See the README's
"Beyond one machine"."""

import os

import dagster as dg

from chatlab.defs import align, asr, chat, ingest, ocr, review, train
from chatlab.defs.jobs import dead_runs_sensor, per_vod_job
from chatlab.resources import build_resources


EXECUTOR_ENV = "CHATLAB_EXECUTOR"


def executor() -> dg.ExecutorDefinition:
    kind = os.environ.get(EXECUTOR_ENV, "multiprocess")
    if kind == "multiprocess":
        return dg.multiprocess_executor
    if kind == "celery":
        from dagster_celery import celery_executor

        return celery_executor.configured(
            {"broker": {"env": "CHATLAB_CELERY_BROKER"}, "backend": {"env": "CHATLAB_CELERY_BACKEND"}}, name="celery"
        )
    raise ValueError(f"${EXECUTOR_ENV}={kind!r}: expected multiprocess or celery")


def build_definitions() -> dg.Definitions:
    # Built in a function: Dagster refuses a module with two Definitions objects at its top level.
    domains = dg.Definitions.merge(ingest.defs, asr.defs, chat.defs, ocr.defs, align.defs, train.defs, review.defs)
    return dg.Definitions.merge(
        domains,
        dg.Definitions(jobs=[per_vod_job(domains)], sensors=[ingest.inbox_sensor, dead_runs_sensor], resources=build_resources(),
                       executor=executor()),
    )


defs = build_definitions()
