"""Alignment on real read speech (FLEURS sentences, chatlab_tests/data/real/speech) transcribed
by the bundled Whisper: the real path, Whisper's word times included, against speech ends
measured on the audio. One language, with and without a cut (about 20 s of CPU)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from chatlab.align.bench import score, word_coverage, wrong_stretch
from chatlab.align.config import AlignConfig
from chatlab.align.estimate import estimate_offsets, verdict
from chatlab.align.realspeech import LANGUAGES, DelayLaw, delay_law, load_clips, make_real_case, speech_folder, transcribe_audio
from chatlab.align.synth import DELAY_MEDIAN_S

CFG = AlignConfig()


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory):
    from chatlab.asr import model as asr_model
    from chatlab.asr.engine import EngineConfig, make_engine

    d = tmp_path_factory.mktemp("asr-models")
    asr_model.bundled_model(d)
    return make_engine(EngineConfig(), d)


def test_clips_and_their_texts_are_there() -> None:
    """Counted without chatlab: 10 clips a language, each with its reference text."""
    folder = speech_folder()
    for lang in ("en", "de", "fr", "es", "pt"):
        assert len(list(folder.glob(f"fleurs-{lang}-*.ogg"))) == 10
        assert len(list(folder.glob(f"fleurs-{lang}-*.txt"))) == 10
    clips = load_clips("en")
    assert all(0.0 <= c.speech_start_s < c.speech_end_s <= len(c.audio) / 16_000 for c in clips)
    assert 80 < sum(len(c.audio) for c in clips) / 16_000 < 100  # ~1.5 min of English


def test_delay_laws_differ_by_stream_and_keep_the_pinned_median() -> None:
    """The bench does not hand the fitter its own assumption: streams draw lognormal, gamma and
    floor-plus-lognormal laws of random spread; all share the median the setting pins."""
    laws = [delay_law(seed, lang) for seed in range(6) for lang in LANGUAGES]
    assert {law.family for law in laws} == {"lognormal", "gamma", "floor+lognormal"}
    assert len({round(law.spread, 3) for law in laws}) > 20
    rng = np.random.default_rng(0)
    for law in (DelayLaw("gamma", 2.0), DelayLaw("floor+lognormal", 0.9, 2.0), DelayLaw("lognormal", 0.8), DelayLaw("lognormal", 0.35)):
        d = np.array([law.sample(rng) for _ in range(20_000)])
        assert abs(np.median(d) - DELAY_MEDIAN_S) < 0.1, law
        assert d.min() >= 1.0 and (law.floor_s == 0 or d.min() >= law.floor_s)
    # the stream's audio (and so its transcript) does not depend on the law
    a, x = make_real_case("en", 0, cut=True)
    b, y = make_real_case("en", 0, cut=True)
    assert np.array_equal(x, y) and a.params["delay_law"] == delay_law(0, "en").describe()


def test_real_speech_stream_aligned(engine) -> None:
    case, audio = make_real_case("en", 0, cut=False)
    case = replace(case, words=transcribe_audio(audio, "en", engine))
    assert case.words.height > 150  # all ten sentences transcribed, not half
    al = estimate_offsets(case.words, case.chat, CFG)
    assert not verdict(al, CFG), al.problems
    assert np.median(score(al.curve, case.truth)["errors"]) < 0.5
    # coverage by the echoed word: of the echoes whose word the transcript has, the context text
    # holds nearly all; the counts nest (text-covered among transcribed <= transcribed <= paired)
    paired, by_time, heard, heard_in_text, in_text = word_coverage(case, al.curve, CFG)
    assert paired >= 30 and heard_in_text <= heard <= paired and heard_in_text <= in_text <= paired
    assert heard >= 0.8 * paired and heard_in_text >= 0.95 * heard


def test_real_speech_with_a_cut_is_right_or_refused(engine) -> None:
    """Whatever the fit makes of a 7-s cut in 105 s of speech, it never passes a curve that is
    wrong where pairs are made."""
    case, audio = make_real_case("en", 0, cut=True)
    case = replace(case, words=transcribe_audio(audio, "en", engine))
    al = estimate_offsets(case.words, case.chat, CFG)
    s = score(al.curve, case.truth)
    assert s["cut_errs"][0] <= 5.0 and len(al.curve.segments) == 2  # the jump is found and placed
    assert [p["anchors"] >= 8 for p in al.figures["segments"]] == [True, True]
    if not verdict(al, CFG):  # and a curve that passes is right wherever pairs are made
        assert wrong_stretch(al.curve, case.truth, al.curve.unpaired_zones()) < 30.0
