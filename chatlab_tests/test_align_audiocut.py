"""Audio-side evidence at a cut: a step in the background inside the cut's likelihood range places
a loose cut; no step (a splice between alike rooms), a step just outside the range (another change
of the room) or a cut the echoes pin leave the chat's placement as it is."""

from __future__ import annotations

import wave

import numpy as np
import pytest

from chatlab.align.audiocut import LOOSE_S, PIN_S, place_cut, refine_cuts, wav_reader
from chatlab.align.curve import CurveSegment, OffsetCurve
from chatlab.align.synth import make_case, splice_audio, splice_rooms

CUT = 180.0


def _case(seed: int):
    case = make_case(seed, 6.0, offset_s=30.0, drift_s_per_h=0.0, cut_at_s=(CUT,), cut_len_s=(40.0,), splice="bare")
    rooms = splice_rooms(case)
    return case, rooms, (lambda a, b: splice_audio(case, a, b, rooms=rooms))


@pytest.mark.parametrize("seed", [4, 5, 12])  # the splice changed the room: level (5, 12), level and spectrum (4)
def test_a_step_inside_the_range_places_the_cut(seed: int) -> None:
    case, rooms, audio = _case(seed)
    assert rooms["cut_changed_room"] == [True] and rooms["times"] == [CUT]
    r = place_cut(audio, CUT - 17.0, CUT + 9.0)
    assert r["used"], r
    assert abs(r["at_s"] - CUT) <= 1.0 and abs(r["step_db"]) >= 3.0


@pytest.mark.parametrize("seed", [0, 3, 16])  # the splice joined alike rooms (under 1 dB, same spectrum)
def test_no_step_no_move(seed: int) -> None:
    case, rooms, audio = _case(seed)
    assert rooms["cut_changed_room"] == [False]
    r = place_cut(audio, CUT - 17.0, CUT + 9.0)
    assert not r["used"] and ("no step" in r["why"] or "too small" in r["why"]), r


def test_a_step_just_outside_the_range_is_another_change() -> None:
    """Seed 1: the room changes at 180 s (the cut) and again at 301 s; a range that ends before
    301 s must not take that step."""
    case, rooms, audio = _case(1)
    assert 300.0 < rooms["times"][1] < 302.0
    r = place_cut(audio, 285.0, 298.0)
    assert not r["used"] and "outside" in r["why"], r


def _curve(cut_s: float, lo: float, hi: float) -> OffsetCurve:
    """Two segments, offsets 30 and 70 s (40 s removed at the cut), cut at audio `cut_s`."""
    return OffsetCurve((CurveSegment(0.0, cut_s + 30.0, 30.0, 0.0), CurveSegment(cut_s + 70.0, 500.0, 70.0, 0.0, lo, hi)))


def test_refine_moves_a_loose_cut_and_keeps_a_pinned_one() -> None:
    case, rooms, audio = _case(5)
    loose = _curve(CUT - 6.0, CUT - 17.0, CUT + 9.0)  # the chat put it 6 s early, anywhere in 26 s
    new, rep = refine_cuts(loose, audio)
    assert rep[0]["used"] and abs(rep[0]["moved_s"] - 6.0) <= 1.0
    a, b = new.segments
    g = b.start_s - b.offset_s
    assert abs(g - CUT) <= 1.0 and abs((a.end_s - a.offset_s) - g) < 1e-6  # both sides end and start at the cut
    # a 10-dB step alone in the window pins the cut: the range shrinks to it (chat there is paired again)
    assert rep[0]["pins"] and rep[0]["second_z"] < 6.0, rep
    assert (b.cut_lo_s, b.cut_hi_s) == (rep[0]["at_s"] - PIN_S, rep[0]["at_s"] + PIN_S)
    pinned = _curve(CUT - 2.0, CUT - 3.0, CUT - 3.0 + LOOSE_S)
    same, rep = refine_cuts(pinned, audio)
    assert same == pinned and not rep[0]["used"] and "pin" in rep[0]["why"]
    assert refine_cuts(loose, None) == (loose, [])


def test_wav_reader(tmp_path) -> None:
    p = tmp_path / "audio.wav"
    x = (np.sin(np.arange(16000 * 3) / 10.0) * 12000).astype("<i2")
    with wave.open(str(p), "wb") as w:
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(16000), w.writeframes(x.tobytes())
    y, sr = wav_reader(p)(1.0, 2.5)
    assert sr == 16000 and len(y) == 24000 and np.allclose(y, x[16000:40000] / 32768.0)
    assert len(wav_reader(p)(2.5, 9.0)[0]) == 8000  # clipped at the end
    bad = tmp_path / "u8.wav"
    with wave.open(str(bad), "wb") as w:
        w.setnchannels(1), w.setsampwidth(1), w.setframerate(8000), w.writeframes(bytes(800))
    with pytest.raises(ValueError, match="u8.wav: expected 16-bit"):
        wav_reader(bad)


def test_a_step_and_the_words_agree_or_pin_nothing() -> None:
    """A cut the transcript's broken sentence placed (`placed`): a background step at the same
    place pins it there; a step 12 s away, however clear, neither moves nor pins it (two kinds of
    evidence that disagree)."""
    case, rooms, audio = _case(5)
    agree = _curve(CUT + 0.5, CUT - 17.0, CUT + 9.0)
    new, rep = refine_cuts(agree, audio, placed=frozenset({1}))
    b = new.segments[1]
    assert rep[0]["used"] and rep[0]["pins"] and abs((b.start_s - b.offset_s) - (CUT + 0.5)) < 1e-6, rep
    assert (b.cut_lo_s, b.cut_hi_s) == (CUT + 0.5 - PIN_S, CUT + 0.5 + PIN_S)
    apart = _curve(CUT - 12.0, CUT - 17.0, CUT + 9.0)
    same, rep = refine_cuts(apart, audio, placed=frozenset({1}))
    assert same == apart and not rep[0]["used"] and "disagree" in rep[0]["why"], rep
    moved, rep = refine_cuts(apart, audio)  # the same step with no words' place: it pins the cut
    assert rep[0]["pins"] and abs(moved.segments[1].start_s - moved.segments[1].offset_s - CUT) <= 1.0
