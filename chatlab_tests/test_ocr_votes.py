"""Round 5: chat straight on the video (no panel) is read anew on every frame. A kept message
takes the reading most like all its readings, and one read on a single frame stays; 'name word' with the colon lost is a message where the panel's lines open with
'name:'; a name's own first 'l' is no badge. Given lines and readings, no recogniser."""

from __future__ import annotations

from chatlab.ocr import lines as L
from chatlab.ocr import votes as V
from chatlab.ocr.dedupe import OcrMessage, canonical_users
from chatlab.ocr.reader import ChatReader, group_lines
from chatlab.ocr.textlines import TextLine


def test_the_reading_most_like_the_others_wins() -> None:
    r = [V.Reading("Waiffle4897", "gg", 0.9), V.Reading("Waffle4897", "gg", 0.95), V.Reading("Waffle4897", "gg", 0.9),
         V.Reading("Waffle4897", "g9", 0.7)]
    assert V.medoid(r) == r[1]
    # two readings: the first stays unless the second is far surer
    assert V.medoid(r[:2]).user == "Waiffle4897"
    assert V.medoid([V.Reading("a", "x", 0.5), V.Reading("b", "x", 0.9)]).user == "b"


def test_a_message_read_again_takes_the_common_reading() -> None:
    reader = ChatReader(engine=None)  # type: ignore[arg-type]  # no frame is read: the bookkeeping only

    frame = [0]

    def panel(*msgs: tuple[str, str]) -> None:
        frame[0] += 1
        reader._take_panel([L.PanelMessage([], user=u, text=t, confidence=0.95) for u, t in msgs], float(frame[0]))

    panel(("Waiffle4897", "gg"))
    for _ in range(4):
        panel(("Waffle4897", "gg"), ("SpicyRaccoon_", "OMEGALUL"))
    out = reader.finish()
    assert [(m.user, m.text) for m in out] == [("Waffle4897", "gg"), ("SpicyRaccoon_", "OMEGALUL")]
    assert out[0].t_s == 1.0  # first seen when first read, misread or not


def test_a_message_read_once_stays() -> None:
    reader = ChatReader(engine=None)  # type: ignore[arg-type]
    reader._emit(L.PanelMessage([], user="NeonCometXD", text="OMEGALUL", confidence=0.9), 19.0, 19.0)
    assert [m.user for m in reader.finish()] == ["NeonCometXD"]


def test_a_names_own_first_l_is_no_badge() -> None:
    msgs = [OcrMessage(i, "lucky_wolf", "x", 1) for i in range(5)] + [OcrMessage(6, "Iucky_wolf", "y", 1),
                                                                      OcrMessage(7, "ucky_wolf", "z", 1)]
    fix = canonical_users(msgs)
    assert fix.get("lucky_wolf", "lucky_wolf") == "lucky_wolf" and fix.get("Iucky_wolf") == "lucky_wolf"
    # a badge read as I before a name still goes
    msgs = [OcrMessage(i, "Isleepy_dragon", "x", 1) for i in range(3)] + [OcrMessage(9, "sleepy_dragon", "y", 1)]
    assert canonical_users(msgs) == {"Isleepy_dragon": "sleepy_dragon"}


def _lines(rows: list[tuple[int, int, int, str, str | None]], h: int = 20) -> list[TextLine]:
    out = []
    for x0, x1, top, text, split in rows:
        ln = TextLine(top, top + h, x0, x1, text=text, colour_start=None if split else True)
        if split:
            ln.split_text = split  # type: ignore[attr-defined]
        out.append(ln)
    return out


def test_a_name_and_one_word_without_colon_is_a_message_where_lines_open_with_names() -> None:
    lines = _lines([(8, 190, 0, "lucky_wolf: Kappa Kappa", None),
                    (8, 230, 24, "SpicyRaccoon_ OMEGALUL", "SpicyRaccoon_: OMEGALUL"),
                    (30, 160, 48, "Waffle4897: gg", None),
                    (10, 180, 72, "xXSleepyCactusXx real", "xXSleepyCactusXx: real"),
                    (12, 312, 96, "xXSleepyNoodleXx: the dragon looks so", None)])
    msgs, _ = group_lines(lines, 340)
    got = [(m.user, m.text) for m in (L.finish(m) for m in msgs)]
    assert got == [("lucky_wolf", "Kappa Kappa"), ("SpicyRaccoon_", "OMEGALUL"), ("Waffle4897", "gg"),
                   ("xXSleepyCactusXx", "real"), ("xXSleepyNoodleXx", "the dragon looks so")]


def test_where_names_stand_above_their_text_a_split_name_stays_a_name() -> None:
    lines = _lines([(12, 120, 0, "xXFuzzyToas tXx", "xXFuzzyToas: tXx"), (14, 200, 24, "hello there", None),
                    (12, 90, 60, "qwerty", None), (14, 150, 84, "what's up?", None)])
    for ln, name in zip(lines, (True, False, True, False)):  # names in a colour of their own
        ln.colour_start = None if name else False
        ln.name_colour = name  # type: ignore[attr-defined]
    msgs, _ = group_lines(lines, 340)
    got = [(m.user, m.text) for m in (L.finish(m) for m in msgs)]
    assert got == [("xXFuzzyToastXx", "hello there"), ("qwerty", "what's up?")]


def test_carried_over_lines_are_no_vote_and_the_name_read_most_often_wins() -> None:
    # round 7 (fresh3 5001): 'unnyByte' read once and carried over five frames unchanged, then
    # 'SunnyByte' read afresh twice: the carried-over copies are no readings, the name read most wins
    reader = ChatReader(engine=None)  # type: ignore[arg-type]

    def msg(user: str, reused: bool, conf: float = 0.95) -> L.PanelMessage:
        return L.PanelMessage([TextLine(0, 20, 0, 200, text=f"{user}: thanks", reused=reused)], user=user,
                              text="thanks for hanging out", confidence=conf)

    reader._emit(msg("unnyByte", False, 0.99), 9.0, 9.0)
    for _ in range(5):
        reader._read_again(reader.history[0], msg("unnyByte", True, 0.99))
    assert len(reader.history[0].readings) == 1
    reader._read_again(reader.history[0], msg("SunnyByte", False))
    reader._read_again(reader.history[0], msg("SunnyByte", False))
    assert [(m.user, m.t_s) for m in reader.finish()] == [("SunnyByte", 9.0)]
    # the vote alone: the commonest name, the text most like the others among its readings
    r = [V.Reading("467", "I should be sleeping", 0.96), V.Reading("Comet1467", "I should be sleeping", 0.99),
         V.Reading("Comet1467", "I shouldbe sleeping", 0.98), V.Reading("Comet1467", "I should be sleeping", 0.97)]
    assert V.vote(r) == V.Reading("Comet1467", "I should be sleeping", 0.99)


def test_a_message_read_again_out_of_place_is_no_second_message() -> None:
    # round 7 (fresh3 5003, 5007, 5010): a kept message read again where the panel alignment lost its
    # place, or with fewer of its lines while the vote held a misread name ('SunmyByte'), came out twice
    reader = ChatReader(engine=None)  # type: ignore[arg-type]

    def panel(t: float, *msgs: tuple[str, str]) -> None:
        reader._take_panel([L.PanelMessage([], user=u, text=x, confidence=0.95) for u, x in msgs], t)

    panel(7.0, ("Turtle484l", "careful with the armor"), ("NoisyPanda", "true"))
    # the two read out of their order: the alignment keeps one, the other is no new message
    panel(9.0, ("NoisyPanda", "true"), ("Turtle4841", "careful with the armor"), ("lazy_otter", "hi"))
    panel(10.0, ("SunmyByte", "thanks for hanging out PixelWizard_"))
    panel(12.0, ("SunnyByte", "thanks"))
    got = [(m.user, m.text, m.t_s) for m in reader.finish()]
    assert [(u, t) for u, t, _ in got] == [("Turtle484l", "careful with the armor"), ("NoisyPanda", "true"),
                                           ("lazy_otter", "hi"), ("SunmyByte", "thanks for hanging out PixelWizard_")]
    assert [t for _, _, t in got] == [7.0, 7.0, 9.0, 10.0]
    # a real repeat beside its first on the same panel stays, and so does one on the frame that kept the first
    reader = ChatReader(engine=None)  # type: ignore[arg-type]
    panel(1.0, ("NoisyPanda", "LUL"), ("NoisyPanda", "LUL"))
    panel(2.0, ("NoisyPanda", "LUL"), ("NoisyPanda", "LUL"), ("NoisyPanda", "LUL"))
    assert len(reader.finish()) == 3


def test_a_name_read_with_its_trailing_underscore_keeps_it() -> None:
    # round 7 (fresh3 5001): 'LuckyNoodle_' was kept as 'LuckyNoodle' in five messages, though frames
    # read the underscore: a lost underscore is common, an added one is not
    msgs = [OcrMessage(float(i), "LuckyNoodle", f"text {i}", 0.95) for i in range(5)]
    for m in msgs:
        m.readings = [V.Reading("LuckyNoodle", m.text, 0.95)]
    msgs[1].readings.append(V.Reading("LuckyNoodle_", msgs[1].text, 0.96))
    msgs[3].readings.append(V.Reading("LuckyNoodle_", msgs[3].text, 0.96))
    assert canonical_users(msgs) == {"LuckyNoodle": "LuckyNoodle_"}
    # read so once only: it stays as read
    msgs[3].readings.pop()
    assert canonical_users(msgs) == {}
