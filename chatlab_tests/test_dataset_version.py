"""One dataset version: dataset_export and training_set name the same pairs alike, record the lake
snapshot they read, and a training set is rebuilt row for row from that snapshot after more VODs
(and a re-materialized one) were written."""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from chatlab.align.pairs import PAIR_COLUMNS
from chatlab.config import Layout
from chatlab.storage import lake_config, replace_rows
from chatlab.train import pipeline
from chatlab.train.base import ensure_base_model
from chatlab.train.dataset import synthetic_pairs
from chatlab.train.lora import TrainConfig

pytestmark = pytest.mark.slow  # the base model's tokenizer (converted once)

CFG = TrainConfig(max_prompt_tokens=48, max_completion_tokens=16, min_train_pairs=4)


def _write_vods(layout: Layout, pairs: pl.DataFrame) -> None:
    """aligned_pairs / splits / offsets of these VODs, one partition replace per VOD and table,
    as the alignment stage's IO manager writes them."""
    p = pairs.rename({"t_speech": "t_speech_s", "context_text": "transcript"}).with_columns(
        pl.col("context_chat").list.join("\n").alias("chat_context"), pl.lit("ov1").alias("offsets_version"),
        pl.lit("whisper-tiny").alias("asr_model"), pl.lit("chat_clean:default").alias("filter_set"))
    full = p.with_columns([pl.lit(None, dtype=t).alias(c) for c, t in PAIR_COLUMNS.items() if c not in p.columns]).select(list(PAIR_COLUMNS))
    lake = lake_config(layout)
    for vod in full["vod_id"].unique().sort().to_list():
        mine = full.filter(pl.col("vod_id") == vod)
        replace_rows(lake, "aligned_pairs", mine, "vod_id", [vod])
        replace_rows(lake, "splits", p.filter(pl.col("vod_id") == vod).select("vod_id", "split").unique(), "vod_id", [vod])
        replace_rows(lake, "offsets", pl.DataFrame({"vod_id": [vod], "passed": [True], "offsets_version": ["ov1"], "offset_s": [4.0],
                                                    "drift_s_per_h": [0.0], "n_segments": [1], "confidence": [0.9],
                                                    "method": ["estimated"]}), "vod_id", [vod])


@pytest.fixture(scope="module")
def base_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return ensure_base_model(tmp_path_factory.mktemp("models"))


def test_a_training_set_is_rebuilt_from_its_snapshot_after_more_vods(layout: Layout, base_dir: Path) -> None:
    from chatlab.align.export import read_dataset
    from chatlab.defs.align.export import dataset_export
    from chatlab.resources import build_resources

    first = synthetic_pairs(n_vods=3, per_vod=8, seed=1)  # vod0 train, vod1 validation, vod2 test
    _write_vods(layout, first)
    ds = read_dataset(layout)
    ts = pipeline.build_training_set(layout, base_dir, CFG, ds.pairs, ds.splits, lake_snapshot=ds.lake_snapshot)
    card = json.loads((ts.path / "card.json").read_text())
    assert ts.path.name == ts.version == card["dataset_version"] == ds.version
    assert card["lake_snapshot"] == ds.lake_snapshot and card["rows_sha256"]

    # The dataset export of the same pairs has the same version (one name, not two hashes).
    res = dg.materialize([dataset_export], instance=dg.DagsterInstance.ephemeral(), resources=build_resources(data_dir=str(layout.root)))
    meta = res.asset_materializations_for_node("dataset_export")[0].metadata
    assert meta["dataset_version"].value == ts.version and meta["lake_snapshot"].value == ds.lake_snapshot
    assert Path(meta["path"].value).name == ts.version
    assert f"read at lake snapshot {ds.lake_snapshot}" in (Path(meta["path"].value) / "README.md").read_text()

    # Later: two more VODs, and vod0 materialized again with other pairs.
    more = synthetic_pairs(n_vods=5, per_vod=8, seed=2).filter(pl.col("vod_id").is_in(["vod3", "vod4"]))
    _write_vods(layout, more)
    _write_vods(layout, synthetic_pairs(n_vods=1, per_vod=5, seed=3))
    now = read_dataset(layout)
    assert now.version != ts.version and now.lake_snapshot > ds.lake_snapshot
    assert sorted(now.pairs["vod_id"].unique()) == ["vod0", "vod1", "vod2", "vod3", "vod4"]

    # From the recorded snapshot: the exact rows, not the files (deleted here) and not the lake as it is now.
    kept = pl.read_parquet(ts.path / "examples.parquet")
    (ts.path / "examples.parquet").unlink()
    rebuilt = pipeline.rebuild_examples(layout, ts.version, base_dir)
    assert rebuilt.equals(kept) and rebuilt.height == ts.examples.height
    assert sorted(rebuilt["vod_id"].unique()) == ["vod0", "vod1", "vod2"]

    # What an adapter and its evaluation record of it, and a rebuild that cannot give the same rows.
    prov = pipeline.provenance(layout, ts.version)
    assert prov["dataset_version"] == ts.version and prov["lake_snapshot"] == ds.lake_snapshot
    changed = card | {"settings": {"max_prompt_tokens": 42, "max_completion_tokens": 16}}
    (ts.path / "card.json").write_text(json.dumps(changed))
    with pytest.raises(pipeline.RebuildMismatch, match="differ from the recorded ones"):
        pipeline.rebuild_examples(layout, ts.version, base_dir)
    (ts.path / "card.json").write_text(json.dumps(card))

    # Once the snapshot is expired (chatlab forget purges the lake's history), it says so.
    from chatlab.storage.forget import purge_history

    purge_history(lake_config(layout))
    with pytest.raises(LookupError, match=f"lake snapshot {ds.lake_snapshot} is not in the catalog any more"):
        pipeline.rebuild_examples(layout, ts.version, base_dir)
