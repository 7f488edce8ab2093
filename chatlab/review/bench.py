"""`chatlab bench review`: a synthetic VOD (10 hours, 1,000,000 messages, ~90,000 words, a cut)
in a scratch data directory, its page opened in headless Debian chromium. Prints the time until
the page is interactive (waveform drawn, chat list and lanes up), the cost of a nudge (every
message re-aligned), of zoom and scroll steps, and the DOM rows the chat list holds; the
baseline is the naive list (every message a DOM row) in the same browser."""

from __future__ import annotations

import json
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from chatlab.config import Layout
from chatlab.review import tables
from chatlab.review.peaks import BINS_PER_S, PeaksInfo, write_peaks

VOD = "bench_10h"
TEXTS = ["LUL", "Pog", "KEKW", "is the dragon worth it?", "nice", "gg", "what was that", "no way", "catJAM catJAM", "hello chat",
         "the sword!", "spider Pog", "I love the soup", "RUN", "same", "wait the harbor??"]


def make_vod(layout: Layout, hours: float, messages: int, seed: int = 0) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    dur = hours * 3600.0
    # speech: sentences of 8-20 words with pauses; words ~0.35 s
    starts, ends, text = [], [], []
    t = 0.5
    while t < dur - 15:
        for _ in range(int(rng.integers(8, 20))):
            w = float(rng.uniform(0.2, 0.5))
            starts.append(t)
            ends.append(t + w)
            text.append(TEXTS[int(rng.integers(len(TEXTS)))].split()[0].lower())
            t += w + float(rng.uniform(0.02, 0.15))
        t += float(rng.uniform(0.6, 6.0))
    n_words = len(starts)
    words = pl.DataFrame({"vod_id": [VOD] * n_words, "seg_id": np.arange(n_words) // 15, "word_idx": np.arange(n_words, dtype=np.int32),
                          "start_s": starts, "end_s": ends, "word": text, "probability": np.full(n_words, 0.9)})
    tc = np.sort(rng.uniform(0.0, dur, messages))
    keep = rng.random(messages) > 0.08
    chat = pl.DataFrame({
        "vod_id": [VOD] * messages, "msg_id": [f"m{i:07d}" for i in range(messages)], "t_s": tc,
        "user_hash": [f"{i % 5000:016x}" for i in range(messages)], "text": np.array(TEXTS, dtype=object)[rng.integers(0, len(TEXTS), messages)].tolist(),
        "keep": keep, "drop_rule": np.where(keep, None, "duplicate").tolist(),
    })
    half = dur / 2
    segs = [{"start_s": 0.0, "end_s": half, "offset_s": 30.0, "drift_s_per_h": 1.0},
            {"start_s": half + 60.0, "end_s": dur, "offset_s": 95.0, "drift_s_per_h": 1.0, "cut_lo_s": half - 60.0, "cut_hi_s": half - 35.0}]
    offsets = pl.DataFrame([{"vod_id": VOD, "offsets_version": "bench", "method": "estimated", "offset_s": 30.0, "drift_s_per_h": 1.0,
                             "n_segments": 2, "segments": json.dumps(segs), "confidence": 0.9, "residual_s": 1.5, "anchors": 5000,
                             "reaction_delay_s": 4.0, "reaction_p10_s": 2.0, "reaction_p90_s": 8.0, "passed": True, "problems": "",
                             "asr_model": "synthetic", "settings": "{}"}])
    audio = pl.DataFrame([{"vod_id": VOD, "duration_s": dur}])
    source = pl.DataFrame([{"vod_id": VOD, "path": "", "has_video": False}])
    for name, df in (("transcript_words", words), ("chat_clean", chat), ("offsets", offsets), ("audio", audio), ("vod_source", source)):
        tables.write_table(layout, name, df)
    # peaks: speech loud, pauses quiet (no 1.2 GB WAV is written: the page never reads the audio to draw)
    n_bins = int(dur * BINS_PER_S)
    env = np.full(n_bins, 3.0)
    b0 = (np.array(starts) * BINS_PER_S).astype(int)
    b1 = (np.array(ends) * BINS_PER_S).astype(int)
    mark = np.zeros(n_bins + 1)
    np.add.at(mark, np.minimum(b0, n_bins), 1)
    np.add.at(mark, np.minimum(b1, n_bins), -1)
    env[np.cumsum(mark)[:n_bins] > 0] = 90.0
    amp = (env * rng.uniform(0.4, 1.0, n_bins)).clip(1, 127)
    peaks = np.stack([-amp, amp], 1).astype(np.int8).reshape(-1)
    write_peaks(layout.artifact_dir("review_peaks", VOD), peaks, PeaksInfo(BINS_PER_S, n_bins, dur, 16000))
    return {"words": n_words, "messages": messages, "peaks_bytes": int(peaks.nbytes)}


def _page_figures(page: Any, url: str) -> dict[str, Any]:
    page.goto(f"{url}/vod/{VOD}")
    page.wait_for_selector("body[data-ready='1']", timeout=120_000)
    return page.evaluate("""() => ({interactive_ms: __review.interactiveMs,
        nav_ms: performance.getEntriesByType('navigation')[0].duration})""")


STEPS_JS = """async () => {
  const S = __review, A = reviewActions, frame = () => new Promise((r) => requestAnimationFrame(() => r()));
  const timed = async (fn) => { const t = performance.now(); fn(); await frame(); return performance.now() - t; };
  const out = { nudge: [], zoom: [], scroll: [], chat: [] };
  for (const d of [1, -1, 0.1]) out.nudge.push(await timed(() => A.nudge(d)));
  for (let v = 0; v <= 1000; v += 100) out.zoom.push(await timed(() => { document.getElementById('zoom').value = v; A.setZoom(v); }));
  const max = S.ws.getWrapper().scrollWidth;
  for (let k = 1; k <= 20; k++) out.scroll.push(await timed(() => { S.ws.setScroll(Math.floor((max * k) / 21)); S.view = [S.view[0], S.view[1]]; }));
  const box = document.getElementById('chat');
  for (let k = 1; k <= 20; k++) { // until the rows at the new place are on screen (fetched from the server if need be)
    const t = performance.now(); box.scrollTop = Math.floor((box.scrollHeight * k) / 21); box.dispatchEvent(new Event('scroll'));
    const first = Math.floor(box.scrollTop / 20) + 1;
    while (!box.querySelector(`.msg[data-i="${first}"]`)) await frame();
    await frame(); out.chat.push(performance.now() - t);
  }
  out.rows_in_dom = document.querySelectorAll('#chat .msg').length;
  return out;
}"""

NAIVE_JS = """async (n) => {
  const box = document.createElement('div'); box.style.cssText = 'height:300px;overflow:auto'; document.body.appendChild(box);
  const t = performance.now(); const parts = new Array(n);
  for (let i = 0; i < n; i++) parts[i] = `<div class="msg" style="position:static">${(i * 0.036).toFixed(1)} message ${i}</div>`;
  box.innerHTML = parts.join(''); box.scrollTop = 1e9; void box.offsetHeight;
  await new Promise((r) => requestAnimationFrame(() => r()));
  const ms = performance.now() - t; box.remove(); return ms;
}"""


def _stats(xs: list[float]) -> str:
    return f"median {statistics.median(xs):.0f} ms, max {max(xs):.0f} ms"


def bench_review(hours: float = 10.0, messages: int = 1_000_000, keep: str | None = None) -> dict[str, Any]:
    from chatlab.review.app import build_app
    from chatlab.review.browser import chromium, serving

    root = Path(keep) if keep else Path(tempfile.mkdtemp(prefix="chatlab-bench-review-"))
    layout = Layout(root / "data").ensure()
    import os

    os.environ["CHATLAB_DATA"] = str(layout.root)
    try:
        t0 = time.perf_counter()
        made = make_vod(layout, hours, messages)
        out: dict[str, Any] = {"vod": f"{hours:g} h, {messages:,} messages, {made['words']:,} words, one cut",
                               "synthetic data written": f"{time.perf_counter() - t0:.1f} s", "peaks": f"{made['peaks_bytes'] / 1e6:.1f} MB"}
        with serving(build_app(layout)) as url, chromium(1400, 900) as page:
            page.goto(f"{url}/")  # the browser's own first start is not the page's cost
            page.wait_for_selector("body[data-ready='1']", timeout=60_000)
            cold = _page_figures(page, url)  # the server has attached the tables, read none of the VOD's: those reads are in this figure
            out["interactive, first open (the VOD's tables not read yet)"] = f"{cold['interactive_ms'] / 1000:.2f} s"
            t2 = time.perf_counter()
            page.wait_for_function("() => __review.anchorsLoaded === true", timeout=300_000)
            out["anchors lane loaded (after interactive)"] = f"{time.perf_counter() - t2:.1f} s more"
            warm = _page_figures(page, url)
            out["interactive, reopened"] = f"{warm['interactive_ms'] / 1000:.2f} s (target <= 2 s)"
            page.wait_for_function("() => __review.anchorsLoaded === true", timeout=300_000)
            steps = page.evaluate(STEPS_JS)
            out["nudge (re-align every message, redraw)"] = _stats(steps["nudge"])
            out["zoom step (11 levels, whole VOD to 200 px/s)"] = _stats(steps["zoom"])
            out["waveform scroll step"] = _stats(steps["scroll"])
            out["chat list scroll step (rows fetched and drawn)"] = _stats(steps["chat"])
            out["chat rows in the DOM"] = steps["rows_in_dom"]
            naive_n = min(messages, 200_000)
            naive = page.evaluate(NAIVE_JS, naive_n)
            out[f"baseline: {naive_n:,} messages as DOM rows"] = f"{naive / 1000:.2f} s ({naive / max(warm['interactive_ms'], 1):.1f}x the whole page reopened)"
        return out
    finally:
        if not keep:
            shutil.rmtree(root, ignore_errors=True)
