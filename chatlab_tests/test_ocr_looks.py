"""Chat looks the reader was not built around: the look generator's range, colour name splitting
on a drawn line, panel alignment, and real OCR (bundled PP-OCRv4) on generated look clips with
the region found automatically: translucent chat over a busy scene, a video with no chat (refused
out loud, with a candidates picture), a vertical video."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from chatlab.cli import main
from chatlab.demo.look_clip import make_look_clip, read_look_truth
from chatlab.demo.looks import draw_look, installed_families
from chatlab.ocr import colours as C
from chatlab.ocr import read_video
from chatlab.ocr.bench import TrueMessage, score
from chatlab.ocr.dedupe import OcrMessage, align_panel
from chatlab.ocr.engine import RapidOcrEngine
from chatlab.ocr.region import RegionError
from chatlab.ocr.textlines import TextLine

# a tuning seed: a translucent panel with shadowed text over the busy scene
TRANSLUCENT_SEED = 5


def test_looks_cover_the_range_and_repeat() -> None:
    looks = [draw_look(s) for s in range(60)]
    assert draw_look(7) == draw_look(7)
    assert {lk.panel for lk in looks} == {"opaque", "translucent", "none"}
    assert {lk.side for lk in looks} == {"left", "right", "bottom"}
    assert {lk.mode for lk in looks} == {"scroll", "fade"}
    assert {lk.effect for lk in looks if lk.panel == "none"} == {"outline", "shadow"}
    assert min(lk.font_px for lk in looks) == 12 and max(lk.font_px for lk in looks) == 22
    assert len({lk.family for lk in looks}) >= min(4, len(installed_families()))
    for lk in looks:  # the chat box lies inside the frame
        x, y, w, h = lk.box
        assert 0 <= x and x + w <= lk.size[0] and 0 <= y and y + h <= lk.size[1]


def test_a_clip_made_for_a_seed_is_reused(tmp_path: Path) -> None:
    first = make_look_clip(tmp_path, 4, 2)
    stamp = first.video.stat().st_mtime_ns
    again = make_look_clip(tmp_path, 4, 2)
    assert again.video == first.video and again.video.stat().st_mtime_ns == stamp
    other = make_look_clip(tmp_path, 5, 2)  # another seed is another clip
    assert other.video != first.video


def _drawn_line(name_rgb: tuple[int, int, int]) -> tuple[np.ndarray, TextLine, int]:
    """'Falcon2851: lurking' drawn like chat: the name in its colour, the rest white, on a dark
    translucent-looking ground; returns the picture, its line and the x where the name ends."""
    fam = installed_families()[0]
    font = ImageFont.truetype(fam[2], 18)
    img = Image.new("RGB", (320, 30), (40, 45, 60))
    d = ImageDraw.Draw(img)
    d.text((6, 4), "Falcon2851", font=font, fill=name_rgb)
    end = 6 + int(font.getlength("Falcon2851"))
    d.text((end, 4), ": lurking", font=font, fill=(240, 240, 240))
    return np.array(img), TextLine(2, 28, 4, 8 + end + int(font.getlength(": lurking"))), end


def test_the_colour_change_says_where_the_name_ends() -> None:
    img, line, end = _drawn_line((255, 127, 80))
    pol = C.polarity(img, [line])
    assert pol == 1
    text_rgb = C.text_colour(img, [line], pol)
    assert text_rgb is not None and text_rgb.min() > 200
    found = C.name_end(img, line, text_rgb, pol)
    assert found is not None and abs(found[1] - end) <= 3 and found[2] > found[1]
    # a wrapped line, all in the text colour, has no name
    white, wline, _ = _drawn_line((240, 240, 240))
    assert C.name_end(white, wline, C.text_colour(white, [wline], 1), 1) is None


def _drawn_panel(rows: list[tuple[str, tuple[int, int, int]]]) -> tuple[np.ndarray, list[TextLine]]:
    """Lines of chat drawn one under another, each all in one colour, on a dark ground."""
    fam = installed_families()[0]
    font = ImageFont.truetype(fam[2], 18)
    img = Image.new("RGB", (320, 26 * len(rows) + 4), (40, 45, 60))
    d = ImageDraw.Draw(img)
    lines = []
    for i, (text, rgb) in enumerate(rows):
        d.text((6, 4 + 26 * i), text, font=font, fill=rgb)
        lines.append(TextLine(2 + 26 * i, 28 + 26 * i, 4, 8 + 6 + int(font.getlength(text))))
    return np.array(img), lines


WHITE = (240, 240, 240)


def test_the_text_colour_of_names_above_their_text_is_the_texts() -> None:
    # round 9 (fresh6 8005): names on lines of their own, over emote pictures and one-word texts,
    # are most of the lines; the median of all lines' right halves mixed the names' colours into
    # one no line had (a pink for white text), so every text line counted as a name's colour
    img, lines = _drawn_panel([("Comet8677", (255, 80, 80)), ("cosmic_ninja", (80, 220, 90)),
                               ("sword sword sword", WHITE), ("SaltyRaccoon", (255, 160, 40)),
                               ("LuckyTurtle", (90, 140, 255)), ("hi chat", WHITE), ("ShadowNinja", (230, 90, 230))])
    pol = C.polarity(img, lines)
    text_rgb = C.text_colour(img, lines, pol)
    assert text_rgb is not None and C.colour_distance(np.array(WHITE, float), text_rgb)[0] < 15
    # and where one name stands over most lines of a frame, earlier frames' text lines say which
    # colour is the text's
    green = (80, 220, 90)
    img2, lines2 = _drawn_panel([("cosmic_ninja", green), ("lol", WHITE), ("cosmic_ninja", green),
                                 ("cosmic_ninja", green)])
    earlier = C.line_colours(img, lines, pol)
    got = C.text_colour(img2, lines2, pol, earlier=earlier)
    assert got is not None and C.colour_distance(np.array(WHITE, float), got)[0] < 15
    # where the text is on every line (name: text), the text colour is still found
    img3, line3, _ = _drawn_line((255, 127, 80))
    assert C.colour_distance(np.array(WHITE, float), C.text_colour(img3, [line3], 1))[0] < 15


def test_light_text_with_a_shadow_on_a_bright_scene_is_light() -> None:
    """A dark shadow on a bright ground has more dark extreme than the white text has light, but the
    text is still the light one; dark text on a pale panel is dark."""
    fam = installed_families()[0]
    font = ImageFont.truetype(fam[1], 16)
    img = Image.new("RGB", (300, 26), (170, 190, 120))
    d = ImageDraw.Draw(img)
    d.text((6, 4), "SunnyByte: thanks for the raid", font=font, fill=(0, 0, 0))
    d.text((5, 3), "SunnyByte: thanks for the raid", font=font, fill=(250, 250, 250))
    line = TextLine(1, 25, 3, 290)
    assert C.polarity(np.array(img), [line]) == 1
    pale = Image.new("RGB", (300, 26), (235, 235, 240))
    ImageDraw.Draw(pale).text((5, 3), "SunnyByte: thanks for the raid", font=font, fill=(20, 20, 30))
    assert C.polarity(np.array(pale), [line]) == -1


def test_name_recut_where_the_whole_line_says() -> None:
    from chatlab.ocr.reader import _recut_name

    # the colour's edge fell inside the name, or past it into the text
    assert _recut_name("Nightb", "ot LunaPlays is playing", "Nightbot LunaPlays is playing") == \
        "Nightbot: LunaPlays is playing"
    assert _recut_name("RiverFoxt", "hanks for the raid", "RiverFox thanks for the raid") == "RiverFox: thanks for the raid"
    assert _recut_name("yByte", "thanks", "SunnyByte thanks") == "SunnyByte: thanks"
    # an underscore the whole line lost, or another word altogether: the colour's name stays
    assert _recut_name("crispy_ninja", "clean", "crispy ninja: clean") is None
    assert _recut_name("Raccoon4931", "hi chat", "Falcon22 hi chat") is None


def test_badge_letters_and_mirrored_tags_in_names() -> None:
    from chatlab.ocr import lines as L
    from chatlab.ocr.dedupe import canonical_users

    msgs = [OcrMessage(i, "Isleepy_dragon", "x", 1) for i in range(3)] + [OcrMessage(9, "sleepy_dragon", "y", 1)]
    msgs += [OcrMessage(i, "Isaac_", "x", 1) for i in range(3)]  # no "saac_" seen: a name of its own
    assert canonical_users(msgs) == {"Isleepy_dragon": "sleepy_dragon"}
    assert L.split_user("XXSleepyRaccoonXx: hi") == ("xXSleepyRaccoonXx", "hi")
    assert L.split_user("XXLWolfXX: hi") == ("XXLWolfXX", "hi")


def test_panel_alignment_keeps_repeats_and_drops_rereads() -> None:
    hist = [OcrMessage(1, "a", "hi", 1), OcrMessage(2, "b", "lets go", 1), OcrMessage(3, "c", "nice one", 1)]
    # the panel again with one misread, then a repeat of b's text and a new one
    panel = [("b", "lets go"), ("c", "nlce one"), ("b", "lets go"), ("d", "new here")]
    assert align_panel(hist, panel)[0] == [2, 3]
    assert align_panel([], panel)[0] == [0, 1, 2, 3]
    # a misread of an old one before the last aligned message is not new; a novel one is
    assert align_panel(hist, [("a", "hl"), ("c", "nice one")])[0] == []
    assert align_panel(hist, [("zed", "completely different words"), ("c", "nice one")])[0] == [0]


@pytest.fixture(scope="module")
def engine() -> RapidOcrEngine:
    return RapidOcrEngine(threads=2)


@pytest.mark.slow
def test_translucent_chat_over_a_busy_scene_found_and_read(tmp_path_factory: pytest.TempPathFactory,
                                                           engine: RapidOcrEngine) -> None:
    clip = make_look_clip(tmp_path_factory.mktemp("look"), TRANSLUCENT_SEED, 20)
    assert clip.look.panel == "translucent"
    truth = read_look_truth(clip.truth)
    res = read_video(clip.video, engine=engine)
    x, y, w, h = truth["region"]
    r = res.region
    inter = max(0, min(r.x + r.w, x + w) - max(r.x, x)) * max(0, min(r.y + r.h, y + h) - max(r.y, y))
    assert inter / (w * h) >= 0.8 and inter / (r.w * r.h) >= 0.6, (r, truth["region"])
    assert res.region_method == "auto" and res.detection is not None and res.detection.confidence >= 0.5
    s = score(res.messages, [TrueMessage(m["t_s"], m["user"], m["text"]) for m in truth["messages"]])
    # measured 0.92 / 0.73: the ticker and HUD that the found region takes in are read as a few
    # messages (the bench's precision figures say the same); the bar is below the target
    assert s["recall"] >= 0.85 and s["precision"] >= 0.7 and s["time_within_2s"] >= 0.95, s


@pytest.mark.slow
def test_no_chat_over_a_busy_scene_is_refused_with_a_picture(tmp_path: Path, engine: RapidOcrEngine,
                                                             capsys: pytest.CaptureFixture) -> None:
    clip = make_look_clip(tmp_path, 3, 12, chat=False)  # damage numbers float up, captions change
    with pytest.raises(RegionError, match="no chat region found") as e:
        read_video(clip.video, engine=engine)
    assert e.value.at_s > 0
    png = tmp_path / "cands.png"
    assert main(["ocr", str(clip.video), "--picture", str(png), "--frame", "6", "--threads", "2"]) == 1
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "no chat region found" in capsys.readouterr().err


@pytest.mark.slow
def test_a_short_box_of_names_above_their_text_grows_down_to_the_newest_line(
        tmp_path: Path, engine: RapidOcrEngine) -> None:
    # round 9 (fresh6 8004): chat at the bottom, names above their text; the motion saw only the
    # upper lines, whose few message starts (two lines each) read as 0.39 like chat, too little to
    # grow: the newest lines, at the bottom, where each message is first seen, were never read
    from chatlab.ocr.reader import resolve_region
    from chatlab.ocr.verify import growth

    assert growth(0.39, 0.77, True, True, True, True) == (False, False, True, True)
    assert growth(0.39, 0.4, False, False, True, True) == (False, False, False, False)  # scene text
    assert growth(0.2, 0.9, False, False, True, False) == (False, False, False, False)
    assert growth(0.6, 0.5, True, False, True, False) == (True, False, True, False)
    clip = make_look_clip(tmp_path, 8004, 30)
    x, y, w, h = read_look_truth(clip.truth)["region"]
    det = resolve_region(clip.video, None, engine=engine)
    assert det.region.y + det.region.h >= y + h - 10, (det.region, (x, y, w, h))
    assert det.confidence >= 0.5


def test_vertical_video_goes_on(tmp_path: Path, engine: RapidOcrEngine) -> None:
    clip = make_look_clip(tmp_path, TRANSLUCENT_SEED, 10, size=(720, 1280))
    truth = read_look_truth(clip.truth)
    x, y, w, h = truth["region"]
    res = read_video(clip.video, region=f"{x},{y},{w},{h}", engine=engine)
    assert res.stats["bad_frames"] == 0 and res.stats["samples"] >= 10
    s = score(res.messages, [TrueMessage(m["t_s"], m["user"], m["text"]) for m in truth["messages"]])
    assert s["recall"] >= 0.6, s


def test_held_apart_looks_are_fresh7_and_never_seen() -> None:
    # round 9: 8000- (fresh6) was scored and looked at, so the held-apart set moved on to 9000-
    from chatlab.ocr import look_bench as LB
    assert LB.parse_seeds("held") == {"fresh7": tuple(range(9000, 9012))}
    assert LB.HELD_APART == LB.FRESH7
    assert set(LB.FRESH5) <= set(LB.SEEN) and set(LB.FRESH6) <= set(LB.SEEN)
    assert not set(LB.HELD_APART) & (set(LB.SEEN) | set(LB.TUNING))
    assert "fresh7" in LB.parse_seeds("all") and "fresh6" not in LB.parse_seeds("all")


def test_first_letters_lost_after_a_badge_come_back_from_the_whole_line() -> None:
    # round 7 (fresh3 5001, 5009): the cut after the badge pictures fell inside the name; the line
    # read whole, badges and all, has the name's first letters
    from chatlab.ocr.reader import _name_from_whole

    assert _name_from_whole("unnyByte: thanks for hanging out", "SunnyByte: thanks for hanging out") == \
        "SunnyByte: thanks for hanging out"
    assert _name_from_whole("467: I should be sleeping", "W Comet1467: I should be sleeping") == "Comet1467: I should be sleeping"
    assert _name_from_whole("dowPanda: shield", "ShadowPanda: shield") == "ShadowPanda: shield"
    # the badge read as an I is no letter of the name; another name, or the same, is left as it is
    assert _name_from_whole("sleepy_muffin: hi", "Isleepy_muffin: hi") is None
    assert _name_from_whole("Raccoon4931: hi", "Falcon22: hi") is None
    assert _name_from_whole("SunnyByte: hi", "SunnyByte: hi") is None
