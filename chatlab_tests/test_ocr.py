"""Chat OCR library without the OCR model: regions, scroll registration on synthetic shifts, line
analysis of a rendered panel, de-duplication, text fixes, region auto-detection and bad input on a
short generated overlay clip. The clip helper is shared with the real-OCR tests."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from chatlab.demo.audio import write_wav
from chatlab.demo.chat import ChatMessage, Viewer
from chatlab.demo.overlay import PANEL_W, ChatOverlay
from chatlab.demo.video import FPS, HEIGHT, WIDTH, GameScene, encode_mp4
from chatlab.ocr import lines as L
from chatlab.ocr.dedupe import OcrMessage, canonical_users, overlap
from chatlab.ocr.frames import Sample, VideoError, probe, sample_region
from chatlab.ocr.reader import ChatReader, ReadOptions, read_video
from chatlab.ocr.region import Region, RegionError, detect_region, fit_region, parse_region
from chatlab.ocr.scroll import estimate_scroll, gray

PANEL = Region(WIDTH - PANEL_W, 0, PANEL_W, HEIGHT)

# (on-screen time, user, colour, badges, text): a short chat with a wrapped line, badges, a repeat
# of the same text by the same viewer (a real repeat, not a re-read) and a bot
CHAT = [
    (1.0, "lazy_panda", "#FF7F50", (), "hello chat"),
    (2.5, "MegaWizard", "#1E90FF", (("subscriber", "1"),), "that castle looks so good, I want to live there"),
    (4.0, "Nightbot", "#008000", (("moderator", "1"),), "CozyQuest has been live for 12 minutes"),
    (5.5, "tiny_otter", "#DAA520", (), "lets go"),
    (7.0, "FrostyComet", "#9ACD32", (("vip", "1"), ("subscriber", "1")), "the dragon is coming"),
    (8.5, "tiny_otter", "#DAA520", (), "lets go"),
    (10.0, "SaltyGoose", "#FF69B4", (), "what game is this?"),
    (11.5, "lazy_panda", "#FF7F50", (), "I should be sleeping"),
    (13.0, "CosmicToast", "#8A2BE2", (("subscriber", "1"),), "first time here, this is cool"),
    (14.5, "MegaWizard", "#1E90FF", (("subscriber", "1"),), "GG"),
]


def make_overlay_clip(path: Path, chat=CHAT, duration_s: float = 16.0, seed: int = 3, overlay: bool = True) -> Path:
    """A real H.264 clip: the demo's game scene with (optionally) its chat overlay showing `chat`."""
    viewers = {}
    msgs = []
    for i, (t, user, color, badges, text) in enumerate(chat):
        v = viewers.setdefault(user, Viewer(user.lower(), user, str(i), color, badges, "viewer"))
        msgs.append(ChatMessage(f"m{i}", v, text, "other", t))
    layers = [GameScene(np.random.default_rng(seed))]
    if overlay:
        layers.append(ChatOverlay(msgs, 0.0, FPS, duration_s, (WIDTH, HEIGHT)))
    wav = path.with_suffix(".wav")
    write_wav(wav, np.zeros(int(duration_s * 16000), np.float32), 16000)
    encode_mp4(path, wav, duration_s, layers)
    wav.unlink()
    return path


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_overlay_clip(tmp_path_factory.mktemp("ocr") / "clip.mp4")


# -- regions ----------------------------------------------------------------------------------------


def test_parse_and_fit_region() -> None:
    assert parse_region("420, 0, 220, 360") == Region(420, 0, 220, 360)
    assert parse_region([10, 20, 100, 200]) == Region(10, 20, 100, 200)
    with pytest.raises(RegionError, match="expected 'x,y,w,h'"):
        parse_region("420x0")
    with pytest.raises(RegionError, match="too small"):
        parse_region("0,0,4,4")
    r, note = fit_region(Region(420, 0, 220, 360), 640, 360)
    assert r == Region(420, 0, 220, 360) and note is None
    r, note = fit_region(Region(500, -10, 300, 400), 640, 360)  # partly outside: clipped, and said so
    assert r.x + r.w <= 640 and r.y == 0 and r.h <= 360 and "adjusted" in note
    with pytest.raises(RegionError, match="outside the 640x360 frame"):
        fit_region(Region(700, 0, 200, 300), 640, 360)


def test_region_outside_the_frame_is_a_clear_error(clip: Path) -> None:
    with pytest.raises(RegionError, match="outside the 640x360 frame"):
        read_video(clip, region="900,0,200,360", engine=_NoEngine())


def test_region_found_automatically(clip: Path) -> None:
    det = detect_region(clip, probe_s=16)
    r = det.region
    assert det.method == "auto" and det.score > 0.2
    # covers the text of the panel (x 428..632), and not the game
    assert PANEL.x <= r.x <= PANEL.x + 8 and r.x + r.w >= WIDTH - 12
    assert r.y <= 40 and r.y + r.h >= HEIGHT - 12


def test_no_chat_region_is_a_clear_error(tmp_path: Path) -> None:
    plain = make_overlay_clip(tmp_path / "plain.mp4", duration_s=6.0, overlay=False)
    with pytest.raises(RegionError, match="no chat region found.*--region"):
        detect_region(plain)


# -- scroll registration ------------------------------------------------------------------------------


def _text_panel(rng: np.random.Generator, h: int = 360, w: int = 220) -> np.ndarray:
    """Dark panel with random 'text lines' (bright speckle bands) every 21 px."""
    img = np.full((h, w, 3), 24, np.uint8)
    for top in range(8, h - 20, 21):
        n = int(rng.integers(40, w - 16))
        band = (rng.random((11, n)) > 0.55) * 215 + 24
        img[top:top + 11, 8:8 + n] = band[..., None].astype(np.uint8)
    return img


@pytest.mark.parametrize("dy", [0, 17, 21, 42, 101])
def test_scroll_detected_on_synthetic_shifts(dy: int) -> None:
    rng = np.random.default_rng(dy)
    tall = _text_panel(rng, 360 + 120)
    prev = tall[:360]
    cur = tall[dy:dy + 360].copy()
    noise = rng.integers(-6, 7, cur.shape)  # compression-like noise must not matter
    cur = np.clip(cur.astype(int) + noise, 0, 255).astype(np.uint8)
    s = estimate_scroll(gray(prev), gray(cur))
    if dy == 0:
        assert s.kind == "still"
    else:
        assert (s.kind, s.dy) == ("scroll", dy)


def test_a_redraw_is_not_a_scroll() -> None:
    rng = np.random.default_rng(1)
    a, b = _text_panel(rng), _text_panel(rng)
    assert estimate_scroll(gray(a), gray(b)).kind == "other"
    with pytest.raises(ValueError, match="differ in size"):
        estimate_scroll(gray(a), gray(a[:100]))


# -- lines, dedupe, text fixes ---------------------------------------------------------------------------


def _frame_at(clip: Path, t: float) -> np.ndarray:
    (s,) = list(sample_region(clip, PANEL, fps=1.0, start_s=t, end_s=t + 0.05))
    assert s.image is not None
    return s.image


def test_lines_of_a_rendered_panel(clip: Path) -> None:
    panel = L.analyse(_frame_at(clip, 15.0))
    msgs, orphans = L.group(panel.lines)
    assert not orphans and len(msgs) == len(CHAT)  # all ten messages, the long one wrapped
    wrapped = [len(m.lines) for m in msgs]
    assert wrapped[1] >= 2 and wrapped[0] == 1
    # badges are painted over: the line text starts at the name, not at x=8
    assert msgs[1].lines[0].x0 > 15 and msgs[0].lines[0].x0 < 12
    assert all(ln.starts_message is not True for m in msgs for ln in m.lines[1:])


def test_overlap_keeps_real_repeats_and_drops_rereads() -> None:
    hist = [OcrMessage(1, "a", "hi", 1), OcrMessage(2, "b", "lets go", 1), OcrMessage(3, "c", "nice", 1)]
    # re-read panel: the last two again (one misread), plus a repeat of b's text that is new
    panel = [("b", "lets go"), ("c", "nlce"), ("b", "lets go")]
    assert overlap(hist, panel) == 2
    assert overlap(hist, [("x", "new"), ("y", "newer")]) == 0
    assert overlap([], panel) == 0


def test_user_spellings_merge_only_for_ocr_confusions() -> None:
    msgs = [OcrMessage(i, "Falcon1650", "x", 1) for i in range(6)] + [OcrMessage(9, "Falc0n1650", "y", 1)]
    msgs += [OcrMessage(i, "Wolf294", "x", 1) for i in range(6)] + [OcrMessage(9, "Wolf295", "y", 1)]
    msgs += [OcrMessage(i, "Wizard1558", "x", 1) for i in range(4)] + [OcrMessage(9, "Wzard1558", "y", 1)]
    fix = canonical_users(msgs)
    assert fix == {"Falc0n1650": "Falcon1650", "Wzard1558": "Wizard1558"}  # Wolf295 is someone else


def test_split_user_and_text_fixes() -> None:
    assert L.split_user("ShadowPanda_: LUL LUL") == ("ShadowPanda_", "LUL LUL")
    assert L.split_user("Tiny Toast: the helmet") == ("TinyToast", "the helmet")
    assert L.split_user("Falc0n3784: hi") == ("Falcon3784", "hi")
    assert L.split_user("no name here") is None
    assert L.fix_text("LETS G000 monkas catjam") == "LETS GOOO monkaS catJAM"
    assert L.fix_text("Ilurk") == "!lurk" and L.fix_text("Imagine that") == "Imagine that"


# -- bad input -------------------------------------------------------------------------------------------


class _NoEngine:
    """Stands in for the OCR model: every line reads as 'user: line <n>'."""

    name, version = "fake", "0"

    def __init__(self) -> None:
        self.n = 0

    def recognize(self, lines):
        out = []
        for _ in lines:
            self.n += 1
            out.append((f"user{self.n}: line {self.n}", 0.99))
        return out

    def read_page(self, image):
        return []

    def detect(self, image):
        # the text bands of the flat demo panel stand in for the detection model's boxes
        panel = L.analyse(np.ascontiguousarray(image[:, :, ::-1]))
        return [(ln.x0, ln.top, ln.x1, ln.bottom) for ln in panel.lines]



def test_a_commands_lost_exclamation_mark_is_put_back() -> None:
    # round 7: '!lurk' read as 'lurk' (the thin '!' lost at the line's start) or as '1lurk'
    assert L.fix_text("lurk") == "!lurk" and L.fix_text("uptime") == "!uptime" and L.fix_text("game") == "!game"
    assert L.fix_text("1lurk") == "!lurk"
    # a word chat types bare, or a command word inside a sentence, stays
    assert L.fix_text("rank") == "rank" and L.fix_text("so") == "so" and L.fix_text("lurk mode on") == "lurk mode on"

def test_undecodable_frames_are_reported_and_the_rest_is_kept(clip: Path) -> None:
    frames = list(sample_region(clip, PANEL, fps=1.0))
    assert len(frames) == 17 and all(f.image is not None for f in frames)  # 0..15 s and the last frame
    broken = frames[:5] + [Sample(frames[5].t_s, None, "frame at 5.00 s failed to decode: Invalid data")] + frames[6:]
    reader = ChatReader(_NoEngine(), ReadOptions())
    for s in broken:
        reader.feed(s)
    msgs = reader.finish()
    assert reader.stats["bad_frames"] == 1 and any("failed to decode" in p for p in reader.problems)
    assert len(msgs) >= len(CHAT) - 1  # everything seen on the readable frames
    assert [m.t_s for m in msgs] == sorted(m.t_s for m in msgs)


def test_corrupt_file_does_not_crash(clip: Path, tmp_path: Path) -> None:
    data = bytearray(clip.read_bytes())
    mid = len(data) // 2
    data[mid:mid + 4000] = bytes(4000)  # a hole in the middle of the stream
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(bytes(data))
    res = read_video(bad, region=str(PANEL), engine=_NoEngine())
    assert res.stats["samples"] >= 10 and len(res.messages) > 0
    (tmp_path / "notvideo.mp4").write_text("hello")
    with pytest.raises(VideoError, match="notvideo.mp4: cannot open as video"):
        probe(tmp_path / "notvideo.mp4")


def test_audio_only_file_is_refused(tmp_path: Path) -> None:
    from chatlab_tests.conftest import make_media

    wav = make_media(tmp_path / "a.wav", seconds=1, video=False)
    with pytest.raises(VideoError, match="no video stream"):
        read_video(wav, engine=_NoEngine())


def test_read_options_validate() -> None:
    assert ReadOptions.from_mapping({"fps": 2, "region": "1,2,3,4", "other": 1}).fps == 2
    with pytest.raises(ValueError, match="fps must be > 0"):
        ReadOptions.from_mapping({"fps": 0})
    assert math.isclose(ReadOptions().scale, 2.0)
    assert json.dumps(OcrMessage(1.23456, "u", "t", 0.5).to_json()) == '{"t_s": 1.235, "user": "u", "text": "t", "confidence": 0.5}'
