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


def _lake_with_pairs(layout) -> None:
    """aligned_pairs, splits and offsets of four VODs as the align assets write them: one VOD's
    offsets failed, one has pairs of an older offsets version, texts in several scripts (the
    version's sort is by bytes), equal moments, an empty split."""
    import random

    from chatlab.storage import lake_config, replace_rows

    lake = lake_config(layout)
    rng = random.Random(3)
    words = ["hi", "ünïcode", "日本語", "emoji 🙂", "Zed", "apple", "a", "b\nc", "", "\"quoted\""]
    for k, (vod, split, passed) in enumerate([("va", "train", True), ("vb", "train", True), ("vc", "validation", True),
                                              ("vd", "train", False)]):
        case = make_case(20 + k, 6.0, offset_s=30.0, drift_s_per_h=0.0)
        al = estimate_offsets(case.words, case.chat)
        p = build_pairs(vod, case.words, case.chat, al.curve, AlignConfig(), offsets_version="v1", asr_model=f"m{k % 2}",
                        filter_set="f")[0]
        p = p.with_columns(pl.Series("target", [rng.choice(words) + str(rng.randint(0, 3)) for _ in range(p.height)]),
                           pl.when(pl.int_range(pl.len()) % 5 == 0).then(pl.col("t_speech_s").shift(1)).otherwise(pl.col("t_speech_s"))
                           .fill_null(0.0).alias("t_speech_s"))
        if vod == "vb":  # half of them made with an older offsets version: left out
            p = p.with_columns(pl.when(pl.int_range(pl.len()) % 2 == 0).then(pl.lit("v0")).otherwise(pl.col("offsets_version")).alias("offsets_version"))
        replace_rows(lake, "aligned_pairs", p, "vod_id", [vod])
        replace_rows(lake, "splits", assign(vod, [k] * 64, pl.DataFrame(), SplitConfig(overrides={vod: split})), "vod_id", [vod])
        replace_rows(lake, "offsets", pl.DataFrame([{"vod_id": vod, "offset_s": 30.0, "drift_s_per_h": 0.0, "n_segments": 1,
                                                     "confidence": 0.9, "method": "estimated", "offsets_version": "v1",
                                                     "passed": passed}]), "vod_id", [vod])


def test_streamed_export_equals_the_whole_read(layout, tmp_path: Path, monkeypatch) -> None:
    """export_dataset over many pairs (DuckDB sorts them with a memory limit and hands them over in
    batches; the version hashed from spilled, sorted lines) writes the files, card and version of
    the whole read (read_dataset + write_export), and the version dataset_version gives."""
    _lake_with_pairs(layout)
    ds = export.read_dataset(layout)
    assert ds.pairs.height > 300 and set(ds.pairs["vod_id"].unique()) == {"va", "vb", "vc"}
    whole = export.export_dataset(layout, tmp_path / "whole", {"settings": {"k": 1}})
    assert not whole["streamed"] and whole["dataset_version"] == ds.version
    monkeypatch.setattr(export, "STREAM_ABOVE_PAIRS", 0)
    monkeypatch.setattr(export, "BATCH_ROWS", 7)
    monkeypatch.setattr(export, "HASH_BATCH_ROWS", 13)
    streamed = export.export_dataset(layout, tmp_path / "streamed", {"settings": {"k": 1}})
    assert streamed["streamed"]
    assert streamed["dataset_version"] == whole["dataset_version"] == export.dataset_version(ds.pairs, ds.splits)
    assert streamed["counts"] == whole["counts"] and streamed["counts"]["test"] == 0 and streamed["counts"]["train"] > 100
    assert streamed["files"] == whole["files"] and streamed["lake_snapshot"] == whole["lake_snapshot"]
    a, b = Path(whole["out"]), Path(streamed["out"])
    assert a.name == b.name == ds.version
    for name in whole["files"].values():
        wa, wb = pl.read_parquet(a / name), pl.read_parquet(b / name)
        assert wa.schema == wb.schema
        assert wa.equals(wb), name
    assert (a / "README.md").read_text() == (b / "README.md").read_text()
    assert (a / "dataset.json").read_text() == (b / "dataset.json").read_text()
    assert not list((layout.root / "tmp").glob("export-*"))
    # one changed pair changes the streamed version too
    from chatlab.storage import connect

    with connect(layout, read_only=False) as con:
        con.execute("UPDATE chatlab.aligned_pairs SET target = target || '!' WHERE msg_id = (SELECT min(msg_id) FROM chatlab.aligned_pairs WHERE vod_id = 'vc')")
    assert export.export_dataset(layout, tmp_path / "again")["dataset_version"] != whole["dataset_version"]
