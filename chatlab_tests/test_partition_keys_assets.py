"""Every per-VOD asset refuses a partition key that is not a VOD id, before it reads or writes.

A key added by hand in the Dagster UI (``../../x``, SQL quotes) must fail the step with the same
clear reason whichever asset is run, and leave no file outside the data directory."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from chatlab.definitions import defs
from chatlab.resources import build_resources

PER_VOD = [a for a in defs.assets if isinstance(a, dg.AssetsDefinition) and a.partitions_def is not None]


def _files(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file()}


def test_every_partitioned_asset_is_covered():
    names = {k.to_user_string() for a in PER_VOD for k in a.keys}
    # The assets issue 16 found taking the raw key; a new one joins the parametrized test below.
    assert {"vod_source", "audio", "transcript", "chat", "chat_clean", "chat_ocr", "offsets",
            "aligned_pairs", "splits", "review_peaks"} <= names


@pytest.mark.parametrize("key", ["../../x", "x') OR ('1'='1"])
@pytest.mark.parametrize("asset", PER_VOD, ids=lambda a: "+".join(sorted(k.to_user_string() for k in a.keys)))
def test_bad_key_fails_every_per_vod_asset(asset, key, instance, layout, tmp_path):
    instance.add_dynamic_partitions("vods", [key])
    before = _files(tmp_path)
    resources = {**dict(defs.resources), **build_resources(str(layout.root))}
    result = dg.materialize(list(defs.assets), selection=list(asset.keys), partition_key=key, instance=instance,
                            resources=resources, raise_on_error=False)
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    error = failure.step_failure_data.error
    messages = []
    while error is not None:  # a refused input read arrives wrapped in Dagster's load-input error
        messages.append(error.message)
        error = error.cause
    assert any("is not a VOD id" in m for m in messages), messages
    outside = {p for p in _files(tmp_path) - before if layout.root not in p.parents}
    assert outside == set()
    assert not any(m.asset_key in asset.keys for m in result.get_asset_materialization_events() or [])
