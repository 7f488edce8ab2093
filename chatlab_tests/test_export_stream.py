"""The dataset export writes each split in batches (no Python object per pair for the whole
set at once) and the files equal the all-in-memory frames, row for row."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from chatlab.align import export
from chatlab.align.config import AlignConfig
from chatlab.align.estimate import estimate_offsets
from chatlab.align.pairs import build_pairs
from chatlab.align.splits import SplitConfig, assign
from chatlab.align.synth import make_case


def test_batched_export_equals_the_in_memory_frames(tmp_path: Path, monkeypatch) -> None:
    case = make_case(9, 10.0, offset_s=40.0, drift_s_per_h=0.0)
    al = estimate_offsets(case.words, case.chat)
    pairs = pl.concat([build_pairs(v, case.words, case.chat, al.curve, AlignConfig(), offsets_version="v", asr_model="m",
                                   filter_set="f")[0] for v in ("a", "b")])
    splits = pl.concat([assign("a", [1] * 64, pl.DataFrame(), SplitConfig(overrides={"a": "train"})),
                        assign("b", [2] * 64, pl.DataFrame(), SplitConfig(overrides={"b": "test"}))])
    offsets = pl.DataFrame([{"vod_id": v, "offset_s": 40.0, "drift_s_per_h": 0.0, "n_segments": 1, "confidence": 1.0,
                             "method": "estimated", "offsets_version": "v"} for v in ("a", "b")])
    whole = export.export_frames(pairs, splits)
    monkeypatch.setattr(export, "BATCH_ROWS", 7)  # many batches, a short last one
    assert whole["train"].height > 3 * 7
    res = export.write_export(tmp_path, pairs, splits, offsets, {"name": "t"})
    for s, frame in whole.items():
        got = pl.read_parquet(tmp_path / "data" / f"{s}-00000-of-00001.parquet")
        assert got.equals(frame), s
        assert res["counts"][s] == frame.height
    assert not list((tmp_path / "data").glob("*.tmp"))
