"""The review page in a real browser (Debian's chromium, headless, driven by Playwright) on a
materialized demo VOD: the waveform is drawn and the chat list holds every message of the table;
a nudge and save writes the override and the re-run offsets carry the manual method.
Screenshots go to pytest's tmp directory (printed with -s)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest

from chatlab.config import Layout
from chatlab.review.app import build_app
from chatlab.review.browser import chromium, chromium_path, serving

VOD = "demo_01"


def _sql(layout: Layout, sql: str) -> list[tuple]:
    try:
        from chatlab import storage
    except ImportError:  # the single DuckDB file
        import duckdb

        with duckdb.connect(str(layout.duckdb), read_only=True) as con:
            return con.execute(sql).fetchall()
    with storage.connect(layout, read_only=True) as con:
        return con.execute(sql).fetchall()


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Layout:
    try:
        chromium_path()
    except FileNotFoundError as e:
        pytest.fail(str(e))  # the project installs it (make system); a missing browser is a failure, not a skip
    root = tmp_path_factory.mktemp("review") / "data"
    env = {**os.environ, "CHATLAB_DATA": str(root)}
    env.pop("DAGSTER_HOME", None)
    for args in (["demo", "--streams", "1", "--minutes", "1"], ["materialize"]):
        r = subprocess.run([sys.executable, "-m", "chatlab.cli", *args], env=env, capture_output=True, text=True, timeout=600)
        assert args[0] == "materialize" or r.returncode == 0, r.stderr  # materialize exits 1: the 1-minute VOD is not confident
    os.environ["CHATLAB_DATA"] = str(root)  # the re-run child and the settings loader read this data directory
    return Layout(root)


def _shot(page, tmp_path: Path, name: str) -> None:
    out = tmp_path / f"{name}.png"
    page.screenshot(path=str(out), full_page=True)
    print(f"screenshot: {out}")


def test_demo_vod_page_draws_the_waveform_and_every_message(demo: Layout, tmp_path: Path) -> None:
    ((n_messages,),) = _sql(demo, f"select count(*) from chatlab.chat_clean where vod_id = '{VOD}'")
    assert n_messages > 20
    with serving(build_app(demo)) as url, chromium(1400, 900) as page:
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(f"{url}/")
        page.wait_for_selector("body[data-ready='1']", timeout=30_000)
        assert page.locator(f"#vods tr[data-vod='{VOD}']").count() == 1
        page.goto(f"{url}/vod/{VOD}")
        page.wait_for_selector("body[data-ready='1']", timeout=30_000)
        # the waveform: wavesurfer's canvases (in its shadow DOM) hold drawn pixels
        inked = page.evaluate("""() => {
            const host = document.querySelector('#wave > div'); let n = 0;
            for (const c of host.shadowRoot.querySelectorAll('canvas')) {
                if (!c.width || !c.height) continue;
                const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++;
            }
            return n; }""")
        assert inked > 1000
        assert page.locator("#chat-count").get_attribute("data-total") == str(n_messages)
        # the virtualized list: scroll it through and collect every row it shows
        seen: set[str] = set()
        height = page.evaluate("() => document.getElementById('chat-spacer').scrollHeight")
        for top in range(0, height + 400, 300):
            page.evaluate(f"() => {{ const c = document.getElementById('chat'); c.scrollTop = {top}; c.dispatchEvent(new Event('scroll')); }}")
            page.wait_for_timeout(60)
            seen |= set(page.eval_on_selector_all("#chat .msg", "els => els.map(e => e.dataset.i)"))
        assert seen == {str(i) for i in range(n_messages)}
        assert page.evaluate("() => __review.marks.chat") == n_messages  # one mark per message on the chat lane
        _shot(page, tmp_path, "vod_page")
        # playback: the chat list marks the last message typed by then (aligned time), as a chat replay
        page.evaluate("() => __review.ws.setTime(40)")
        page.wait_for_timeout(200)
        now = page.evaluate("() => __review.now")
        aligned = page.evaluate("() => Array.from(__review.aligned)")
        assert now == max(i for i, t in enumerate(aligned) if t <= 40)
        # a cut at the playhead, the audio after it nudged 5 s, and an anchor dragged onto a word: the
        # override the page would save reads back in chatlab.align as the curve the page shows
        page.evaluate("() => { reviewActions.addCut(); reviewActions.nudge(5); }")
        words = page.evaluate("() => ({start: Array.from(__review.words.start), end: Array.from(__review.words.end)})")
        box = page.locator("#lanes").bounding_box()
        view = page.evaluate("() => __review.view")
        x = (words["start"][3] + 0.05 - view[0]) / (view[1] - view[0]) * box["width"]
        page.locator("#chat .msg[data-i='2']").drag_to(page.locator("#lanes"), target_position={"x": x, "y": 70})
        assert page.evaluate("() => __review.manual.length") == 1
        ov = page.evaluate("() => alignOverride()")
        pts = ov["anchors"]
        assert sum(1 for a, b in zip(pts, pts[1:]) if a[0] == b[0] and a[1] != b[1]) == 1
        from chatlab.align.config import AlignConfig
        from chatlab.align.estimate import override

        span = page.evaluate("() => __review.sum.chat_span")
        curve = override(AlignConfig(anchors=tuple(map(tuple, pts))), tuple(span)).curve
        t_chat = page.evaluate("() => Array.from(__review.tChat)")
        assert max(abs((t - curve.offset(t)) - a) for t, a in zip(t_chat, page.evaluate("() => Array.from(__review.aligned)"))) < 1e-3
        manual = [p for p in pts if abs(p[1] - (words["end"][3] + page.evaluate("() => __review.sum.reaction_delay_s"))) < 1e-3]
        assert manual and manual[0][0] == pytest.approx(t_chat[2], abs=1e-3)
        _shot(page, tmp_path, "cut_and_anchor")
        assert not errors


def test_nudge_and_save_writes_the_override_and_the_rerun_is_manual(demo: Layout, tmp_path: Path) -> None:
    ((method, offset, passed),) = _sql(demo, f"select method, offset_s, passed from chatlab.offsets where vod_id = '{VOD}'")
    assert method == "estimated" and not passed  # a 1-minute demo stream is too short to be confident
    with serving(build_app(demo)) as url, chromium(1400, 900) as page:
        page.goto(f"{url}/vod/{VOD}")
        page.wait_for_selector("body[data-ready='1']", timeout=30_000)
        before = page.evaluate("() => Array.from(__review.aligned.slice(0, 5))")
        page.click("button[data-nudge='1']")
        page.click("button[data-nudge='0.1']")
        after = page.evaluate("() => Array.from(__review.aligned.slice(0, 5))")
        assert all(abs((b - a) + 1.1) < 1e-3 for a, b in zip(before, after))  # the chat moved 1.1 s earlier
        page.click("#save")
        page.wait_for_function("() => ['success', 'failed', 'died'].includes(document.body.dataset.rerun)", timeout=240_000)
        _shot(page, tmp_path, "after_rerun")
        assert page.evaluate("() => document.body.dataset.rerun") == "success", page.inner_text("#status")
        saved = tomllib.loads(demo.review_overrides.read_text())["vods"][VOD]
        assert saved["align"]["offset_s"] == pytest.approx(offset + 1.1, abs=0.01) and saved["review"]["source"] == "review"
        ((method2, offset2, passed2),) = _sql(demo, f"select method, offset_s, passed from chatlab.offsets where vod_id = '{VOD}'")
        assert (method2, passed2) == ("override_offset", True) and offset2 == pytest.approx(offset + 1.1, abs=0.01)
        ((pairs,),) = _sql(demo, f"select count(*) from chatlab.aligned_pairs where vod_id = '{VOD}'")
        assert pairs > 0
        # the run is in the data directory's Dagster instance, as the UI shows it
        import dagster as dg

        with dg.DagsterInstance.from_config(str(demo.dagster_home)) as instance:
            runs = instance.get_runs(filters=dg.RunsFilter(tags={"chatlab/source": "review"}))
        assert [(r.job_name, r.status) for r in runs] == [("review_rerun", dg.DagsterRunStatus.SUCCESS)]
        # a paired message shows its prompt from the one template; a dropped one says which rule
        flags = page.evaluate("() => Array.from(__review.flag)")
        page.evaluate(f"() => reviewActions.showMessage({flags.index(2)})")
        page.wait_for_selector("#prompt", timeout=10_000)
        assert page.inner_text("#prompt").startswith("<|im_start|>system") and "Streamer:" in page.inner_text("#prompt")
        if 0 in flags:
            page.evaluate(f"() => reviewActions.showMessage({flags.index(0)})")
            page.wait_for_selector("#why", timeout=10_000)
            assert "cleaning rule" in page.inner_text("#why")
        _shot(page, tmp_path, "pair")
        # the evaluation view: the stored samples beside the real chat (files as `evaluation` writes them)
        import json

        from chatlab.train import pipeline

        root = pipeline.training_set_root(demo)
        (root / "v1").mkdir(parents=True, exist_ok=True)
        (root / pipeline.CURRENT).write_text("v1")
        ev = {"adapter": {"perplexity": 20.0}, "base": {"perplexity": 400.0}, "per_vod": [], "passed": True, "reasons": [],
              "samples": [{"vod_id": VOD, "real": f"real {k}", "adapter": f"adapter {k}", "base": f"base {k}"} for k in range(3)]}
        pipeline.evaluation_dir(demo, "v1").mkdir(parents=True, exist_ok=True)
        (pipeline.evaluation_dir(demo, "v1") / "evaluation.json").write_text(json.dumps(ev))
        page.goto(f"{url}/eval")
        page.wait_for_selector("body[data-ready='1']", timeout=30_000)
        rows = page.eval_on_selector_all("#samples tr.sample", "rs => rs.map(r => Array.from(r.cells).slice(1, 4).map(c => c.innerText))")
        assert rows == [[f"real {k}", f"adapter {k}", f"base {k}"] for k in range(3)]
        _shot(page, tmp_path, "evaluation")
