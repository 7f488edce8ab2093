"""Lines -> messages on recognised lines laid out as real chat lays them out (round 4): time
stamps, names above their text, bubbles, packed short messages, wrapped lines, handles. The lines
are given (text and box), so these test the grouping rules, not the recogniser."""

from __future__ import annotations

from chatlab.ocr import lines as L
from chatlab.ocr.reader import group_lines
from chatlab.ocr.textlines import TextLine


def _read(rows: list[tuple[int, int, int, str]], width: int = 400, h: int = 20) -> list[tuple[str, str]]:
    """rows: (x0, x1, top, text) of each line, each `h` px tall -> (user, text) of the messages."""
    lines = [TextLine(top, top + h, x0, x1, text=text, colour_start=False) for x0, x1, top, text in rows]
    msgs, _ = group_lines(lines, width)
    return [(m.user, m.text) for m in (L.finish(m) for m in msgs)]


def test_time_stamps_are_no_part_of_the_name() -> None:
    assert L.strip_stamp("18: 35 nate_thesnake: so is this") == "nate_thesnake: so is this"
    assert L.strip_stamp("[14:50:41] bob: hi") == "bob: hi"
    assert L.strip_stamp("9:05 PM bob: hi") == "bob: hi"
    assert L.strip_stamp("2010 I TOLD U") == "2010 I TOLD U"  # a number is no clock time
    assert L.strip_stamp("bob: 18:35 hi") == "bob: 18:35 hi"  # only at the start


def test_packed_short_messages_are_not_run_together() -> None:
    # each line is short: none is the wrapped rest of the one above, though all start at the left edge
    got = _read([(5, 200, 0, "Halcyon_TV: forty one"), (5, 180, 21, "quietstorm: no way"),
                 (5, 150, 42, "clip that"), (5, 390, 63, "NovaKestrel: first time catching this live")])
    assert got == [("Halcyon_TV", "forty one"), ("quietstorm", "no way"),
                   ("NovaKestrel", "first time catching this live")]


def test_a_line_under_a_full_line_is_its_wrapped_rest() -> None:
    got = _read([(5, 392, 0, "MossyKnight: thanks for hanging out with"), (5, 120, 21, "everyone tonight"),
                 (5, 300, 42, "StreamElements: Join the community"), (5, 390, 63, "PixelGoose: good evening chat")])
    # the 'community' line is not full: nothing under it wraps
    assert got[0] == ("MossyKnight", "thanks for hanging out with everyone tonight")
    assert ("PixelGoose", "good evening chat") in got and len(got) == 3


def test_names_above_their_text_and_a_second_bubble() -> None:
    got = _read([(13, 79, 0, "qwerty"), (17, 65, 30, "hello"), (12, 49, 80, "xyz"), (20, 112, 110, "hello there"),
                 (19, 112, 150, "what's up?"), (14, 71, 200, "abcde"), (16, 150, 230, "not much, you?")])
    assert got == [("qwerty", "hello"), ("xyz", "hello there"), ("xyz", "what's up?"), ("abcde", "not much, you?")]


def test_a_name_with_a_colon_alone_takes_the_line_under_it() -> None:
    got = _read([(60, 212, 0, "Grognosh2:"), (48, 390, 25, "Can someone rate all the emotes?")])
    assert got == [("Grognosh2", "Can someone rate all the emotes?")]


def test_handles_and_their_event_rows() -> None:
    got = _read([(9, 300, 0, "@HollowPine: how is this only 40 minutes in"),
                 (8, 390, 21, "$ @Tidewrack Sent 5 Northlight gift memberships"),
                 (9, 350, 42, "@quiet lantern: earned every bit of it")])
    assert got == [("HollowPine", "how is this only 40 minutes in"),
                   ("Tidewrack", "Sent 5 Northlight gift memberships"), ("quiet_lantern", "earned every bit of it")]


def test_badge_blots_and_split_names() -> None:
    assert L.strip_badges("W $ mattyeast:") == "mattyeast:"
    assert L.split_user(L.join_split_name("Halcyon_ Tv: thanks")) == ("Halcyon_Tv", "thanks")
    assert not L.starts_message("community discord: discord.gg/x")  # a wrapped 'two words:' with text after


def test_a_ticker_running_out_of_the_region_moves_neither_chat_edge() -> None:
    # scene text scrolling out on the left ends right of the chat, and one running out on the right
    # opens like 'name:' left of the chat: neither is where the chat's lines start or end
    got = _read([(30, 300, 0, "PixelGoose: good evening"), (30, 85, 21, "chat"),
                 (0, 395, 60, "elcome to the stream! Follow for more"),
                 (9, 399, 90, "Use: code COZY for 10% off * Next goal")])
    assert got[0] == ("PixelGoose", "good evening chat")
    # round 8 (fresh5 7002, 7003): nor does it open a message ('goal: 50', 'formore:', 'Use:')
    assert got == [("PixelGoose", "good evening chat")]
    got = _read([(0, 399, 0, "goal: 50"), (1, 266, 30, "formore:"), (30, 300, 60, "PixelGoose: good evening"),
                 (30, 200, 90, "Wolf283: hi")])
    assert got == [("PixelGoose", "good evening"), ("Wolf283", "hi")]
    # where the region cuts most of the chat's lines at its left edge (a box given tight, a time
    # stamp read apart on a few lines), they are the chat
    got = _read([(0, 300, 0, "PixelGoose: good evening"), (0, 200, 30, "Wolf283: hi"),
                 (108, 300, 60, "JayStarkx: MESSI"), (0, 250, 90, "AOXNER: GOAT")])
    assert got == [("PixelGoose", "good evening"), ("Wolf283", "hi"), ("JayStarkx", "MESSI"), ("AOXNER", "GOAT")]


def _read_coloured(rows: list[tuple[int, int, int, str, bool]], width: int = 360, h: int = 24) -> list[tuple[str, str]]:
    """rows: (x0, x1, top, text, starts in a name colour) -> (user, text) of the messages."""
    lines = [TextLine(top, top + h, x0, x1, text=text, colour_start=cs) for x0, x1, top, text, cs in rows]
    msgs, _ = group_lines(lines, width)
    return [(m.user, m.text) for m in (L.finish(m) for m in msgs)]


def test_a_word_colon_line_in_the_text_colour_under_a_full_line_is_its_wrapped_rest() -> None:
    # round 8 (fresh5 7001, 7011): the bots' 'discord: ...' and 'everywhere: @...' wrapped onto a
    # line of their own and were taken for new messages (a miss and two false messages each)
    rows = [(49, 322, 0, "xXShadowFalconXx: boss lets go", True), (5, 221, 36, "xXSilentPandaXx: !discord", True),
            (50, 350, 72, "StreamElements: Join the community", True), (2, 224, 102, "discord: discord.gg/riverfox", False)]
    assert _read_coloured(rows) == [("xXShadowFalconXx", "boss lets go"), ("xXSilentPandaXx", "!discord"),
                                    ("StreamElements", "Join the community discord: discord.gg/riverfox")]
    # a name in its own colour there is a message; so is any 'name:' line where no name has a colour
    named = rows[:3] + [(2, 224, 102, "discord: discord.gg/riverfox", True)]
    assert len(_read_coloured(named)) == 4
    plain = [(x0, x1, top, text, False) for x0, x1, top, text, _ in rows]
    assert len(_read_coloured(plain)) == 4
    # and under a line that is not full it is a message of its own
    short = rows[:2] + [(50, 200, 72, "StreamElements: hi", True), (2, 224, 102, "discord: discord.gg/riverfox", False)]
    assert _read_coloured(short)[-1] == ("discord", "discord.gg/riverfox")


def test_recogniser_slips_in_short_messages() -> None:
    # round 8 (fresh5 7004, 7005, 7008, 7009): '!uptime' read 'lup time', 'so' read 's0', emote
    # pictures read as '00' / '88' / '8' (the message was only pictures)
    assert L.fix_text("lup time") == "!uptime" and L.fix_text("lupt ime") == "!uptime"
    assert L.fix_text("s0 true") == "so true"
    assert L.fix_text("00") == "" and L.fix_text("88") == "" and L.fix_text("8") == ""
    # a message emptied so is kept, and says what was read
    pictures = L.finish(L.PanelMessage([L.Line(0, 20, 0, 200, True, text="CozyQuest: 88", confidence=0.9)]))
    assert (pictures.user, pictures.text) == ("CozyQuest", "") and "'88'" in (pictures.problem or "")
    # what chat writes stays: o7, a number among words, a word with other digits
    assert L.fix_text("brb o7") == "brb o7" and L.fix_text("o7") == "o7"
    assert L.fix_text("up time is 80 minutes") == "up time is 80 minutes" and L.fix_text("abc10") == "abc10"


def test_gamer_tag_names_with_a_badge_glued_on_or_an_x_lost() -> None:
    # round 8 (fresh5 7007, 7010, 7011): 'JxXShadowFalconXx', 'KXFuzzyDragonXx', 'XPixelCactusXx'
    for read in ("JxXShadowFalconXx", "JxxShadowFalconXx", "xXShadowFalconXx"):
        assert L.split_user(f"{read}: hi") == ("xXShadowFalconXx", "hi")
    assert L.split_user("XPixelCactusXx: same") == ("xXPixelCactusXx", "same")
    assert L.split_user("KXFuzzyDragonXx: hi")[0] == "xXFuzzyDragonXx"
    # names that only end like one stay
    assert L.split_user("MaxXx: hi")[0] == "MaxXx" and L.split_user("FoxXx: hi")[0] == "FoxXx"


def test_a_name_above_its_text_read_with_a_dot_after_it() -> None:
    # round 8 (fresh5 7007): 'TinyMuffin_.' over 'boss lets go' was no name, so its message was lost
    assert L.name_alone("TinyMuffin_.") == "TinyMuffin_"
    got = _read([(5, 79, 0, "TinyMuffin_."), (4, 79, 21, "boss lets go"), (7, 62, 42, "Nightbot"),
                 (5, 227, 63, "LunaPlays has been live for 12 minutes"), (5, 84, 84, "NoisyCactus"),
                 (5, 105, 105, "wait the shield??")])
    assert got == [("TinyMuffin_", "boss lets go"), ("Nightbot", "LunaPlays has been live for 12 minutes"),
                   ("NoisyCactus", "wait the shield??")]
    assert L.name_alone("boss lets go.") is None


def test_emote_pictures_under_a_name_are_its_text_not_a_name() -> None:
    # round 9 (fresh6 8005): names above their text, messages of emote pictures alone; the
    # pictures read '808', '0o', 'ee' were taken for names, and, taller than the letters, they
    # reach up into the name's line, so the name above them found no line under it
    assert L.picture_read("808") and L.picture_read("0o") and L.picture_read("ee") and L.picture_read("e80")
    assert not L.picture_read("ooo") and not L.picture_read("Comet8677") and not L.picture_read("gg")
    assert L.name_alone("808") is None and L.name_alone("ee", True) is None
    assert L.name_alone("Dragon9072") == "Dragon9072"
    # and a small picture read as wide dots is no text either; dots typed are
    assert L.fix_text("·") == "" and L.fix_text("·：：") == "" and L.fix_text("。") == ""
    assert L.fix_text("...") == "..." and L.fix_text("o7") == "o7"
    lines = [TextLine(-54, -31, 9, 130, text="xXNeonMuffinXx", colour_start=False),
             TextLine(-27, -4, 9, 290, text="Chat remember to drink water and stretch", colour_start=False),
             TextLine(0, 23, 9, 110, text="Dragon7341", colour_start=False),
             TextLine(27, 50, 9, 60, text="hi chat", colour_start=False),
             TextLine(54, 77, 9, 108, text="Dragon9072", colour_start=False),
             TextLine(68, 95, 9, 74, text="ee", colour_start=False),  # a picture, 27 px tall
             TextLine(99, 122, 24, 140, text="SpicyPandaXD", colour_start=False),
             TextLine(122, 145, 9, 90, text="lurking", colour_start=False)]
    msgs, _ = group_lines(lines, 300)
    got = [(m.user, m.text) for m in (L.finish(m) for m in msgs)]
    assert ("Dragon9072", "") in got or ("Dragon9072", "ee") in got, got
    assert ("SpicyPandaXD", "lurking") in got and not any(u == "ee" for u, _ in got), got
