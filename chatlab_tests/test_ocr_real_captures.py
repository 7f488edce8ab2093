"""The real OCR corpus (data/real/ocr: pictures and a clip of chat from other projects, messages
transcribed by eye) is complete, and ``chatlab bench ocr-real`` reads a picture of it and returns its figures.
The reader's recall on these pictures is reported by the benchmark, not asserted here: they are
held apart from tuning (README, "Chat from the picture")."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from chatlab.cli import main
from chatlab.ocr.engine import RapidOcrEngine
from chatlab.ocr.real_bench import CORPUS, CorpusError, iou, load_corpus, load_picture, run

pytestmark = pytest.mark.slow
SOURCES = CORPUS.parent / "SOURCES.md"
ONE = "kapchat_twitch_studio_styling_preview"  # four messages on translucent bars over a code editor


def _ocr_section() -> str:
    text = SOURCES.read_text(encoding="utf-8")
    start = text.index("## ocr")
    end = text.find("\n## ", start + 1)
    return text[start:end if end > 0 else None]


def test_every_picture_has_its_messages_licence_and_sources_row() -> None:
    pictures = load_corpus()
    assert len(pictures) >= 16
    rows = _ocr_section()
    for p in pictures:
        assert p.licence.exists(), f"{p.name}: no licence text {p.licence.name}"
        assert "Permission" in p.licence.read_text(encoding="utf-8") or "Redistribution" in p.licence.read_text(encoding="utf-8")
        row = re.search(rf"^\| `ocr/{re.escape(p.file.name)}` \|([^\n]*)$", rows, re.M)
        assert row, f"{p.file.name}: no row in SOURCES.md ## ocr"
        assert re.search(r"\b[0-9a-f]{40}\b|\| same \|", row.group(1)), f"{p.file.name}: its SOURCES row names no commit"
        assert p.file.stat().st_size <= 600_000, f"{p.file.name}: over 600 KB"
        if p.region is not None:
            from PIL import Image

            w, h = Image.open(p.file).size
            x, y, rw, rh = p.region
            assert x >= 0 and y >= 0 and x + rw <= w and y + rh <= h, f"{p.name}: region {p.region} outside {w}x{h}"
    # no expected file without its picture
    for exp in CORPUS.glob("*.expected.json"):
        stem = exp.name.removesuffix(".expected.json")
        assert any(exp.with_name(stem + ext).exists() for ext in (".png", ".gif")), exp.name
    assert sum(len(p.messages) for p in pictures) >= 130
    assert any(not p.messages for p in pictures)  # a picture with no chat: whatever is read there is false
    assert any(p.file.suffix == ".gif" for p in pictures)  # a clip, read as a video


def test_a_broken_expected_file_is_named_with_the_place(tmp_path: Path) -> None:
    png = tmp_path / "x_shot.png"
    png.write_bytes((CORPUS / f"{ONE}.png").read_bytes())
    (tmp_path / "x_shot.expected.json").write_text('{"messages": [\n {"user": "a"}\n]}', encoding="utf-8")
    with pytest.raises(CorpusError, match=r"x_shot\.expected\.json: messages\[0\]: expected"):
        load_picture(png)
    (tmp_path / "x_shot.expected.json").write_text('{"messages": [\n', encoding="utf-8")
    with pytest.raises(CorpusError, match=r"x_shot\.expected\.json: line 2: not JSON"):
        load_picture(png)
    (tmp_path / "x_shot.expected.json").unlink()
    with pytest.raises(CorpusError, match=r"x_shot\.png: no expected messages"):
        load_picture(png)


def test_iou() -> None:
    assert iou((0, 0, 10, 10), (0, 0, 10, 10)) == 1.0
    assert iou((0, 0, 10, 10), (5, 0, 10, 10)) == pytest.approx(50 / 150)
    assert iou((0, 0, 10, 10), (20, 20, 5, 5)) == 0.0


def test_bench_reads_one_picture_and_returns_its_figures() -> None:
    res = run(load_corpus(only=[ONE]), RapidOcrEngine(threads=2))
    (row,) = res["rows"]
    assert row["picture"] == ONE and row["expected"] == 4 and row["region"] == [14, 28, 388, 256]
    for mode in ("found", "given"):
        r, o = row[mode], res[mode]
        assert r["read"] >= 1  # this picture shows text: a silent zero would be a bug of the bench or the reader
        assert 0 <= r["matched"] <= min(r["read"], 4)
        assert r["recall"] == pytest.approx(r["matched"] / 4, abs=1e-4)
        assert r["precision"] == pytest.approx(r["matched"] / r["read"], abs=1e-4)
        assert (o["expected"], o["read"], o["matched"]) == (4, r["read"], r["matched"])
        assert len(r["missed"]) == 4 - r["matched"] and len(r["extra"]) == r["read"] - r["matched"]
    f = row["found"]
    assert f["box"] is not None and 0 < f["iou"] <= 1  # lines were grouped into messages: they have a box


def test_cli_prints_the_figures_as_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "ocr-real", "--only", ONE, "--json", "--threads", "2"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert [r["picture"] for r in res["rows"]] == [ONE]
    assert set(res["found"]) >= {"recall", "precision", "cer", "region_found", "region_iou_median"}


def test_cli_names_an_unknown_picture(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "ocr-real", "--only", "nosuch"]) == 1
    assert "no picture named nosuch" in capsys.readouterr().err


def test_a_clip_becomes_a_video_as_long_as_its_frames(tmp_path: Path) -> None:
    from PIL import Image, ImageSequence

    from chatlab.ocr.frames import probe
    from chatlab.ocr.real_bench import clip_to_video

    gif = CORPUS / "kapchat_twitch_studio_styling_clip.gif"
    with Image.open(gif) as im:
        total = sum(fr.info["duration"] for fr in ImageSequence.Iterator(im)) / 1000
    info = probe(clip_to_video(gif, tmp_path / "clip.mp4"))
    assert (info.width, info.height) == (402, 284)
    assert info.duration_s == pytest.approx(total, abs=0.2)
