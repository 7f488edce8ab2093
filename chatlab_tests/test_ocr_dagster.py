"""The chat_ocr asset in an ephemeral instance: a video VOD without export gets its chat from the
picture (Parquet in the chat schema); VODs with an export or without video are skipped at once."""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from chatlab.chat.schema import MESSAGE
from chatlab.config import Layout
from chatlab.defs.ocr import OcrEngineResource, chat_ocr, messages_path
from chatlab.resources import build_resources
from chatlab_tests.conftest import make_media
from chatlab_tests.test_ocr import make_overlay_clip
from chatlab.storage import connect


def run(layout: Layout, instance: dg.DagsterInstance, key: str) -> dg.ExecuteInProcessResult:
    instance.add_dynamic_partitions("vods", [key])
    return dg.materialize([chat_ocr], partition_key=key, instance=instance,
                          resources={**build_resources(data_dir=str(layout.root)), "ocr": OcrEngineResource()})


def meta(result: dg.ExecuteInProcessResult) -> dict:
    (m,) = result.asset_materializations_for_node("chat_ocr")
    return {k: v.value for k, v in m.metadata.items()}


def check(result: dg.ExecuteInProcessResult) -> dg.AssetCheckEvaluation:
    (ev,) = result.get_asset_check_evaluations()
    return ev


@pytest.mark.slow
def test_video_without_export_gets_chat_from_ocr(layout: Layout, instance: dg.DagsterInstance, tmp_path: Path) -> None:
    make_overlay_clip(layout.inbox / "stream1.mp4", duration_s=8.0)
    (tmp_path / "chatlab.toml").write_text('[vods.stream1.ocr]\nregion = "420,0,220,360"\nfps = 1\n')
    result = run(layout, instance, "stream1")
    assert result.success
    df = pl.read_parquet(messages_path(layout, "stream1"))
    assert df.columns == ["vod_id", *MESSAGE]  # the chat table's columns, in its order
    assert df.height >= 5 and set(df["source_format"]) == {"ocr"} and set(df["vod_id"]) == {"stream1"}
    assert set(df["source_file"]) == {"stream1.mp4"} and df["user_hash"].str.len_chars().min() == 16
    assert df["t_s"].is_sorted() and df["msg_id"].n_unique() == df.height
    nb = df.filter(pl.col("user") == "Nightbot")
    assert nb.height == 1 and nb["is_bot"][0]
    details = pl.read_parquet(messages_path(layout, "stream1").with_name("details.parquet"))
    assert details.height == df.height and details["confidence"].min() > 0
    m = meta(result)
    assert m["region"] == "420,0,220,360" and m["region_method"] == "config" and m["messages"] == df.height
    assert m["frames"] == 9 and m["frames_unreadable"] == 0  # 0..7 s and the last frame
    assert check(result).passed

    # the `chat` table takes the OCR'd messages for a VOD without an export
    from chatlab.defs.chat.assets import chat_import

    chat = dg.materialize([chat_import], partition_key="stream1", instance=instance,
                          resources=build_resources(data_dir=str(layout.root)))
    (mat,) = [m for m in chat.asset_materializations_for_node("chat_import") if m.asset_key.path == ["chat"]]
    assert mat.metadata["format"].value == "ocr" and mat.metadata["parsed"].value == df.height
    with connect(layout) as con:
        rows = con.execute("select source_format, count(*) from chatlab.chat where vod_id = 'stream1' group by 1").fetchall()
    assert rows == [("ocr", df.height)]


def test_vod_with_export_is_skipped(layout: Layout, instance: dg.DagsterInstance) -> None:
    make_media(layout.inbox / "vod2.mp4", seconds=2)
    (layout.inbox / "vod2.json").write_text(json.dumps({"comments": []}))
    stale = messages_path(layout, "vod2")
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"old")  # left by an earlier run before the export arrived
    result = run(layout, instance, "vod2")
    assert result.success and "has a chat export (vod2.json)" in meta(result)["skipped"]
    assert not stale.exists()


def test_audio_only_vod_is_skipped(layout: Layout, instance: dg.DagsterInstance) -> None:
    make_media(layout.inbox / "vod3.wav", seconds=2, video=False)
    result = run(layout, instance, "vod3")
    assert result.success and "audio only" in meta(result)["skipped"] and meta(result)["messages"] == 0


def test_video_without_chat_on_screen(layout: Layout, instance: dg.DagsterInstance) -> None:
    make_overlay_clip(layout.inbox / "vod4.mp4", duration_s=5.0, overlay=False)
    result = run(layout, instance, "vod4")
    assert result.success  # not a crash: an empty table and the reason
    m = meta(result)
    assert m["messages"] == 0 and "no chat region found" in m["reason"]
    assert pl.read_parquet(messages_path(layout, "vod4")).height == 0
    ev = check(result)
    assert not ev.passed and ev.severity == dg.AssetCheckSeverity.WARN
    assert "no chat region found" in ev.description
    # the picture of the frame (and of whatever moved like chat) goes with the failure
    assert str(m["region_picture"]).startswith("![no chat region found](data:image/png;base64,")
    assert "region_picture" in ev.metadata


def test_bad_settings_fail_with_the_reason(layout: Layout, instance: dg.DagsterInstance, tmp_path: Path) -> None:
    make_media(layout.inbox / "vod5.mp4", seconds=2)
    (tmp_path / "chatlab.toml").write_text('[ocr]\nbackend = "tesseract"\n')
    instance.add_dynamic_partitions("vods", ["vod5"])
    result = dg.materialize([chat_ocr], partition_key="vod5", instance=instance, raise_on_error=False,
                            resources={**build_resources(data_dir=str(layout.root)), "ocr": OcrEngineResource()})
    assert not result.success
    (fail,) = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    assert "unknown OCR backend 'tesseract'" in str(fail.event_specific_data.error)


@pytest.mark.slow
def test_text_on_screen_but_no_chat_read_fails_the_check(layout: Layout, instance: dg.DagsterInstance,
                                                          tmp_path: Path) -> None:
    make_overlay_clip(layout.inbox / "vod6.mp4", duration_s=5.0)
    # the region set by hand over the game's LIVE clock: text, but no chat
    (tmp_path / "chatlab.toml").write_text('[vods.vod6.ocr]\nregion = "0,0,200,40"\n')
    result = run(layout, instance, "vod6")
    assert result.success
    ev = check(result)
    assert not ev.passed and "text seen in" in ev.description and "no message read" in ev.description
    figures = {k: v.value for k, v in ev.metadata.items()}
    assert figures["messages"] == 0 and figures["frames_with_text"] >= 3 and figures["lines_seen"] >= 3
