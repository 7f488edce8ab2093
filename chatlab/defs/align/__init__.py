"""Alignment assets and checks (issue: offsets, aligned pairs, splits, export)."""

import dagster as dg

from chatlab.defs.align.assets import aligned_pairs, offsets, splits
from chatlab.defs.align.export import dataset_export

defs = dg.Definitions(assets=[offsets, aligned_pairs, splits, dataset_export])

__all__ = ["defs", "offsets", "aligned_pairs", "splits", "dataset_export"]
