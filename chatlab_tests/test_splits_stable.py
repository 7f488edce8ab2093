"""Near-duplicate fingerprints are stable across library versions: stored ones keep matching."""

from __future__ import annotations

import polars as pl

from chatlab.align.splits import fingerprint

TEXT = "the quick brown fox jumps over the lazy dog and then the streamer said hello chat how are you all doing today"
# Fixed forever: fingerprints stored in `splits` are compared with those of VODs added years later.
GOLDEN = [163381471575756314, 60056592419042498, 153638289171633173, 36935534230569206, 311543243595996020, 419332179342802420]


def _words() -> pl.DataFrame:
    words = TEXT.split()
    return pl.DataFrame({"word": words, "start_s": [float(i) for i in range(len(words))]})


def test_fingerprint_is_a_fixed_function_of_the_words():
    assert fingerprint(_words())[:6] == GOLDEN


def test_fingerprint_does_not_use_polars_hash(monkeypatch):
    # Polars does not promise its hash across versions; an upgrade must not move a fingerprint.
    def changed(self, *args, **kwargs):
        raise AssertionError("Polars' hash is not stable across versions")

    monkeypatch.setattr(pl.Expr, "hash", changed)
    monkeypatch.setattr(pl.Series, "hash", changed)
    assert fingerprint(_words())[:6] == GOLDEN
