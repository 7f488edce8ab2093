"""Splices in the generator (synth) and the transcript-side evidence at a cut (align.splice)."""

from __future__ import annotations

import numpy as np
import polars as pl

from chatlab.align.bench import group_cases, score
from chatlab.align.config import AlignConfig
from chatlab.align.estimate import estimate_offsets, verdict
from chatlab.align.splice import PIN_S, gap_marks, mark_weights, place_in_range
from chatlab.align.synth import make_case

CFG = AlignConfig()


def _words(n: int = 400, trail_every: int = 0, low_every: int = 0, seed: int = 0) -> pl.DataFrame:
    """Read speech, 0.4 s a word, a sentence (and a segment) every 10 words; optionally a word
    that trails off every `trail_every` words and one the ASR is unsure of every `low_every`."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) * 0.4 + rng.uniform(0, 0.02, n)
    text = [("word" + str(i)) + ("." if i % 10 == 9 else "") for i in range(n)]
    prob = rng.uniform(0.7, 1.0, n)
    for i in range(n):
        if trail_every and i % trail_every == 3:
            text[i] = text[i].rstrip(".") + "..."
        if low_every and i % low_every == 5:
            prob[i] = 0.2
    return pl.DataFrame({"seg_id": np.arange(n) // 10, "start_s": t, "end_s": t + 0.3, "word": text, "probability": prob})


def _splice(words: pl.DataFrame, i: int) -> pl.DataFrame:
    """Word i trails off and word i+1 is unsure: what Whisper gives at a mid-sentence splice."""
    text, prob = words["word"].to_list(), words["probability"].to_numpy().copy()
    text[i] = text[i].rstrip(".") + "..."
    prob[i + 1] = 0.1
    return words.with_columns(pl.Series("word", text), pl.Series("probability", prob))


def test_a_broken_sentence_pins_the_cut() -> None:
    """A trailing word and an unsure one at one gap, in a range of 30 s, pin the cut there when
    the transcript shows them rare (nearly 7 minutes of it); in under 3 minutes the same marks are
    too few to tell rare from chance, and they only move it."""
    w = _splice(_words(1000, low_every=37), 151)  # between words 151 and 152: about 60.7 s
    t, marks = gap_marks(w)
    r = place_in_range(t, marks, mark_weights(marks), 45.0, 75.0)
    assert r["used"] and r["pins"], r
    assert set(r["marks"]) == {"trail", "low"} and abs(r["at_s"] - 60.7) < 0.3
    t, marks = gap_marks(_splice(_words(400, low_every=37), 151))
    r = place_in_range(t, marks, mark_weights(marks), 45.0, 75.0)
    assert r["used"] and not r["pins"] and abs(r["at_s"] - 60.7) < 0.3, r


def test_one_mark_moves_nothing_and_pins_nothing() -> None:
    """A lone unsure word in the range is what chance gives (one every 37 words here)."""
    w = _words(low_every=37)
    prob = w["probability"].to_numpy().copy()
    prob[152] = 0.1
    t, marks = gap_marks(w.with_columns(pl.Series("probability", prob)))
    r = place_in_range(t, marks, mark_weights(marks), 45.0, 75.0)
    assert not r["used"] and not r.get("pins"), r


def test_marks_common_in_this_transcript_do_not_pin() -> None:
    """A speaker who trails off every 20 words with an unsure word nearby: the splice's marks are
    this VOD's chance level, so they neither pin nor move the cut."""
    w = _splice(_words(trail_every=20, low_every=20), 151)
    t, marks = gap_marks(w)
    r = place_in_range(t, marks, mark_weights(marks), 45.0, 75.0)
    assert not r["used"], r


def test_the_words_never_place_a_cut_outside_its_range() -> None:
    w = _splice(_words(), 151)
    t, marks = gap_marks(w)
    r = place_in_range(t, marks, mark_weights(marks), 64.0, 90.0)
    assert not r["used"] and (r.get("at_s") is None or 64.0 <= r["at_s"] <= 90.0), r


def test_generated_splices_vary() -> None:
    """Cuts land in pauses or mid-sentence; a mid-sentence one trails off, leaves an unsure word,
    starts a new segment, or leaves no mark at all, each in some cases and not in others."""
    rows = [make_case(s, 10.0, cuts=1).params["splices"][0] for s in range(40)]
    kinds = {r["kind"] for r in rows}
    assert kinds == {"pause", "mid"}
    mid = [r for r in rows if r["kind"] == "mid"]
    for mark in ("trail", "low", "new_segment"):
        assert 0 < sum(r[mark] for r in mid) < len(mid), mark
    assert any(not (r["trail"] or r["low"] or r["new_segment"]) for r in mid)
    assert not any(r["trail"] or r["low"] or r["new_segment"] or r["word_cut"] for r in rows if r["kind"] == "pause")


def test_a_mid_sentence_splice_cuts_the_word_it_falls_in() -> None:
    """No word spans the splice: a word the cut falls in ends (or starts) there."""
    for seed in range(8):
        case = make_case(seed, 8.0, cut_at_s=(200.0,), cut_len_s=(30.0,), splice="mid")
        w = case.words.sort("start_s")
        assert ((w["start_s"] < 200.0 - 1e-6) & (w["end_s"] > 200.0 + 0.2)).sum() == 0
        assert (w["end_s"] >= w["start_s"]).all()


def test_pause_splices_fall_between_lines() -> None:
    for seed in range(8):
        case = make_case(seed, 8.0, cut_at_s=(200.0,), cut_len_s=(30.0,), splice="pause")
        (g,) = case.params["cut_at_audio_s"]
        assert abs(g - 200.0) < 10.0
        w = case.words
        assert w.filter((pl.col("start_s") < g) & (pl.col("end_s") > g)).height == 0


def test_the_words_pin_a_cut_the_echoes_leave_loose() -> None:
    """Bench `short` seed 0 case 11 with a bare splice: the echoes leave the cut 20 s loose and the
    gate fails it (test_align's audio test). The same case with a broken sentence at the splice:
    the cut is placed at it, pinned, and the gate passes a curve right everywhere."""
    from chatlab.align.bench import wrong_stretch

    p = group_cases("short", 12, 0)[11] | {"offset_s": 20.0, "drift_s_per_h": 0.0, "splice": "bare"}
    case = make_case(**p)
    assert verdict(estimate_offsets(case.words, case.chat, CFG), CFG)
    (g,) = case.params["cut_at_audio_s"]
    w = case.words.sort("start_s")
    i = int(np.flatnonzero(w["end_s"].to_numpy() <= g)[-1])
    al = estimate_offsets(_splice(w, i), case.chat, CFG)
    (rep,) = al.figures["words_at_cuts"]
    assert rep["used"] and rep["pins"] and rep["range_now"][1] - rep["range_now"][0] <= 2 * PIN_S, rep
    assert score(al.curve, case.truth)["cut_errs"][0] <= 1.0
    assert not verdict(al, CFG) and wrong_stretch(al.curve, case.truth) < 30.0


def _trail_at(words: pl.DataFrame, i: int) -> pl.DataFrame:
    text = words["word"].to_list()
    text[i] = text[i].rstrip(".") + "..."
    return words.with_columns(pl.Series("word", text))


def test_one_rare_mark_moves_a_cut_the_echoes_leave_flat() -> None:
    """One word trails off in a 30-s range and none does anywhere else in the transcript: chance
    would put so rare a mark in 75 gaps about a third of the time, so it does not pin the cut, but
    the cut is likelier there than anywhere else in the range (posterior 0.75), so it moves there."""
    t, marks = gap_marks(_trail_at(_words(400), 151))
    r = place_in_range(t, marks, mark_weights(marks), 45.0, 75.0)
    assert r["used"] and not r["pins"] and abs(r["at_s"] - 60.7) < 0.3 and r["posterior"] > 0.5, r
    assert r["chance"] > 0.05  # what the rule before asked of a move


def test_the_echoes_outweigh_one_mark_where_they_argue_against_it() -> None:
    """The same mark where the echoes make a cut 8 nats less likely (a sentence there is echoed at
    the other side's offset): the cut stays where the echoes put it."""
    t, marks = gap_marks(_trail_at(_words(400), 151))
    against = lambda x: np.where(np.abs(x - 60.7) < 3.0, -8.0, 0.0)  # noqa: E731
    r = place_in_range(t, marks, mark_weights(marks), 45.0, 75.0, against)
    assert not r["used"] and r["posterior"] < 0.5, r


def test_cut_ll_at_follows_the_places_and_their_spans() -> None:
    """The echoes' profile: a time takes its place by the sentences ended before it, or a better
    place whose span holds it (a sentence straddling the cut); no profile: flat. Not in the JSON."""
    from chatlab.align.curve import CurveSegment, OffsetCurve

    s = CurveSegment(100.0, 200.0, 10.0, 0.0, 50.0, 90.0, cut_grid=(60.0, 70.0, 80.0), cut_place_lo=(50.0, 58.0, 68.0, 78.0),
                     cut_place_hi=(55.0, 65.0, 75.0, 90.0), cut_ll=(-9.0, -4.0, 0.0, -6.0))
    assert list(s.cut_ll_at(np.array([52.0, 62.0, 72.0, 85.0, 69.0]))) == [-9.0, -4.0, 0.0, -6.0, 0.0]
    assert list(CurveSegment(0.0, 1.0, 0.0, 0.0).cut_ll_at(np.array([1.0, 2.0]))) == [0.0, 0.0]
    row = OffsetCurve((CurveSegment(0.0, 90.0, 10.0, 0.0), s)).to_list()[1]
    assert not {"cut_grid", "cut_place_lo", "cut_place_hi", "cut_ll"} & set(row) and row["cut_lo_s"] == 50.0


def test_the_words_place_a_cut_no_echo_pins() -> None:
    """Cut sweep (seed 0, 16 messages a minute, case 9): 10 and 11 echoes either side, but none
    within 33 s of the cut; the splice left a word trailing off at it and the echoes' likelihood is
    flat there, so the cut moves onto it (it was 12.5 s off at the echoes' midpoint). The range
    stays as the echoes leave it, so the gate still refuses the VOD."""
    sd = 770_000 + 16 * 100 + 9
    length = float(np.random.default_rng([sd, 8]).uniform(8, 120))
    case = make_case(sd, 3.0, offset_s=100.0, cut_at_s=(85.0,), cut_len_s=(length,), msgs_per_min=16.0)
    al = estimate_offsets(case.words, case.chat, CFG)
    (rep,) = al.figures["words_at_cuts"]
    assert rep["used"] and not rep["pins"] and "trail" in rep["marks"], rep
    assert score(al.curve, case.truth)["cut_errs"][0] <= 1.0
    assert verdict(al, CFG)
