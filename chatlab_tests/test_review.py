"""The review page's data functions and server, without a browser: peaks, the curve as override
anchors (a cut included), the saved override as every stage reads it, and the server's guards."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import wave
from pathlib import Path

import numpy as np
import pytest

from chatlab import config as cfg
from chatlab.align.config import AlignConfig
from chatlab.align.curve import CurveSegment, OffsetCurve
from chatlab.align.estimate import override
from chatlab.config import Layout
from chatlab.review import overrides
from chatlab.review.app import build_app
from chatlab.review.browser import serving
from chatlab.review.peaks import compute_peaks, read_info, write_peaks
from chatlab.review.timeline import curve_points, speech_intervals


def _wav(path: Path, samples: np.ndarray, rate: int = 16000) -> Path:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(samples.astype("<i2").tobytes())
    return path


def test_peaks_are_the_min_and_max_of_each_20_ms(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    x = (rng.standard_normal(16000 * 3 + 123) * 6000).clip(-32768, 32767).astype(np.int16)
    peaks, info = compute_peaks(_wav(tmp_path / "a.wav", x), chunk_s=0.7)  # chunks that do not align with bins
    assert info.n_bins == 151 and info.bins_per_s == 50 and info.duration_s == pytest.approx(3.008, abs=1e-3)
    b = x[:150 * 320].reshape(150, 320).astype(np.float64)
    want = np.round(np.stack([b.min(1), b.max(1)], 1) / 32768 * 127).reshape(-1)
    assert np.array_equal(peaks[:300].astype(np.float64), want)
    assert peaks[300] == round(x[150 * 320:].min() / 32768 * 127)
    write_peaks(tmp_path / "out", peaks, info)
    assert read_info(tmp_path / "out") == info and (tmp_path / "out" / "peaks.bin").stat().st_size == 302


def test_peaks_refuse_a_file_that_is_not_pcm(tmp_path: Path) -> None:
    (tmp_path / "x.wav").write_bytes(b"not a wav")
    with pytest.raises(ValueError, match="x.wav: not a PCM WAV"):
        compute_peaks(tmp_path / "x.wav")


def test_curve_points_read_back_as_anchors_give_the_same_offsets_with_a_cut() -> None:
    # segment 2 starts after a gap on the chat clock (a cut): offset jumps from ~42 to 72
    curve = OffsetCurve((CurveSegment(10.0, 600.0, 42.0, 3.0), CurveSegment(630.0, 1500.0, 72.0, -1.0, 540.0, 560.0)))
    pts = curve_points(curve)
    assert sum(1 for a, b in zip(pts, pts[1:]) if a[0] == b[0] and a[1] != b[1]) == 1  # the cut: two points, one chat time
    back = override(AlignConfig(anchors=tuple(map(tuple, pts))), (10.0, 1500.0)).curve
    t = np.linspace(10.0, 1500.0, 2000)
    assert np.allclose(back.offset(t), curve.offset(t), atol=1e-3)
    assert len(back.cuts()) == 1 and back.cuts()[0] == pytest.approx(600.0 - (72.0 - 1.0 * (600 - 630) / 3600), abs=1e-3)


def test_speech_intervals_join_words_across_short_pauses() -> None:
    import polars as pl

    words = pl.DataFrame({"start_s": [0.0, 0.5, 1.2, 5.0], "end_s": [0.4, 1.0, 1.5, 5.5]})
    assert speech_intervals(words) == [[0.0, 1.5], [5.0, 5.5]]


def test_saved_override_is_what_the_stages_read(layout: Layout, tmp_path: Path) -> None:
    (tmp_path / "chatlab.toml").write_text('[vods.v1.align]\noffset_s = 3.0\nmin_anchors = 4\n')
    overrides.save(layout, "v1", {"anchors": [[10.0, 5.0], [100.0, 95.0], [100.0, 80.0], [200.0, 180.0]]}, status="accepted")
    conf = cfg.load_config(tmp_path / "chatlab.toml", layout.root)
    a = AlignConfig.from_mapping(cfg.section(conf, "align", "v1"))
    assert a.anchors == ((10.0, 5.0), (100.0, 95.0), (100.0, 80.0), (200.0, 180.0)) and a.offset_s is None  # replaces offset_s
    assert a.min_anchors == 4  # other settings of the file stay
    rec = conf["vods"]["v1"]["review"]
    assert rec["source"] == "review" and rec["status"] == "accepted" and rec["saved_at"].endswith("+00:00")
    overrides.save(layout, "v1", {"offset_s": 12.5, "drift_s_per_h": 1.0})
    a = AlignConfig.from_mapping(cfg.section(cfg.load_config(tmp_path / "chatlab.toml", layout.root), "align", "v1"))
    assert (a.offset_s, a.drift_s_per_h, a.anchors) == (12.5, 1.0, ())
    assert overrides.read(layout)["v1"]["review"]["status"] == "accepted"  # kept from the first save


@pytest.mark.parametrize("align, match", [
    ({"offset_s": "nan"}, "finite"), ({"anchors": [[1, 2, 3]]}, "t_chat, t_speech"),
    ({"anchors": [[5.0, 1.0], [2.0, 1.0]]}, "chat-clock order"), ({"drift": 1}, "offset_s or anchors"),
])
def test_bad_overrides_are_refused_and_nothing_is_written(layout: Layout, align, match) -> None:
    with pytest.raises(ValueError, match=match):
        overrides.save(layout, "v1", align)
    assert not layout.review_overrides.exists()
    with pytest.raises(ValueError, match="not a VOD id"):
        overrides.save(layout, "../etc", {"offset_s": 1.0})


def _get(url: str, headers: dict | None = None, data: bytes | None = None) -> tuple[int, bytes]:
    req = urllib.request.Request(url, headers=headers or {}, data=data, method="POST" if data is not None else "GET")
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def test_server_checks_ids_paths_token_and_origin(layout: Layout) -> None:
    with serving(build_app(layout)) as url:
        assert _get(url + "/api/vods")[0] == 200 and json.loads(_get(url + "/api/vods")[1])["vods"] == []
        for bad in ("/vod/Bad.Id", "/api/vod/a%2F..%2Fb", "/api/vod/" + "x" * 65, "/media/..%2F..%2Fetc/audio"):
            assert _get(url + bad)[0] in (404,), bad
        assert _get(url + "/media/v1/passwd")[0] == 404  # only the audio and video of a VOD
        status, body = _get(url + "/api/vod/v1/save", {"content-type": "application/json", "origin": "http://evil.example"}, b"{}")
        assert status == 403 and b"cross-origin" in body
        assert _get(url + "/static/vendor/wavesurfer.js-7.12.12/LICENSE")[0] == 200
    with serving(build_app(layout, token="s3cret")) as url:
        assert _get(url + "/api/vods")[0] == 401
        assert _get(url + "/api/vods", {"x-chatlab-token": "wrong"})[0] == 401
        assert _get(url + "/api/vods", {"x-chatlab-token": "s3cret"})[0] == 200
        assert _get(url + "/?token=s3cret")[0] == 200


def test_review_cli_needs_a_token_off_loopback() -> None:
    from chatlab.review.cli import is_loopback

    assert is_loopback("127.0.0.1") and is_loopback("localhost") and not is_loopback("0.0.0.0")


def test_the_rerun_job_is_offsets_and_the_per_vod_assets_after_it() -> None:
    import dagster as dg

    from chatlab.definitions import defs
    from chatlab.defs.review import REVIEW_JOB
    from chatlab.partitions import vods

    job = defs.resolve_job_def(REVIEW_JOB)
    graph = defs.resolve_asset_graph()
    keys = {k for k in job.asset_layer.selected_asset_keys}
    down, todo = {dg.AssetKey("offsets")}, [dg.AssetKey("offsets")]
    while todo:  # everything downstream of offsets, by the graph's own child keys
        for c in graph.get(todo.pop()).child_keys:
            if c not in down:
                down.add(c)
                todo.append(c)
    per_vod = {k for k in down if graph.get(k).partitions_def == vods}
    assert keys == per_vod and dg.AssetKey("aligned_pairs") in keys and dg.AssetKey("adapter") not in keys


def test_evaluation_view_places_the_stored_samples_at_their_moments(layout: Layout) -> None:
    import polars as pl

    from chatlab.review.data import evaluation_view
    from chatlab.train import pipeline

    assert evaluation_view(layout)["available"] is False  # no training set: says so, no empty table
    root = pipeline.training_set_root(layout)
    (root / "v1").mkdir(parents=True)
    (root / pipeline.CURRENT).write_text("v1")
    pl.DataFrame({"vod_id": ["t1", "t1", "t2"], "msg_id": ["a", "b", "c"], "t_s": [12.0, 40.5, 7.0], "split": ["test", "test", "train"],
                  "completion": ["LUL", "the dragon!", "LUL"], "prompt": ["p1", "p2", "p3"]}).write_parquet(root / "v1" / "examples.parquet")
    ev = {"adapter": {"perplexity": 20.0, "recall_at_1": 0.3}, "base": {"perplexity": 400.0, "recall_at_1": 0.2}, "per_vod": [],
          "samples": [{"vod_id": "t1", "real": "the dragon!", "adapter": "dragon Pog", "base": "Hello, how can I help?"},
                      {"vod_id": "t1", "real": "never said", "adapter": "x", "base": "y"}], "passed": True, "reasons": []}
    out = pipeline.evaluation_dir(layout, "v1")
    out.mkdir(parents=True)
    (out / "evaluation.json").write_text(json.dumps(ev))
    view = evaluation_view(layout)
    assert view["available"] and view["systems"]["base"]["perplexity"] == 400.0
    s0, s1 = view["samples"]
    assert (s0["t_s"], s0["generated"], s0["matches"]) == (40.5, {"adapter": "dragon Pog", "base": "Hello, how can I help?"}, 1)
    assert s1["t_s"] is None and s1["matches"] == 0  # not placed rather than placed wrongly


def test_evaluation_view_reads_per_moment_samples_with_their_scores(layout: Layout) -> None:
    import polars as pl

    from chatlab.review.data import evaluation_view
    from chatlab.train import pipeline

    (pipeline.training_set_root(layout)).mkdir(parents=True)
    (pipeline.training_set_root(layout) / pipeline.CURRENT).write_text("v2")
    out = pipeline.evaluation_dir(layout, "v2")
    out.mkdir(parents=True)
    (out / "evaluation.json").write_text(json.dumps({"systems": {"adapter": {"perplexity": 20.0}, "base": {"perplexity": 300.0},
                                                                 "frequency": {"perplexity": 90.0}}, "passed": False, "reasons": ["x"]}))
    pl.DataFrame({"vod_id": ["t1", "t1", "t1"], "msg_id": ["a", "b", "c"], "t_s": [50.0, 10.0, 30.0], "real": ["r50", "r10", "r30"],
                  "gen_adapter": ["a50", "a10", None], "gen_base": ["b50", "b10", None], "nll_adapter": [1.5, 2.5, 3.0],
                  "rank_pmi_adapter": [1, 4, 2]}).write_parquet(out / "samples.parquet")
    view = evaluation_view(layout)
    assert set(view["systems"]) == {"adapter", "base", "frequency"}
    assert [(s["t_s"], s["real"], s["generated"]) for s in view["samples"]] == [
        (10.0, "r10", {"adapter": "a10", "base": "b10"}), (50.0, "r50", {"adapter": "a50", "base": "b50"})]  # scored-only moments left out
    assert view["samples"][0]["scores"] == {"nll_adapter": 2.5, "rank_pmi_adapter": 4}
