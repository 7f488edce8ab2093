"""The demo stream generator: real TTS and ffmpeg, short streams."""

from __future__ import annotations

import json
import wave
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from chatlab.demo import DemoStream, make_demo_stream, read_truth

MINUTES = 0.5  # 30 s streams: long enough for a 10 s break and every kind of chat noise
TOL = 2e-3  # times are stored with 3 decimals


@pytest.fixture(scope="module")
def streams(tmp_path_factory: pytest.TempPathFactory) -> dict[str, DemoStream]:
    """a and a_again: same seed, into two folders; b: another seed, audio only."""
    root = tmp_path_factory.mktemp("demo")
    return {
        "a": make_demo_stream(root / "a", "demo_01", seed=11, minutes=MINUTES, overlay=True),
        "a_again": make_demo_stream(root / "a_again", "demo_01", seed=11, minutes=MINUTES, overlay=True),
        "b": make_demo_stream(root / "b", "demo_02", seed=12, minutes=MINUTES, video=False, offset_s=5.0,
                              drift_s_per_h=2.0),
    }


def _offset(truth: dict, t_chat: float) -> float:
    return truth["offset_s"] + truth["drift_s_per_h"] * t_chat / 3600.0


def test_same_seed_gives_identical_chat_and_truth(streams):
    a, again = streams["a"], streams["a_again"]
    assert a.chat.read_bytes() == again.chat.read_bytes()
    assert a.truth.read_bytes() == again.truth.read_bytes()


def test_another_seed_gives_another_stream(streams):
    a, b = read_truth(streams["a"].truth), read_truth(streams["b"].truth)
    assert [s["text"] for s in a["segments"]] != [s["text"] for s in b["segments"]]
    assert json.loads(streams["a"].chat.read_text())["comments"] != json.loads(streams["b"].chat.read_text())["comments"]


def test_files_and_names(streams):
    for s in streams.values():
        assert s.media.name in (f"{s.name}.mp4", f"{s.name}.wav") and s.media.stat().st_size > 0
        assert s.chat.name == f"{s.name}.json" and s.truth.name == f"{s.name}.truth.json"
        assert s.duration_s == pytest.approx(MINUTES * 60)
        assert not [p.name for p in s.media.parent.iterdir() if p.name.startswith(".")], "temp file left behind"


def test_video_probes_with_audio_and_video(streams):
    import av

    s = streams["a"]
    with av.open(str(s.media)) as c:
        assert c.duration / 1e6 == pytest.approx(s.duration_s, abs=0.1)
        video = c.streams.video[0]
        audio = c.streams.audio[0]
        assert (video.codec_context.width, video.codec_context.height) == (640, 360)
        assert audio.codec_context.sample_rate == read_truth(s.truth)["sample_rate"]
        assert video.frames == pytest.approx(s.duration_s * 10, abs=1)


def test_audio_only_is_a_wav_of_the_right_length(streams):
    s = streams["b"]
    with wave.open(str(s.media)) as w:
        assert w.getframerate() == read_truth(s.truth)["sample_rate"]
        assert w.getnframes() / w.getframerate() == pytest.approx(s.duration_s, abs=1e-3)


def test_chat_export_has_the_twitchdownloader_shape(streams):
    export = json.loads(streams["a"].chat.read_text())
    assert set(export["FileInfo"]) >= {"Version", "CreatedAt", "UpdatedAt"}
    assert {"name", "id"} <= set(export["streamer"])
    assert {"title", "id", "created_at", "start", "end", "length"} <= set(export["video"])
    assert export["embeddedData"] is None
    comments = export["comments"]
    assert comments
    start = datetime.fromisoformat(export["video"]["created_at"].replace("Z", "+00:00"))
    offsets = [c["content_offset_seconds"] for c in comments]
    assert offsets == sorted(offsets) and min(offsets) >= 0
    for c in comments:
        assert {"_id", "created_at", "content_offset_seconds", "commenter", "message"} <= set(c)
        assert {"display_name", "_id", "name"} <= set(c["commenter"])
        msg = c["message"]
        assert {"body", "bits_spent", "fragments", "user_badges", "user_color", "emoticons"} <= set(msg)
        assert "".join(f["text"] for f in msg["fragments"]) == msg["body"]
        for e in msg["emoticons"]:
            assert msg["body"][e["begin"] : e["end"] + 1] in {f["text"] for f in msg["fragments"] if f["emoticon"]}
        created = datetime.fromisoformat(c["created_at"].replace("Z", "+00:00"))
        assert (created - start).total_seconds() == pytest.approx(c["content_offset_seconds"], abs=1e-3)


def test_export_holds_exactly_the_messages_not_dropped(streams):
    for key in ("a", "b"):
        truth = read_truth(streams[key].truth)
        export = json.loads(streams[key].chat.read_text())
        kept = {m["msg_id"] for m in truth["chat"] if not m["dropped"]}
        assert {c["_id"] for c in export["comments"]} == kept
        assert all(m["t_chat"] < 0 for m in truth["chat"] if m["dropped"])


def test_reactions_follow_their_sentence_through_the_clock(streams):
    for key in ("a", "b"):
        truth = read_truth(streams[key].truth)
        reactions = [m for m in truth["chat"] if m["kind"] == "reaction"]
        assert len(reactions) >= 3
        for m in reactions:
            assert m["t_chat"] - _offset(truth, m["t_chat"]) == pytest.approx(m["t_speech"], abs=TOL)
            end = truth["segments"][m["reacts_to"]]["end"]
            assert m["t_speech"] - m["reaction_delay_s"] == pytest.approx(end, abs=TOL)
            assert m["t_speech"] > end
            assert 1.0 <= m["reaction_delay_s"] <= 15.0
        for m in truth["chat"]:
            if m["kind"] != "reaction":
                assert m["reaction_delay_s"] is None and m["reacts_to"] is None
    b = read_truth(streams["b"].truth)
    assert (b["offset_s"], b["drift_s_per_h"]) == (5.0, 2.0)


def test_chat_has_every_kind_of_noise(streams):
    for key in ("a", "b"):
        kinds = {m["kind"] for m in read_truth(streams[key].truth)["chat"]}
        assert {"reaction", "emote_spam", "command", "bot", "copypasta", "greeting"} <= kinds


def test_segments_and_word_times(streams):
    truth = read_truth(streams["a"].truth)
    assert truth["word_times"] is not None
    last_end = 0.0
    for seg in truth["segments"]:
        assert last_end <= seg["start"] < seg["end"] <= truth["duration_s"]
        words = seg["words"]
        assert " ".join(w["word"] for w in words) == seg["text"]
        assert words[0]["start"] == seg["start"] and words[-1]["end"] == seg["end"]
        for w, nxt in zip(words, words[1:] + [None]):
            assert w["start"] < w["end"]
            if nxt:
                assert w["end"] <= nxt["start"]
        last_end = seg["end"]


def test_there_is_a_long_silence_and_it_is_quiet(streams):
    s = streams["b"]
    truth = read_truth(s.truth)
    gaps = [(a["end"], b["start"]) for a, b in zip(truth["segments"], truth["segments"][1:])]
    gaps += [(truth["segments"][-1]["end"], truth["duration_s"])]
    assert any(b - a >= 10.0 for a, b in gaps)
    assert truth["long_silences"]
    with wave.open(str(s.media)) as w:
        rate = w.getframerate()
        audio = np.frombuffer(w.readframes(w.getnframes()), "<i2").astype(np.float32) / 32768.0

    def dbfs(a: float, b: float) -> float:
        x = audio[int(a * rate) : int(b * rate)]
        return 20 * np.log10(np.sqrt(np.mean(x**2)) + 1e-12)

    quiet = truth["long_silences"][0]
    assert dbfs(quiet["start"] + 0.5, quiet["end"] - 0.5) < -40  # the noise floor, nothing more
    assert dbfs(quiet["start"] + 0.5, quiet["end"] - 0.5) > -60  # but not digital silence
    for seg in truth["segments"]:
        assert dbfs(seg["start"], seg["end"]) > -35


def test_overlay_times(streams):
    import av

    s = streams["a"]
    truth = read_truth(s.truth)
    fps, latency = truth["overlay"]["fps"], truth["overlay"]["latency_s"]
    shown = [m for m in truth["chat"] if m["on_screen_s"] is not None]
    assert shown
    for m in shown:
        assert 0 <= m["on_screen_s"] - (m["t_speech"] + latency) < 1.0 / fps + TOL
    # the panel is drawn where the truth says: darker than the game scene beside it
    x0, _, x1, _ = truth["overlay"]["panel"]
    with av.open(str(s.media)) as c:
        frame = next(f for f in c.decode(video=0) if f.time >= shown[-1]["on_screen_s"]).to_ndarray(format="rgb24")
    assert frame[:, x0 + 5 : x1].mean() < frame[:, : x0 - 5].mean() - 40


def test_bad_name_is_refused(tmp_path: Path):
    with pytest.raises(ValueError, match="VOD id"):
        make_demo_stream(tmp_path, "Demo 1", seed=0, minutes=0.1)


def test_cli_writes_into_out(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    from chatlab.cli import main

    assert main(["demo", "--out", str(tmp_path), "--minutes", "0.25", "--seed", "3", "--audio-only"]) == 0
    out = capsys.readouterr().out
    assert "demo_01.wav" in out and "demo_01.truth.json" in out and "15.0 s" in out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["demo_01.json", "demo_01.truth.json", "demo_01.wav"]
