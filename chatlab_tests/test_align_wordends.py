"""Word ends followed on the audio (chatlab.align.wordends): an ASR end before the voice stops
moves to where it stops, never into the next word nor past MAX_EXTEND_S; a word stretched over a
pause loses its silent tail, so the pause that ends a sentence shows; noise alone moves nothing."""

from __future__ import annotations

import numpy as np
import polars as pl

from chatlab.align.inputs import prepare_words
from chatlab.align.wordends import MAX_EXTEND_S, refine_word_ends

SR = 16_000


def _audio(voiced: list[tuple[float, float]], length: float = 20.0, seed: int = 0):
    rng = np.random.default_rng(seed)
    t = np.arange(int(length * SR)) / SR
    x = rng.standard_normal(len(t)) * 0.003  # room noise
    for a, b in voiced:
        m = (t >= a) & (t < b)
        # a voice: harmonics of 140 Hz with a syllable rhythm (dips of ~60 ms, shorter than a pause)
        x[m] += 0.3 * np.sin(2 * np.pi * 140 * t[m]) * (0.55 + 0.45 * np.sin(2 * np.pi * 4 * t[m]))
    return lambda a, b: (x[max(0, int(a * SR)): max(0, int(b * SR))], SR)


def _words(rows):
    return pl.DataFrame(rows, schema={"seg_id": pl.Int64, "start_s": pl.Float64, "end_s": pl.Float64, "word": pl.String}, orient="row")


def test_an_early_end_follows_the_voice() -> None:
    audio = _audio([(1.0, 3.0), (1.0, 4.6), (8.0, 9.5)])
    words = _words([(0, 1.0, 2.0, "hello"), (0, 2.05, 3.1, "world."), (1, 8.0, 9.5, "next")])
    out, rep = refine_word_ends(words, audio)
    ends = out["end_s"].to_list()
    assert abs(ends[1] - 4.6) <= 0.06 and ends[0] == 2.0  # "hello" has no pause after it: left as it is
    assert abs(ends[2] - 9.5) <= 0.06  # already right: not moved past the voice
    assert rep["words_checked"] == 2 and rep["moved"] >= 1
    assert prepare_words(out)["sent_end_s"].max() >= 9.4


def test_never_into_the_next_word_nor_too_far() -> None:
    audio = _audio([(1.0, 9.0)])
    out, _ = refine_word_ends(_words([(0, 1.0, 2.0, "long"), (0, 6.5, 9.0, "next")]), audio)
    assert out["end_s"][0] <= 2.0 + MAX_EXTEND_S + 1e-9
    out, _ = refine_word_ends(_words([(0, 1.0, 2.0, "long"), (0, 2.5, 9.0, "next")]), audio)
    assert out["end_s"][0] <= 2.45 + 1e-9


def test_a_word_stretched_over_a_pause_is_trimmed() -> None:
    """Voice 1-3 s and 5-7 s; the ASR ran "three" to 4.9 s, over the pause: no pause, one sentence.
    Trimmed, the pause shows and the sentences split at 3 s."""
    audio = _audio([(1.0, 3.0), (5.0, 7.0)])
    words = _words([(0, 1.0, 2.0, "one"), (0, 2.0, 4.9, "three."), (0, 5.0, 7.0, "four")])
    assert prepare_words(words)["sent_id"].n_unique() == 1
    out, _ = refine_word_ends(words, audio)
    assert abs(out["end_s"][1] - 3.0) <= 0.06
    assert prepare_words(out)["sent_id"].n_unique() == 2


def test_noise_alone_moves_nothing() -> None:
    audio = _audio([])
    words = _words([(0, 1.0, 1.5, "ghost"), (0, 8.0, 8.4, "words")])
    out, rep = refine_word_ends(words, audio)
    assert out["end_s"].to_list() == [1.5, 8.4] and rep["moved"] == 0
