"""Cuts at every time scale (change points on the anchors) and the gate that fails on what the
curve does not explain: issue 13's failing case (a 5-minute stream, +20 s jumping to +32 s at
157 s of the audio, about 72 echo messages) and its neighbours."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from chatlab.align.bench import score
from chatlab.align.config import AlignConfig
from chatlab.align.estimate import estimate_offsets, verdict
from chatlab.align.synth import make_case

CFG = AlignConfig()


def _issue_case(seed: int):
    return make_case(seed, 5.0, offset_s=20.0, drift_s_per_h=0.0, cut_at_s=(157.0,), cut_len_s=(12.0,), msgs_per_min=32.0)


@pytest.mark.parametrize("seed", [3, 4])
def test_short_stream_cut_found(seed: int) -> None:
    """The coarse windows (5 minutes) see one lag; the change search on the anchors finds the jump."""
    case = _issue_case(seed)
    assert 60 <= case.chat.filter(pl.col("echo_line_end_s").is_not_null()).height <= 80  # as in the issue: ~72 echoes
    al = estimate_offsets(case.words, case.chat, CFG)
    assert not verdict(al, CFG), al.problems
    assert len(al.curve.segments) == 2
    s = score(al.curve, case.truth)
    assert s["cut_errs"][0] <= 5.0 and s["extra_cuts"] == 0
    assert np.median(s["errors"]) < 0.5
    assert abs(al.curve.segments[1].offset_s - al.curve.segments[0].offset_s - 12.0) < 1.5


@pytest.mark.parametrize("seed", [3, 4])
def test_gate_fails_the_curve_that_misses_the_cut(seed: int) -> None:
    """align-4's estimator (coarse windows only) gives one offset here, wrong by 12 s over half the
    stream; the gate must say so, naming the stretch and the offset that fits it."""
    case = _issue_case(seed)
    al = estimate_offsets(case.words, case.chat, CFG, find_changes_=False)
    assert len(al.curve.segments) == 1
    assert np.median(score(al.curve, case.truth)["errors"]) > 5.0  # the curve really is wrong
    problems = verdict(al, CFG)
    assert any("fits an offset" in p for p in problems), problems
    (found,) = al.figures["unexplained"]
    assert -14.5 < found["delta_s"] < -9.5 and found["anchors"] >= 8
    assert found["to_s"] < 200.0  # the stretch ends near the cut (chat 189 s), not at the stream's end


@pytest.mark.parametrize("where", [40.0, 840.0])
def test_cut_in_first_or_last_minute(where: float) -> None:
    """A 15-minute stream cut 40 s from its start or its end: the coarse window holding the cut is
    dominated by the other side's lag."""
    case = make_case(21, 15.0, offset_s=-300.0, drift_s_per_h=1.0, cut_at_s=(where,), cut_len_s=(45.0,), msgs_per_min=60.0)
    al = estimate_offsets(case.words, case.chat, CFG)
    assert not verdict(al, CFG), al.problems
    s = score(al.curve, case.truth)
    # found; placed within 5 s at the start, 6.4 s at the end (the echoes leave 8.8 s open there)
    assert len(al.curve.segments) == 2 and s["cut_errs"][0] <= (5.0 if where < 100 else 7.0), (al.curve.segments, s["cut_errs"])


def test_small_jump_found() -> None:
    case = make_case(22, 20.0, offset_s=900.0, drift_s_per_h=0.0, cut_at_s=(500.0,), cut_len_s=(6.0,), msgs_per_min=80.0)
    al = estimate_offsets(case.words, case.chat, CFG)
    assert not verdict(al, CFG), al.problems
    s = score(al.curve, case.truth)
    assert len(al.curve.segments) == 2 and s["cut_errs"][0] <= 5.0


def test_loose_cut_fails_the_gate() -> None:
    """The same 6-s jump in thinner chat: found and placed within 5 s, but the echoes allow it
    anywhere over 45 s, so the curve may be 6 s off over 37 s of chat on one side of it: the gate
    fails the VOD and says where (issue 13: no curve off by > 2 s over >= 30 s may pass)."""
    case = make_case(22, 20.0, offset_s=900.0, drift_s_per_h=0.0, cut_at_s=(500.0,), cut_len_s=(6.0,), msgs_per_min=50.0)
    al = estimate_offsets(case.words, case.chat, CFG)
    assert len(al.curve.segments) == 2 and score(al.curve, case.truth)["cut_errs"][0] <= 5.0
    problems = verdict(al, CFG)
    assert any("may lie anywhere in 494..539 s" in p for p in problems), problems


def test_cut_in_the_last_seconds_found_and_its_thin_tail_refused() -> None:
    """A cut 25 s before the end of a 6-minute stream with sparse chat: five echoes after it. The
    stream's last minute is searched on its own (changepoint._edge_change), so the cut is found
    and the curve is right everywhere; the tail segment, on so few echoes and reaching 30 s, is too
    uncertain to trust and the VOD fails (before, one segment passed with the tail doubtful, off
    by 30 s over 25 s where no pairs came from)."""
    from chatlab.align.bench import wrong_stretch

    case = make_case(40, 6.0, offset_s=50.0, drift_s_per_h=0.0, cut_at_s=(335.0,), cut_len_s=(30.0,), msgs_per_min=30.0, splice="bare")
    al = estimate_offsets(case.words, case.chat, CFG)
    assert len(al.curve.segments) == 2 and abs(al.curve.breaks()[0] - case.truth.breaks()[0]) <= 5.0
    assert wrong_stretch(al.curve, case.truth) == 0.0
    assert any(p.startswith("segment 1 ") for p in verdict(al, CFG))


def test_chat_that_echoes_nothing_is_refused() -> None:
    """Reactions that never repeat a word the streamer said (only emotes and "lol"): no lag to find."""
    case = make_case(24, 20.0, offset_s=100.0, drift_s_per_h=0.0, msgs_per_min=60.0, echo_p=0.0)
    al = estimate_offsets(case.words, case.chat, CFG)
    assert verdict(al, CFG)


def test_no_spurious_change_on_clean_short_streams() -> None:
    for seed in (31, 32, 33):
        case = make_case(seed, 8.0, offset_s=-40.0, drift_s_per_h=0.0, msgs_per_min=40.0)
        al = estimate_offsets(case.words, case.chat, CFG)
        assert len(al.curve.segments) == 1 and not verdict(al, CFG), (seed, al.problems)


def test_per_segment_confidence_in_the_offsets_json() -> None:
    case = _issue_case(4)
    doc = estimate_offsets(case.words, case.chat, CFG).to_json()
    segs = doc["figures"]["segments"]
    assert [p["segment"] for p in segs] == [0, 1]
    assert all(p["anchors"] >= 8 and 0.0 < p["confidence"] <= 1.0 for p in segs)
    assert doc["confidence"] == pytest.approx(min(p["confidence"] for p in segs), abs=1e-3)


@pytest.mark.parametrize("shift", [-3.0, 3.0, 12.0])
def test_gate_fails_a_curve_off_over_a_stretch(shift: float) -> None:
    """The right curve of a 40-minute stream passes; the same curve moved by a few seconds over
    ten minutes of it (a stretch the fit would have got wrong) fails, on the same anchors."""
    from dataclasses import replace

    from chatlab.align.curve import CurveSegment, OffsetCurve
    from chatlab.align.estimate import structure_problems

    case = make_case(25, 40.0, offset_s=200.0, drift_s_per_h=0.0, msgs_per_min=40.0)
    al = estimate_offsets(case.words, case.chat, CFG)
    assert not verdict(al, CFG) and len(al.curve.segments) == 1
    assert not structure_problems(al, CFG)
    s = al.curve.segments[0]
    a, b = s.start_s + 900.0, s.start_s + 1500.0
    wrong = OffsetCurve((replace(s, end_s=a), CurveSegment(a, b, s.at(a) + shift, 0.0), CurveSegment(b, s.end_s, s.at(b), 0.0)))
    bad = replace(al, curve=wrong, problems=[], figures={**al.figures, "segments": []})
    problems = structure_problems(bad, CFG)
    assert problems, f"a curve {shift:+} s off over 600 s passed"


def test_cut_near_the_end_with_few_echoes_fails_the_gate() -> None:
    """A cut 67 s long, 30 s before the end of a 36-minute stream: 4 messages echo the audio after
    it, too few for a segment, and they fit offsets 66-92 s off the curve over the last 57 s of chat.
    The curve is wrong there (by the cut's length), so the VOD must fail, naming the stretch."""
    from chatlab.align.bench import group_cases, wrong_stretch

    p = group_cases("edge_cuts", 12, 0)[7]
    case = make_case(**p)
    al = estimate_offsets(case.words, case.chat, CFG)
    assert wrong_stretch(al.curve, case.truth) >= 30.0  # what the gate must catch
    problems = verdict(al, CFG)
    # the search splits the far side into two thin stretches (3 anchors at +92 s, then 1 at +66 s):
    # touching, they are one stretch at the stream's end, from its first
    assert any("at the stream's end" in x and "1298..1355 s" in x and "4 anchors" in x for x in problems), problems


def test_a_tight_cut_range_one_chance_echo_makes_fails_the_gate() -> None:
    """Bench group `sparse`, seed 7, case 7 (a splice with no mark in the words), plus one chance
    match: a message that repeats a word of a sentence 50 s before the real cut, typed as if that
    sentence came after it. With the echoes already sparse there, it makes the cut's range 10 s wide,
    75 s before the real cut, and the curve is off by 170 s over 77 s. With that message left out
    the range is 40 s wide, and the gate fails the VOD naming it (seed 7's 79-s miss, issue 13)."""
    from chatlab.align.bench import group_cases, wrong_stretch
    from chatlab.align.inputs import prepare_words
    from chatlab.align.synth import FILLER

    case = make_case(**group_cases("sparse", 12, 7)[7] | {"splice": "bare"})
    (true_cut,) = case.params["cut_at_audio_s"]
    w = prepare_words(case.words)
    line = w.filter((pl.col("sent_start_s") > true_cut - 52.0) & ~pl.col("word").str.strip_chars(".?!").is_in(FILLER)).row(0, named=True)
    after = case.truth.segments[1]
    t = line["sent_end_s"] + 4.0 + after.offset_s
    for _ in range(3):
        t = line["sent_end_s"] + 4.0 + after.at(t)
    chance = pl.DataFrame({"msg_id": ["chance"], "t_s": [float(t)], "text": [f"the {line['word'].strip('.?!')} again"], "user_hash": ["u9999"]})
    chat = pl.concat([case.chat, chance], how="diagonal_relaxed").sort("t_s")
    al = estimate_offsets(case.words, chat)
    s = al.curve.segments[1]
    assert s.cut_hi_s - s.cut_lo_s < 15.0 and s.cut_hi_s < true_cut - 60.0  # tight, and far from the cut
    assert s.cut_far_lo_s <= s.cut_lo_s and s.cut_far_hi_s > s.cut_hi_s + 25.0  # loose without that one message
    assert wrong_stretch(al.curve, case.truth) >= 30.0
    problems = verdict(al, AlignConfig())
    assert any("if one echo beside it was chance" in p for p in problems), problems


def _edge_reach(problems: list[str]) -> float:
    """The stretch the gate's edge rule measured ("... over N s: a cut near the end ..."), 0 if none."""
    import re

    hits = [float(m.group(1)) for p in problems if "at the stream's" in p for m in [re.search(r"over (\d+) s: a cut near", p)] if m]
    return max(hits, default=0.0)


def test_held_apart_seed_13_edge_cut_fails_the_gate() -> None:
    """Bench group edge_cuts, seed 13, case 7 (held apart, passed by align-7): a cut 134 s long,
    30 s before the end of a 40-minute stream, 3 echoes after it. The search finds two thin
    stretches at the end (3 anchors at +298 s on chat typed while the removed audio played, then 3
    at +132 s, the cut's length); joined, the first one's zone lay after its own first anchor, so
    the gate measured 25 s from there to the last message while the curve is off over the 30 s from
    the cut to the stream's end. The gate must fail it, measuring at least as much as the truth."""
    from chatlab.align.bench import group_cases, wrong_stretch

    case = make_case(**group_cases("edge_cuts", 8, 13)[7])
    al = estimate_offsets(case.words, case.chat, CFG)
    wrong = wrong_stretch(al.curve, case.truth)
    assert wrong >= 30.0  # what the gate must catch
    problems = verdict(al, CFG)
    assert any("at the stream's end" in p and "1272..1430 s" in p for p in problems), problems
    assert _edge_reach(problems) >= wrong


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_thin_stretch_after_a_cut_near_the_end_fails_the_gate(seed: int) -> None:
    """Built, not drawn: a cut 34 s before the end of a 12-minute stream, only 3 of the echoes
    after it kept, and no message in the last 14 s (the stream goes on past its chat). The curve
    is off by the cut's 60 s from the cut to the stream's end; the gate must fail the VOD at the
    stream's end and measure the stretch to the stream's end, not to the last message."""
    from chatlab.align.bench import wrong_stretch

    minutes = 12.0
    case = make_case(seed, minutes, offset_s=50.0, drift_s_per_h=0.0, cut_at_s=(minutes * 60 - 34.0,), cut_len_s=(60.0,),
                     msgs_per_min=80.0, splice="bare")
    (cut,) = case.params["cut_at_audio_s"]
    end = case.truth.segments[-1].end_s
    echo = pl.col("echo_line_end_s")
    after = case.chat.filter(echo >= cut).sort("t_s")["msg_id"][:3].to_list()
    chat = case.chat.filter((echo.is_null() | (echo < cut) | pl.col("msg_id").is_in(after)) & (pl.col("t_s") <= end - 14.0))
    assert len(after) == 3 and chat["t_s"].max() < end - 14.0 + 1e-9
    al = estimate_offsets(case.words, chat, CFG)
    wrong = wrong_stretch(al.curve, case.truth)
    assert wrong >= 30.0
    problems = verdict(al, CFG)
    assert any("at the stream's end" in p for p in problems), problems
    assert _edge_reach(problems) >= wrong
