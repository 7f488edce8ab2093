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
