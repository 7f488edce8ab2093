"""Bad input for chat OCR with the bundled model: a 4K video and a vertical one (made from a
generated overlay clip by ffmpeg) are found and read; a region outside the frame is refused with a
message that names the file (broken frames: test_ocr.py)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from chatlab.cli import main
from chatlab.media.audio import ffmpeg_exe
from chatlab.ocr import read_video
from chatlab.ocr.bench import TrueMessage, score
from chatlab.ocr.engine import RapidOcrEngine
from chatlab.ocr.frames import probe
from chatlab.ocr.region import RegionError
from chatlab_tests.test_ocr import CHAT, PANEL, make_overlay_clip

pytestmark = pytest.mark.slow
SECONDS = 8.0
TRUTH = [TrueMessage(t, user, text) for t, user, _, _, text in CHAT if t < SECONDS - 0.5]


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_overlay_clip(tmp_path_factory.mktemp("ocr_bad") / "clip.mp4", duration_s=SECONDS)


@pytest.fixture(scope="module")
def engine() -> RapidOcrEngine:
    return RapidOcrEngine(threads=2)


def _ffmpeg(src: Path, dst: Path, vf: str) -> Path:
    subprocess.run([ffmpeg_exe(), "-nostdin", "-hide_banner", "-loglevel", "error", "-y", "-i", str(src), "-vf", vf,
                    "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "copy", str(dst)],
                   check=True)
    return dst


def _overlap(r, x: int, y: int, w: int, h: int) -> float:
    inter = max(0, min(r.x + r.w, x + w) - max(r.x, x)) * max(0, min(r.y + r.h, y + h) - max(r.y, y))
    return inter / (w * h)


def test_4k_video_region_found_and_read(clip: Path, tmp_path: Path, engine: RapidOcrEngine) -> None:
    big = _ffmpeg(clip, tmp_path / "uhd.mp4", "scale=3840:2160:flags=bicubic")
    assert (probe(big).width, probe(big).height) == (3840, 2160)
    res = read_video(big, engine=engine)
    k = 6  # 640x360 -> 3840x2160
    assert _overlap(res.region, PANEL.x * k, PANEL.y * k, PANEL.w * k, PANEL.h * k) >= 0.8, res.region
    assert res.stats["bad_frames"] == 0
    s = score(res.messages, TRUTH)
    assert s["recall"] >= 0.8 and s["precision"] >= 0.8, s


def test_vertical_video_region_found_and_read(clip: Path, tmp_path: Path, engine: RapidOcrEngine) -> None:
    # the chat panel alone, standing in a 360x640 portrait frame with black above and below
    tall = _ffmpeg(clip, tmp_path / "tall.mp4", f"crop={PANEL.w}:{PANEL.h}:{PANEL.x}:{PANEL.y},pad=360:640:70:140")
    assert (probe(tall).width, probe(tall).height) == (360, 640)
    res = read_video(tall, engine=engine)
    assert _overlap(res.region, 70, 140, PANEL.w, PANEL.h) >= 0.8, res.region
    s = score(res.messages, TRUTH)
    assert s["recall"] >= 0.8 and s["precision"] >= 0.8, s


def test_region_outside_the_frame_names_the_file(clip: Path, capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(RegionError, match=r"clip\.mp4: region 900,0,200,360 lies outside the 640x360 frame"):
        read_video(clip, region="900,0,200,360", engine=RapidOcrEngine(threads=1))
    assert main(["ocr", str(clip), "--region", "900,0,200,360", "--threads", "1"]) != 0
    err = capsys.readouterr().err
    assert "clip.mp4" in err and "outside the 640x360 frame" in err
