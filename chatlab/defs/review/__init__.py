"""The review page's assets and job: waveform peaks per VOD, and the job a saved correction starts."""

import dagster as dg

from chatlab.defs.review.assets import REVIEW_JOB, review_job, review_peaks

defs = dg.Definitions(assets=[review_peaks], jobs=[review_job])

__all__ = ["defs", "review_peaks", "review_job", "REVIEW_JOB"]
