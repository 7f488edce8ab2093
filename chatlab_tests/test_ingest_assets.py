"""`vod_source` and `audio` materialized for real: ephemeral instance, DuckDB file, ffmpeg, WAV on disk."""

import wave

import dagster as dg
import numpy as np
import pytest

from chatlab.defs.ingest import audio, vod_source
from chatlab.media.audio import audio_path
from chatlab.resources import build_resources
from chatlab.storage import connect


def run(instance, layout, vod_id, assets=(vod_source, audio)):
    instance.add_dynamic_partitions("vods", [vod_id])
    return dg.materialize(
        list(assets),
        partition_key=vod_id,
        instance=instance,
        resources=build_resources(data_dir=str(layout.root)),
        raise_on_error=False,
    )


def rows(layout, table):
    with connect(layout) as con:
        return con.execute(f"select * from chatlab.{table} order by vod_id").pl()


def step_error(result, step):
    failures = [e for e in result.all_events if e.is_step_failure and e.step_key == step]
    assert failures, f"{step} did not fail"
    return failures[0].step_failure_data.error.message


def test_vod_source_and_audio_rows_and_file(instance, layout, media_factory):
    media_factory(layout.inbox / "stream_1.mp4", 6.0, creation_time="2024-05-01T18:30:00Z")
    (layout.inbox / "stream_1.json").write_text("{}")
    result = run(instance, layout, "stream_1")
    assert result.success

    src = rows(layout, "vod_source").row(0, named=True)
    assert src["vod_id"] == "stream_1"
    assert src["file_name"] == "stream_1.mp4" and src["chat_path"].endswith("stream_1.json")
    assert src["duration_s"] == pytest.approx(6.0, abs=0.1)
    assert (src["width"], src["height"], src["fps"]) == (160, 120, 10.0)
    assert src["has_audio"] and src["has_video"] and src["audio_codec"] == "aac"
    assert src["started_at"].isoformat().startswith("2024-05-01T18:30:00")
    assert len(src["sha256"]) == 64

    a = rows(layout, "audio").row(0, named=True)
    wav = audio_path(layout, "stream_1")
    assert a["path"] == str(wav) and wav.exists()
    assert a["duration_s"] == pytest.approx(6.0, abs=0.1)
    assert a["loudness_out_lufs"] == pytest.approx(-23.0, abs=1.0)
    assert a["source_sha256"] == src["sha256"]
    with wave.open(str(wav)) as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (16000, 1, 2)
        samples = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16)
    assert np.abs(samples).max() > 1000  # the tone is there, not silence

    mat = instance.get_latest_materialization_event(dg.AssetKey("vod_source"))
    assert mat.asset_materialization.metadata["resolution"].value == "160x120"
    checks = {c.check_name: c for c in result.get_asset_check_evaluations()}
    assert checks["audio_complete"].passed


def test_rematerializing_replaces_the_partition(instance, layout, media_factory):
    media_factory(layout.inbox / "a.wav", 2.0, video=False)
    media_factory(layout.inbox / "b.wav", 3.0, video=False)
    assert run(instance, layout, "a").success
    assert run(instance, layout, "b").success
    assert run(instance, layout, "a").success
    table = rows(layout, "audio")
    assert table["vod_id"].to_list() == ["a", "b"]


def test_unreadable_and_truncated_media_fail_with_the_file_named(instance, layout, media_factory, tmp_path):
    (layout.inbox / "garbage.mp4").write_bytes(b"\x00not a video at all" * 100)
    result = run(instance, layout, "garbage")
    assert not result.success
    assert "garbage.mp4: not a readable media file" in step_error(result, "vod_source")

    whole = media_factory(tmp_path / "whole.mkv", 10.0)
    (layout.inbox / "cut.mkv").write_bytes(whole.read_bytes()[: whole.stat().st_size // 3])
    result = run(instance, layout, "cut")
    assert result.success  # a truncated recording still gives what it has...
    check = {c.check_name: c for c in result.get_asset_check_evaluations()}["audio_complete"]
    assert not check.passed and "truncated" in check.description  # ...and says it is incomplete


def test_video_without_audio_fails_at_audio(instance, layout, media_factory):
    media_factory(layout.inbox / "mute.mp4", 2.0, audio=False)
    result = run(instance, layout, "mute")
    assert not result.success
    assert "mute.mp4: no audio stream" in step_error(result, "audio")
    assert rows(layout, "vod_source")["has_audio"].to_list() == [False]


def test_vod_missing_from_inbox_is_a_clear_failure(instance, layout):
    result = run(instance, layout, "gone", assets=(vod_source,))
    assert "no file in" in step_error(result, "vod_source") and "'gone'" in step_error(result, "vod_source")


def test_demo_stream_through_vod_source_and_audio(instance, layout):
    from chatlab.demo import make_demo_stream, read_truth

    stream = make_demo_stream(layout.inbox, "demo_t1", seed=7, minutes=0.5)
    truth = read_truth(stream.truth)
    result = run(instance, layout, "demo_t1")
    assert result.success
    src = rows(layout, "vod_source").row(0, named=True)
    assert src["chat_path"] == str(stream.chat)
    assert (src["width"], src["height"]) == (640, 360)
    a = rows(layout, "audio").row(0, named=True)
    assert a["duration_s"] == pytest.approx(truth["duration_s"], abs=0.1)
    assert a["loudness_out_lufs"] == pytest.approx(-23.0, abs=1.5)
    # the speech is where the ground truth says: louder inside the first sentence than in the long silence
    with wave.open(a["path"]) as w:
        pcm = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16).astype(np.float32)
    seg = truth["segments"][0]
    quiet = truth["long_silences"][0]
    speech_rms = np.sqrt(np.mean(pcm[int(seg["start"] * 16000) : int(seg["end"] * 16000)] ** 2))
    start, end = (quiet["start"], quiet["end"]) if isinstance(quiet, dict) else quiet
    silence_rms = np.sqrt(np.mean(pcm[int(start * 16000) + 1600 : int(end * 16000) - 1600] ** 2))
    assert speech_rms > 10 * silence_rms
