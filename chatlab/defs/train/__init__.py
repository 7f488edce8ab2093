"""Training assets and checks (issue: adapter, evaluation and generation)."""

import dagster as dg

from chatlab.defs.train.assets import adapter, evaluation, training_set
from chatlab.defs.train.resources import BaseModelResource

TRAIN_JOB = "train_job"

train_job = dg.define_asset_job(
    TRAIN_JOB,
    # The Hugging Face export reads the same pairs and splits: built beside the training set.
    selection=dg.AssetSelection.assets(training_set, adapter, evaluation) | dg.AssetSelection.keys("dataset_export"),
    description="Every VOD's pairs -> the Hugging Face export and the training set, LoRA adapter, evaluation against the base model.",
)

defs = dg.Definitions(assets=[training_set, adapter, evaluation], jobs=[train_job], resources={"base_model": BaseModelResource()})

__all__ = ["defs", "training_set", "adapter", "evaluation", "train_job", "TRAIN_JOB", "BaseModelResource"]
