"""Priors from the export: a VOD length that matches the recording gives a prior at the stream
latency; the prior chooses between peaks the echoes support and never makes one."""

from __future__ import annotations

import polars as pl

from chatlab.align.config import AlignConfig
from chatlab.align.estimate import estimate_offsets, verdict
from chatlab.align.prior import LATENCY_S, Prior, export_length_s, prior_from_export
from chatlab.align.synth import make_case

CFG = AlignConfig()


def test_prior_only_when_the_lengths_match() -> None:
    assert export_length_s({"video_start": 120, "video_end": 3720}) == 3600.0
    assert export_length_s({"video_duration": "1h2m3s"}) == 3723.0
    assert export_length_s({"video_length": 59}) == 59.0
    assert export_length_s({}) is None
    p, why = prior_from_export({"video_start": 0, "video_end": 3600}, 3601.0)
    assert p is not None and p.offset_s == LATENCY_S and why == "matched"
    p, why = prior_from_export({"video_duration": "1h0m0s"}, 3000.0)
    assert p is None and "not the VOD" in why
    assert prior_from_export({}, 3600.0) == (None, "the export names no VOD length")


def test_prior_never_makes_the_answer() -> None:
    """A prior far from the truth leaves the estimate where the echoes put it, and the figures
    say how far apart they are."""
    case = make_case(41, 20.0, offset_s=900.0, drift_s_per_h=0.0, msgs_per_min=40.0)
    plain = estimate_offsets(case.words, case.chat, CFG)
    leaned = estimate_offsets(case.words, case.chat, CFG, prior=Prior(3.0, 3.0, "test"))
    assert abs(leaned.offset_s - plain.offset_s) < 0.01 and not verdict(leaned, CFG)  # (threaded BLAS rounding)
    fig = leaned.figures["prior"]
    assert fig["windows_moved"] == 0 and fig["moved_s"] == 0.0 and 890 < fig["estimate_minus_prior_s"] < 905


def test_prior_chooses_between_peaks_the_echoes_support_alike() -> None:
    """A window's lag histogram with two peaks: equal ones, the prior takes the one near it; one
    clearly stronger, it wins wherever the prior is (the prior adds a few nats at most)."""
    import numpy as np

    from chatlab.align.coarse import SMOOTH_BINS, _peak_with_prior, _smooth

    lags = np.arange(-300.0, 301.0)
    m, centre = CFG.reaction_median_s, (SMOOTH_BINS - 1) / 2.0

    def window(strength_a: float, strength_b: float) -> tuple[np.ndarray, float]:
        raw = np.full(len(lags), 2.0)
        raw[np.searchsorted(lags, 4.0 + m)] += strength_a  # echoes at offset 4 s
        raw[np.searchsorted(lags, 64.0 + m)] += strength_b  # and at offset 64 s
        return _smooth(raw[None, :])[0], raw.sum()

    def offset(k: int) -> float:
        return float(lags[k] - centre - m)

    row, n = window(60.0, 60.0)
    assert abs(offset(_peak_with_prior(row, n, lags, Prior(3.0, 3.0, "t"), m)[0]) - 4.0) < 3
    assert abs(offset(_peak_with_prior(row, n, lags, Prior(63.0, 3.0, "t"), m)[0]) - 64.0) < 3
    row, n = window(40.0, 120.0)  # the echoes clearly put it at 64 s
    assert abs(offset(_peak_with_prior(row, n, lags, Prior(3.0, 3.0, "t"), m)[0]) - 64.0) < 3
