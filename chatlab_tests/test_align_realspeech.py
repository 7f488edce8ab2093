"""Alignment on real read speech (FLEURS sentences, chatlab_tests/data/real/speech) transcribed
by the bundled Whisper: the real path, Whisper's word times included, against speech ends
measured on the audio. One language, with and without a cut (about 20 s of CPU)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from chatlab.align.bench import score, wrong_stretch
from chatlab.align.config import AlignConfig
from chatlab.align.estimate import estimate_offsets, verdict
from chatlab.align.realspeech import load_clips, make_real_case, speech_folder, transcribe_audio

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


def test_real_speech_stream_aligned(engine) -> None:
    case, audio = make_real_case("en", 0, cut=False)
    case = replace(case, words=transcribe_audio(audio, "en", engine))
    assert case.words.height > 150  # all ten sentences transcribed, not half
    al = estimate_offsets(case.words, case.chat, CFG)
    assert not verdict(al, CFG), al.problems
    assert np.median(score(al.curve, case.truth)["errors"]) < 0.5


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
