"""Measures of a transcript's trustworthiness, and the verdicts of the two checks built on them.

Mis-heard words and drifting timestamps poison training silently, so every number here is
reported whether the verdict is pass or fail. All inputs are plain lists (no Dagster)."""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from chatlab.asr.engine import Segment, Word

_TOKEN = re.compile(r"[^\w']+")


@dataclass(frozen=True)
class Thresholds:
    """Limits for ``asr_quality``; every field can be set in ``[asr]`` (or per VOD)."""

    min_speech_s: float = 5.0  # less VAD speech than this: nothing to learn from, fail
    min_speech_coverage: float = 0.5  # share of VAD speech time covered by transcribed words
    min_mean_logprob: float = -1.0  # duration-weighted mean of segment avg_logprob (Whisper's own fallback limit)
    compression_ratio_limit: float = 2.4  # a segment above this is "repetitive" (Whisper's limit)
    max_high_compression_share: float = 0.1  # share of transcribed time in such segments
    loop_min_repeats: int = 3  # an n-gram repeated this many times in a row is a loop …
    loop_min_words: int = 8  # … when the run covers at least this many words
    max_loop_share: float = 0.1  # share of words inside loops
    min_wpm: float = 40.0  # words per minute of speech time; conversational English is ~120-200
    max_wpm: float = 350.0
    word_pad_s: float = 0.4  # words are widened by the VAD's own speech padding to compare with it
    # word-timestamp sanity (the non-blocking check)
    max_word_s: float = 3.0
    max_long_word_share: float = 0.01
    max_zero_run: int = 3  # this many zero-length words in a row: the aligner gave up there

    @classmethod
    def from_mapping(cls, values: dict[str, Any]) -> "Thresholds":
        names = {f.name: f.type for f in dataclasses.fields(cls)}
        kw = {}
        for k, v in values.items():
            if k in names and v is not None:
                kw[k] = int(v) if names[k] in ("int", int) else float(v)
        return cls(**kw)


def normalise_words(text_or_words: str | Sequence[str]) -> list[str]:
    """Lower-case word tokens without punctuation (``"Let's go!"`` → ``["let's", "go"]``)."""
    if isinstance(text_or_words, str):
        text_or_words = [text_or_words]
    out: list[str] = []
    for t in text_or_words:
        out.extend(x for x in _TOKEN.split(t.lower().replace("’", "'")) if x and x != "'")
    return out


def loop_mask(tokens: Sequence[str], max_n: int = 8, min_repeats: int = 3, min_words: int = 8) -> list[bool]:
    """Which tokens sit inside a repetition loop: an n-gram (n ≤ ``max_n``) repeated at least
    ``min_repeats`` times in a row over at least ``min_words`` words. The first copy is kept as
    genuine; only the repeats are marked. A streamer's "let's go let's go" stays unmarked; Whisper's
    failure mode (one sentence twenty times) does not."""
    n_tok = len(tokens)
    mask = [False] * n_tok
    i = 0
    while i < n_tok:
        best_len, best_n = 0, 0
        for n in range(1, max_n + 1):
            if i + 2 * n > n_tok:
                break
            gram = tokens[i : i + n]
            k = 1
            while i + (k + 1) * n <= n_tok and tokens[i + k * n : i + (k + 1) * n] == gram:
                k += 1
            if k >= min_repeats and k * n >= min_words and k * n > best_len:
                best_len, best_n = k * n, n
        if best_len:
            for j in range(i + best_n, i + best_len):
                mask[j] = True
            i += best_len
        else:
            i += 1
    return mask


def _union_length(intervals: list[tuple[float, float]]) -> float:
    total = 0.0
    cur_s = cur_e = None
    for s, e in sorted(intervals):
        if cur_e is None or s > cur_e:
            if cur_e is not None:
                total += cur_e - cur_s
            cur_s, cur_e = s, e
        else:
            cur_e = max(cur_e, e)
    if cur_e is not None:
        total += cur_e - cur_s
    return total


def measure(segments: Sequence[Segment], duration_s: float, speech_s: float, th: Thresholds = Thresholds()) -> dict[str, float]:
    """Every figure ``asr_quality`` judges, over one VOD."""
    words: list[Word] = [w for s in segments for w in s.words]
    n_words = len(words)
    transcribed_s = _union_length([(w.start - th.word_pad_s, w.end + th.word_pad_s) for w in words])
    seg_dur = [max(s.end - s.start, 0.0) for s in segments]
    dur_total = sum(seg_dur)
    scored = [(d, s.avg_logprob) for d, s in zip(seg_dur, segments) if not math.isnan(s.avg_logprob)]
    wsum = sum(d for d, _ in scored)
    mean_logprob = (
        sum(d * lp for d, lp in scored) / wsum if wsum > 0 else (sum(lp for _, lp in scored) / len(scored) if scored else math.nan)
    )
    high_cr = sum(d for d, s in zip(seg_dur, segments) if s.compression_ratio > th.compression_ratio_limit)
    tokens = normalise_words([w.word for w in words]) if words else normalise_words([s.text for s in segments])
    mask = loop_mask(tokens, min_repeats=th.loop_min_repeats, min_words=th.loop_min_words)
    return {
        "duration_s": float(duration_s),
        "speech_s": float(speech_s),
        "speech_share": float(speech_s / duration_s) if duration_s > 0 else 0.0,
        "segments": float(len(segments)),
        "words": float(n_words),
        "transcribed_s": float(transcribed_s),
        "speech_coverage": float(min(1.0, transcribed_s / speech_s)) if speech_s > 0 else 0.0,
        "mean_logprob": float(mean_logprob),
        "mean_word_probability": float(sum(w.probability for w in words) / n_words) if n_words else math.nan,
        "max_compression_ratio": float(max((s.compression_ratio for s in segments), default=0.0)),
        "high_compression_share": float(high_cr / dur_total) if dur_total > 0 else 0.0,
        "loop_share": float(sum(mask) / len(mask)) if mask else 0.0,
        "words_per_minute": float(n_words / (speech_s / 60.0)) if speech_s > 0 else 0.0,
    }


def verdict(m: dict[str, float], th: Thresholds = Thresholds()) -> tuple[bool, list[str]]:
    """(passed, reasons it failed). Each reason names the figure, its value and the limit."""
    r: list[str] = []
    if m["speech_s"] < th.min_speech_s:
        r.append(f"speech detected {m['speech_s']:.1f}s < {th.min_speech_s:g}s (silence, music or noise only?)")
    else:
        if m["words"] == 0:
            r.append("no words transcribed from the detected speech")
        if m["speech_coverage"] < th.min_speech_coverage:
            r.append(f"speech_coverage {m['speech_coverage']:.2f} < {th.min_speech_coverage:g}")
        if not math.isnan(m["mean_logprob"]) and m["mean_logprob"] < th.min_mean_logprob:
            r.append(f"mean_logprob {m['mean_logprob']:.2f} < {th.min_mean_logprob:g}")
        if m["high_compression_share"] > th.max_high_compression_share:
            r.append(
                f"high_compression_share {m['high_compression_share']:.2f} > {th.max_high_compression_share:g} "
                f"(segments with compression ratio > {th.compression_ratio_limit:g}: repeated text)"
            )
        if m["loop_share"] > th.max_loop_share:
            r.append(f"loop_share {m['loop_share']:.2f} > {th.max_loop_share:g} (the same n-gram looping)")
        if m["words"] and not th.min_wpm <= m["words_per_minute"] <= th.max_wpm:
            r.append(f"words_per_minute {m['words_per_minute']:.0f} outside [{th.min_wpm:g}, {th.max_wpm:g}]")
    return (not r), r


def word_time_measures(words: Sequence[Word], th: Thresholds = Thresholds()) -> dict[str, float]:
    """Word-timestamp sanity over a VOD, words in transcript order."""
    backwards = sum(1 for a, b in zip(words, words[1:]) if b.start < a.start - 0.01)
    negative = sum(1 for w in words if w.end < w.start)
    zero = [w.end - w.start <= 0.0 for w in words]
    longest_zero = run = 0
    for z in zero:
        run = run + 1 if z else 0
        longest_zero = max(longest_zero, run)
    long_words = sum(1 for w in words if w.end - w.start > th.max_word_s)
    durs = sorted(w.end - w.start for w in words)
    return {
        "words": float(len(words)),
        "non_monotonic": float(backwards),
        "negative_length": float(negative),
        "zero_length_share": float(sum(zero) / len(words)) if words else 0.0,
        "longest_zero_length_run": float(longest_zero),
        "long_words": float(long_words),
        "long_word_share": float(long_words / len(words)) if words else 0.0,
        "median_word_s": float(durs[len(durs) // 2]) if durs else 0.0,
        "max_word_s": float(durs[-1]) if durs else 0.0,
    }


def word_time_verdict(m: dict[str, float], th: Thresholds = Thresholds()) -> tuple[bool, list[str]]:
    r = []
    if m["non_monotonic"]:
        r.append(f"{m['non_monotonic']:.0f} words start before the previous word")
    if m["negative_length"]:
        r.append(f"{m['negative_length']:.0f} words end before they start")
    if m["longest_zero_length_run"] >= th.max_zero_run:
        r.append(f"{m['longest_zero_length_run']:.0f} zero-length words in a row")
    if m["long_word_share"] > th.max_long_word_share:
        r.append(f"{m['long_word_share']:.1%} of words longer than {th.max_word_s:g}s")
    return (not r), r
