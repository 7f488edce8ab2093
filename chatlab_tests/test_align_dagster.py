"""The align assets in an ephemeral instance on generated tables: offsets, the blocking
`alignment_confident` check (bad VODs stop, good ones go on), pairs, splits, the export."""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg
import polars as pl

from chatlab.align.synth import make_case
from chatlab.asr.tables import SEGMENTS_SCHEMA, WORDS_SCHEMA
from chatlab.config import Layout
from chatlab.defs.align import aligned_pairs, dataset_export, offsets, splits
from chatlab.defs.asr import transcript_tables
from chatlab.defs.chat import chat_clean, chat_import
from chatlab.defs.chat.assets import CLEAN_COLUMNS
from chatlab.resources import build_resources
from chatlab.align.export import dataset_version, load_tables
from chatlab.storage import connect


def _tables(vod: str, case) -> dict[str, pl.DataFrame]:
    w = case.words.with_row_index("word_idx").with_columns(pl.lit(vod).alias("vod_id"), pl.lit(0.9).alias("probability"))
    words = w.select([pl.col(c).cast(t) for c, t in WORDS_SCHEMA.items()])
    segs = case.words.group_by("seg_id").agg(pl.col("start_s").min(), pl.col("end_s").max(), pl.col("word").str.join(" ").alias("text"))
    segs = segs.with_columns(pl.lit(vod).alias("vod_id"), pl.lit(-0.2).alias("avg_logprob"), pl.lit(0.01).alias("no_speech_prob"),
                             pl.lit(1.2).alias("compression_ratio"), pl.lit("synthetic").alias("asr_model"), pl.lit("1").alias("asr_version"))
    segs = segs.select([pl.col(c).cast(t) for c, t in SEGMENTS_SCHEMA.items()])
    chat = case.chat.with_columns(pl.lit(vod).alias("vod_id"), pl.lit(True).alias("keep"))
    chat = chat.select([pl.col(c).cast(t) if c in chat.columns else pl.lit(None, t).alias(c) for c, t in CLEAN_COLUMNS.items()])
    return {"transcript_words": words, "transcript_segments": segs, "chat_clean": chat}


def _write(layout: Layout, vods: dict[str, object]) -> None:
    frames: dict[str, list[pl.DataFrame]] = {}
    for vod, case in vods.items():
        for name, df in _tables(vod, case).items():
            frames.setdefault(name, []).append(df)
    with connect(layout, read_only=False) as con:
        con.execute("CREATE SCHEMA IF NOT EXISTS chatlab")
        for name, dfs in frames.items():
            df = pl.concat(dfs).to_arrow()  # noqa: F841 - read by DuckDB
            con.execute(f"CREATE OR REPLACE TABLE chatlab.{name} AS SELECT * FROM df")


def _run(layout: Layout, instance: dg.DagsterInstance, vod: str) -> dg.ExecuteInProcessResult:
    if vod not in instance.get_dynamic_partitions("vods"):
        instance.add_dynamic_partitions("vods", [vod])
    return dg.materialize([transcript_tables, chat_import, chat_clean, offsets, aligned_pairs, splits], selection=[offsets, aligned_pairs, splits],
                          partition_key=vod, instance=instance, resources=build_resources(data_dir=str(layout.root)), raise_on_error=False)


def _query(layout: Layout, sql: str) -> list[tuple]:
    with connect(layout) as con:
        return con.execute(sql).fetchall()


def test_good_vod_pairs_bad_vods_stop(layout: Layout, instance: dg.DagsterInstance) -> None:
    good = make_case(31, 20.0, offset_s=42.0, drift_s_per_h=1.0)
    unrelated = make_case(32, 20.0, offset_s=42.0, drift_s_per_h=0.0, chat_seed=99)
    tiny = make_case(33, 5.0, offset_s=10.0, drift_s_per_h=0.0)
    _write(layout, {"good": good, "unrelated": unrelated, "tiny": tiny})
    with connect(layout, read_only=False) as con:  # three messages only
        con.execute("DELETE FROM chatlab.chat_clean WHERE vod_id = 'tiny' AND msg_id NOT IN (SELECT msg_id FROM chatlab.chat_clean WHERE vod_id = 'tiny' ORDER BY t_s LIMIT 3)")

    r = _run(layout, instance, "good")
    assert r.success
    checks = {e.check_name: e for e in r.get_asset_check_evaluations()}
    assert checks["alignment_confident"].passed and checks["pairs_provenance"].passed and checks["no_leakage"].passed
    mat = {e.asset_key.to_user_string(): e for e in r.get_asset_materialization_events()}
    assert set(mat) == {"offsets", "aligned_pairs", "splits"}
    meta = r.asset_materializations_for_node("offsets")[0].metadata
    assert abs(meta["offset_s"].value - good.truth.segments[0].offset_s) < 1.0
    assert meta["plot"].value.startswith("![offsets](data:image/png;base64,")
    (row,) = _query(layout, "SELECT vod_id, passed, method, n_segments FROM chatlab.offsets")
    assert row == ("good", True, "estimated", 1)
    cols = [c[0] for c in _query(layout, "SELECT column_name FROM information_schema.columns WHERE table_name='aligned_pairs' ORDER BY ordinal_position")]
    assert cols[:2] == ["vod_id", "msg_id"] and "user" not in cols
    n = _query(layout, "SELECT count(*), max(context_end_s - t_speech_s) FROM chatlab.aligned_pairs WHERE vod_id='good'")[0]
    assert n[0] > 500 and n[1] <= 0
    assert (layout.artifact_dir("offsets", "good") / "offsets.png").exists()

    for vod, why in (("unrelated", "confidence"), ("tiny", "too little chat")):
        r = _run(layout, instance, vod)
        ev = {e.check_name: e for e in r.get_asset_check_evaluations()}["alignment_confident"]
        assert not ev.passed and why in ev.description
        done = {e.asset_key.to_user_string() for e in r.get_asset_materialization_events()}
        assert done == {"offsets"}, done  # the blocking check stopped pairs and splits
    assert _query(layout, "SELECT DISTINCT vod_id FROM chatlab.aligned_pairs") == [("good",)]

    # the export reads every VOD; only the good one (offsets passed) is in it
    res = dg.materialize([dataset_export], instance=instance, resources=build_resources(data_dir=str(layout.root)))
    m = res.asset_materializations_for_node("dataset_export")[0].metadata
    out = Path(m["path"].value)
    total = sum(m[f"pairs_{s}"].value for s in ("train", "validation", "test"))
    assert total == n[0]
    card = (out / "README.md").read_text()
    assert "| good |" in card and "unrelated" not in card and json.dumps(m["files"].value)

    # the export names the lake snapshot it read: after the tables change, that snapshot still
    # gives the exact pairs the export was made of (same version)
    snap, version = m["lake_snapshot"].value, m["dataset_version"].value
    assert out.name == version
    with connect(layout, read_only=False) as con:
        con.execute("DELETE FROM chatlab.aligned_pairs WHERE vod_id = 'good' AND msg_id IN (SELECT msg_id FROM chatlab.aligned_pairs LIMIT 3)")
    assert dataset_version(*load_tables(layout)[:2]) != version
    pairs, splits_then, _ = load_tables(layout, snapshot=snap)
    assert pairs.height == total and dataset_version(pairs, splits_then) == version


def test_vod_with_a_cut(layout: Layout, instance: dg.DagsterInstance) -> None:
    """Two segments; the chat typed while the removed audio played is counted and left out."""
    case = make_case(35, 40.0, offset_s=42.0, drift_s_per_h=0.0, cuts=1)
    _write(layout, {"cut": case})
    r = _run(layout, instance, "cut")
    assert r.success
    (row,) = _query(layout, "SELECT n_segments, segments FROM chatlab.offsets")
    seg = json.loads(row[1])[1]
    assert row[0] == 2 and seg["cut_lo_s"] <= case.params["cut_at_audio_s"][0] <= seg["cut_hi_s"]
    meta = r.asset_materializations_for_node("aligned_pairs")[0].metadata
    gap = (case.truth.segments[0].end_s, case.truth.segments[1].start_s)
    in_gap = case.chat.filter((pl.col("t_s") > gap[0]) & (pl.col("t_s") < gap[1])).height
    assert meta["filter_in_cut"].value >= in_gap > 0
    assert _query(layout, f"SELECT count(*) FROM chatlab.aligned_pairs WHERE t_chat_s > {gap[0]} AND t_chat_s < {gap[1]}") == [(0,)]


def test_override_in_config_passes_and_is_recorded(layout: Layout, instance: dg.DagsterInstance, tmp_path) -> None:
    unrelated = make_case(32, 10.0, offset_s=42.0, drift_s_per_h=0.0, chat_seed=99)
    _write(layout, {"odd": unrelated})
    (tmp_path / "chatlab.toml").write_text('[vods.odd.align]\noffset_s = 42.0\n')
    instance.add_dynamic_partitions("vods", ["odd"])
    r = dg.materialize([transcript_tables, chat_import, chat_clean, offsets, aligned_pairs, splits], selection=[offsets, aligned_pairs, splits],
                       partition_key="odd", instance=instance, raise_on_error=False,
                       resources=build_resources(data_dir=str(layout.root), config_file=str(tmp_path / "chatlab.toml")))
    ev = {e.check_name: e for e in r.get_asset_check_evaluations()}["alignment_confident"]
    assert ev.passed and "manual override" in ev.description
    assert _query(layout, "SELECT method, offset_s FROM chatlab.offsets") == [("override_offset", 42.0)]
    assert _query(layout, "SELECT count(*) > 0 FROM chatlab.aligned_pairs") == [(True,)]


def _td_export(case, length_s: float) -> dict:
    """The case's chat as a TwitchDownloader export of a VOD `length_s` long (whole-second offsets,
    created_at to the millisecond, as new exports write them)."""
    from datetime import datetime, timedelta, timezone

    t0 = datetime(2024, 5, 1, 18, 0, tzinfo=timezone.utc)
    comments = []
    for i, r in enumerate(case.chat.sort("t_s").iter_rows(named=True)):
        at = (t0 + timedelta(seconds=r["t_s"])).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        comments.append({"_id": r["msg_id"], "created_at": at, "channel_id": "99", "content_type": "video", "content_id": "2001",
                         "content_offset_seconds": int(r["t_s"]),
                         "commenter": {"display_name": r["user_hash"], "_id": str(i), "name": r["user_hash"], "bio": None, "logo": None},
                         "message": {"body": r["text"], "bits_spent": 0, "fragments": [{"text": r["text"], "emoticon": None}],
                                     "user_badges": [], "user_color": None, "user_notice_params": {"msg_id": None}, "emoticons": []}})
    return {"FileInfo": {"Version": {"Major": 1, "Minor": 4, "Patch": 0}}, "streamer": {"name": "s", "id": 99},
            "video": {"id": "2001", "created_at": t0.isoformat().replace("+00:00", "Z"), "start": 0, "end": length_s, "length": length_s},
            "comments": comments, "embeddedData": None}


def test_offsets_use_the_export_prior(layout: Layout, instance: dg.DagsterInstance) -> None:
    """The real chat assets read a TwitchDownloader export; offsets takes the prior from what `chat`
    recorded (the VOD's length) when vod_source says the recording is that long, and says so."""
    from chatlab_tests.conftest import make_media

    case = make_case(51, 8.0, offset_s=4.0, drift_s_per_h=0.0)
    length = round(float(case.words["end_s"].max()) + 20.0, 1)
    for vod, recording in (("same", length), ("trimmed", length - 120.0)):
        make_media(layout.inbox / f"{vod}.wav", seconds=1, video=False)
        (layout.inbox / f"{vod}.json").write_text(json.dumps(_td_export(case, length)))
    _write(layout, {"same": case, "trimmed": case})
    with connect(layout, read_only=False) as con:  # the chat tables come from the real chat assets below
        con.execute("DROP TABLE chatlab.chat_clean")
        con.execute("CREATE TABLE chatlab.vod_source (vod_id VARCHAR, duration_s DOUBLE, started_at TIMESTAMP)")
        con.execute("INSERT INTO chatlab.vod_source VALUES ('same', ?, NULL), ('trimmed', ?, NULL)", [length, length - 120.0])
    metas = {}
    for vod in ("same", "trimmed"):
        instance.add_dynamic_partitions("vods", [vod])
        r = dg.materialize([transcript_tables, chat_import, chat_clean, offsets], selection=[chat_import, chat_clean, offsets],
                           partition_key=vod, instance=instance, resources=build_resources(data_dir=str(layout.root)), raise_on_error=False)
        assert r.success
        ev = {e.check_name: e for e in r.get_asset_check_evaluations()}["alignment_confident"]
        assert ev.passed, ev.description
        metas[vod] = {k: v.value for k, v in r.asset_materializations_for_node("offsets")[0].metadata.items()}
        assert abs(metas[vod]["offset_s"] - 4.0) < 1.0
    same, trimmed = metas["same"], metas["trimmed"]
    assert "matches the recording" in same["prior"] and same["prior_offset_s"] == 3.0
    assert same["prior_windows_moved"] >= 0 and isinstance(same["prior_moved_answer_s"], float) and same["prior_moved_answer_s"] < 1.0
    assert abs(same["prior_estimate_minus_prior_s"] - 1.0) < 1.0
    assert trimmed["prior"].startswith("none: the recording") and "is not the VOD" in trimmed["prior"]
    assert "prior_moved_answer_s" not in trimmed
    # the segments table carries each segment's confidence and anchors, as the plot labels do
    head, _, first = same["segments"].splitlines()[:3]
    assert "| confidence | anchors |" in head
    cells = [c.strip() for c in first.strip("|").split("|")]
    fig = same["figures"]["segments"][0]
    assert float(cells[4]) == round(fig["confidence"], 2) and int(cells[5]) == fig["anchors"] > 8


def test_offsets_place_a_loose_cut_by_the_audio(layout: Layout, instance: dg.DagsterInstance) -> None:
    """Bench group `short`, seed 0, case 11: the echoes leave its cut loose (placed 5.8 s off, and
    39 s loose if one echo beside it was chance: the gate fails it without audio); the splice
    changed the room, and the `audio` artifact's background step places it within 1 s and pins
    it, so the gate passes."""
    import wave

    import numpy as np

    from chatlab.align.bench import group_cases, score
    from chatlab.align.curve import OffsetCurve
    from chatlab.align.synth import splice_audio, splice_rooms
    from chatlab.media.audio import audio_path

    from chatlab_tests.test_align import seamless

    case = seamless(make_case(**group_cases("short", 12, 0)[11] | {"splice": "bare"}))  # no mark in the words: only the audio can place it
    assert splice_rooms(case)["cut_changed_room"] == [True]
    x, sr = splice_audio(case, 0.0, case.params["minutes"] * 60.0, sr=16000)
    wav = audio_path(layout, "spliced")
    wav.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(wav), "wb") as w:
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(sr)
        w.writeframes(np.clip(x * 32768, -32768, 32767).astype("<i2").tobytes())
    _write(layout, {"spliced": case, "silent": case})
    errs = {}
    for vod in ("spliced", "silent"):
        r = _run(layout, instance, vod)
        ev = {e.check_name: e for e in r.get_asset_check_evaluations()}["alignment_confident"]
        assert ev.passed == (vod == "spliced") and r.success == (vod == "spliced"), ev.description
        if vod == "silent":
            assert "if one echo beside it was chance" in ev.description
        meta = r.asset_materializations_for_node("offsets")[0].metadata
        (row,) = _query(layout, f"SELECT segments FROM chatlab.offsets WHERE vod_id = '{vod}'")
        errs[vod] = score(OffsetCurve.from_list(json.loads(row[0])), case.truth)["cut_errs"][0]
        if vod == "spliced":
            assert meta["audio_cuts_moved"].value == 1 and "pins the cut" in meta["audio_at_cuts"].value
        else:
            assert "audio_cuts_moved" not in meta and meta["audio_at_cuts"].value.startswith("not used: no audio artifact")
    assert errs["silent"] > 5.0 and errs["spliced"] < 1.0, errs


def test_a_vod_rejected_on_the_review_page_gets_no_pairs(layout: Layout, instance: dg.DagsterInstance) -> None:
    from chatlab.review import overrides

    _write(layout, {"good": make_case(31, 20.0, offset_s=42.0, drift_s_per_h=1.0)})
    overrides.save(layout, "good", None, status="rejected")
    r = _run(layout, instance, "good")
    ev = {e.check_name: e for e in r.get_asset_check_evaluations()}["alignment_confident"]
    assert not ev.passed and "rejected on the review page" in ev.description
    assert {e.asset_key.to_user_string() for e in r.get_asset_materialization_events()} == {"offsets"}

    overrides.save(layout, "good", None, status="accepted")  # the person changes their mind
    r = _run(layout, instance, "good")
    assert {e.check_name: e for e in r.get_asset_check_evaluations()}["alignment_confident"].passed
    assert _query(layout, "SELECT count(*) > 0 FROM chatlab.aligned_pairs WHERE vod_id = 'good'") == [(True,)]
