"""Real OCR with the bundled PP-OCRv4 models on a short generated overlay clip (16 s): the library,
the `chatlab ocr --json` contract, auto-detected region, non-Latin text. Few runs, each ~1-3 s."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chatlab.cli import main
from chatlab.ocr import read_video
from chatlab.ocr.bench import TrueMessage, score
from chatlab.ocr.engine import RapidOcrEngine, make_engine
from chatlab_tests.test_ocr import CHAT, PANEL, make_overlay_clip

pytestmark = pytest.mark.slow

TRUTH = [TrueMessage(t, user, text) for t, user, _, _, text in CHAT]


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_overlay_clip(tmp_path_factory.mktemp("ocr_real") / "clip.mp4")


@pytest.fixture(scope="module")
def engine() -> RapidOcrEngine:
    return RapidOcrEngine()


def test_reads_the_chat_of_a_clip(clip: Path, engine: RapidOcrEngine) -> None:
    res = read_video(clip, region=str(PANEL), engine=engine)
    s = score(res.messages, TRUTH)
    assert s["recall"] >= 0.9 and s["precision"] >= 0.9, s
    assert s["cer"] <= 0.03 and s["time_within_2s"] == 1.0, s
    # the viewer who wrote "lets go" twice keeps both messages (a repeat, not a re-read)
    assert sum(m.user == "tiny_otter" and m.text == "lets go" for m in res.messages) == 2
    # incremental: unchanged frames are skipped, lines that only scrolled keep their text; only new
    # lines go through the recogniser
    st = res.stats
    assert st["still"] >= 4 and st["lines_reused"] >= 20
    assert st["lines_read"] <= 16  # 10 messages, a few wrapped; nothing read twice


def test_cli_json_contract_with_auto_region(clip: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["ocr", str(clip), "--json"]) == 0
    out, err = capsys.readouterr()
    rows = [json.loads(line) for line in out.splitlines()]
    assert rows and all(list(r)[:4] == ["t_s", "user", "text", "confidence"] for r in rows)
    import re

    m = re.search(r"region (\d+),(\d+),(\d+),(\d+) \(auto, confidence ([\d.]+)\)", err)
    assert m, err
    x, y, w, h = (int(g) for g in m.groups()[:4])
    assert 416 <= x <= 428 and x + w >= 630 and y <= 20 and y + h >= 340  # the panel, not the game
    assert float(m.group(5)) >= 0.5
    got = {(r["user"], r["text"]) for r in rows}
    assert ("SaltyGoose", "what game is this?") in got and ("Nightbot", "CozyQuest has been live for 12 minutes") in got


def test_non_latin_text_is_kept_with_its_confidence(tmp_path: Path, engine: RapidOcrEngine) -> None:
    chat = [(1.0, "anna_k", "#FF7F50", (), "hello everyone"),
            (3.0, "ivan_petrov", "#1E90FF", (), "Привет всем, как дела"),
            (5.0, "anna_k", "#FF7F50", (), "see you soon")]
    clip = make_overlay_clip(tmp_path / "cyr.mp4", chat=chat, duration_s=7.0)
    res = read_video(clip, region=str(PANEL), engine=engine)
    users = [m.user for m in res.messages]
    assert users == ["anna_k", "ivan_petrov", "anna_k"]  # nothing lost, the order kept
    cyr = res.messages[1]
    # the demo font draws Cyrillic as boxes: whatever the recogniser makes of them is kept, flagged
    # when unsure, never a crash
    assert 0.0 <= cyr.confidence <= 1.0
    assert cyr.note is None or "low confidence" in cyr.note
    assert res.messages[2].text == "see you soon"


def test_unknown_and_missing_backends_say_what_to_do() -> None:
    with pytest.raises(ValueError, match="unknown OCR backend 'tesseract'"):
        make_engine("tesseract")
    try:
        import paddleocr  # noqa: F401
    except ImportError:
        with pytest.raises(RuntimeError, match="pip install paddleocr"):
            make_engine("paddleocr")
