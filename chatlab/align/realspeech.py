"""Alignment cases on real speech: read sentences (FLEURS clips, CC BY 4.0, committed under
chatlab_tests/data/real/speech with their reference texts) joined into one short stream per
language, optionally cut, transcribed by chatlab's own ASR stage (the bundled Whisper), with a
chat that echoes the words of the reference text after lognormal delays.

The truth does not come from chatlab's ASR: each clip is one sentence, and where its speech ends
is measured on the audio itself (the last 20-ms frame whose level is within 20 dB of the clip's
loudest), so the bench scores the real path (Whisper's word times and segmentation included)
against times Whisper did not make. The chat is generated (no real chat echoes these
recordings): messages and typos as chatlab.align.synth makes them. The delays follow a law drawn
per stream (`delay_law`): lognormal, gamma or a floor plus a lognormal, of random spread, so the
bench does not hand the fitter its own assumption; only the median is the pinned setting's
(`[align] reaction_median_s`: offset and a constant delay cannot be told apart from chat alone).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from chatlab.align.curve import CurveSegment, OffsetCurve
from chatlab.align.synth import DELAY_MEDIAN_S, DELAY_RANGE_S, NOISE, PLAIN, Case, _typo

SAMPLE_RATE = 16_000
LANGUAGES = ("en", "de", "fr", "es", "pt")
FRAME_S = 0.02
SPEECH_DB = -20.0  # a frame this close to the clip's loudest is speech (the clips' noise floor sits at -33..-43 dB)
TEMPLATES = ("{} lets go", "the {} again", "{} {}", "wait the {}??", "I love the {}", "{} Pog", "{}")


def speech_folder() -> Path:
    """The committed clips (a checkout's chatlab_tests/data/real/speech)."""
    return Path(__file__).resolve().parents[2] / "chatlab_tests" / "data" / "real" / "speech"


@dataclass(frozen=True)
class Clip:
    audio: np.ndarray  # 16 kHz mono float32
    text: str  # the reference transcription
    speech_start_s: float  # measured on the audio
    speech_end_s: float
    name: str


def _speech_span(x: np.ndarray) -> tuple[float, float]:
    n = len(x) // int(FRAME_S * SAMPLE_RATE)
    if n == 0:
        return 0.0, len(x) / SAMPLE_RATE
    rms = np.sqrt(np.mean(x[: n * int(FRAME_S * SAMPLE_RATE)].reshape(n, -1) ** 2, axis=1)) + 1e-9
    loud = np.flatnonzero(20 * np.log10(rms / rms.max()) > SPEECH_DB)
    return float(loud[0] * FRAME_S), float((loud[-1] + 1) * FRAME_S)


def load_clips(lang: str, folder: Path | None = None) -> list[Clip]:
    from chatlab.asr.transcribe import audio_blocks

    folder = folder or speech_folder()
    out = []
    for ogg in sorted(folder.glob(f"fleurs-{lang}-*.ogg")):
        x = np.concatenate(list(audio_blocks(ogg))).astype(np.float32)
        text = ogg.with_suffix(".txt").read_text(encoding="utf-8").strip()
        a, b = _speech_span(x)
        out.append(Clip(x, text, a, b, ogg.stem))
    if not out:
        raise FileNotFoundError(f"{folder}: no fleurs-{lang}-*.ogg clips")
    return out


@dataclass(frozen=True)
class DelayLaw:
    """How long viewers take from the end of a sentence to their echo, for one stream: median
    DELAY_MEDIAN_S, shape and spread random (real audiences differ: low-latency players, slow
    typists, a floor under which nobody types)."""

    family: str  # "lognormal", "gamma" or "floor+lognormal"
    spread: float  # lognormal sigma, or gamma shape
    floor_s: float = 0.0

    def sample(self, rng: np.random.Generator) -> float:
        m = DELAY_MEDIAN_S
        if self.family == "gamma":
            from scipy.stats import gamma

            d = rng.gamma(self.spread) * m / float(gamma(self.spread).median())
        else:
            d = self.floor_s + (m - self.floor_s) * float(np.exp(self.spread * rng.standard_normal()))
        return float(np.clip(d, *DELAY_RANGE_S))

    def describe(self) -> str:
        return f"{self.family} ({'shape' if self.family == 'gamma' else 'sigma'} {self.spread:.2f}" + (f", floor {self.floor_s:.2f} s)" if self.floor_s else ")")


def delay_law(seed: int, lang: str) -> DelayLaw:
    """The stream's delay law, from its own generator (the stream's audio does not depend on it)."""
    rng = np.random.default_rng([seed, 18, LANGUAGES.index(lang)])
    family = str(rng.choice(["lognormal", "gamma", "floor+lognormal"]))
    if family == "gamma":
        return DelayLaw(family, float(rng.uniform(2.0, 8.0)))
    if family == "floor+lognormal":
        return DelayLaw(family, float(rng.uniform(0.4, 0.9)), float(rng.uniform(0.8, 2.0)))
    return DelayLaw(family, float(rng.uniform(0.35, 0.8)))


def _keywords(text: str) -> list[str]:
    from chatlab.align.text import STOPWORDS

    words = [w.strip(".,;:!?\"'()[]«»¿¡").lower() for w in text.split()]
    return [w for w in words if len(w) >= 5 and w.isalpha() and w not in STOPWORDS] or [w for w in words if len(w) >= 4]


def make_real_case(lang: str, seed: int, *, cut: bool, offset_s: float | None = None, echoes_per_line: float = 4.0,
                   noise_per_min: float = 20.0, folder: Path | None = None, splice: str = "pause") -> tuple[Case, np.ndarray]:
    """(case with words left empty, the stream's audio): the words come from transcribing it.
    splice: where the cut falls: "pause" (it removes whole sentences and the pauses around them),
    "mid" (from inside one sentence's speech to inside a later one's: the ASR hears a broken
    sentence and a word cut off, a real splice for chatlab.align.splice)."""
    rng = np.random.default_rng([seed, 17, LANGUAGES.index(lang)])
    clips = load_clips(lang, folder)
    pieces, starts, ends, t = [], [], [], 0.0
    for c in clips:
        # a pause carries room noise as a recording does (digital silence is no stream's)
        pause = (rng.standard_normal(int(rng.uniform(0.6, 2.5) * SAMPLE_RATE)) * 0.003).astype(np.float32)
        pieces += [pause, c.audio / max(float(np.abs(c.audio).max()), 1e-6) * 0.5]  # clips recorded at different levels
        t += len(pause) / SAMPLE_RATE
        starts.append(t + c.speech_start_s)
        ends.append(t + c.speech_end_s)
        t += len(c.audio) / SAMPLE_RATE
    pieces.append((rng.standard_normal(SAMPLE_RATE) * 0.003).astype(np.float32))
    audio = np.concatenate(pieces)
    real_len = len(audio) / SAMPLE_RATE
    starts_a, ends_a = np.array(starts), np.array(ends)
    # a cut removes one or two whole sentences (and the pauses around them) from the middle
    cut_at, cut_len = None, 0.0
    if cut:
        k = int(rng.integers(3, len(clips) - 4))
        m = int(rng.integers(1, 3))
        cut_at = float(ends_a[k] + 0.3)
        cut_len = float(starts_a[k + m + 1] - 0.3 - cut_at)
        if splice == "mid":  # its own draws: the pause cases stay as they were
            srng = np.random.default_rng([seed, 18, LANGUAGES.index(lang)])
            cut_at = float(starts_a[k] + srng.uniform(0.3, 0.7) * (ends_a[k] - starts_a[k]))
            end = float(starts_a[k + m] + srng.uniform(0.3, 0.7) * (ends_a[k + m] - starts_a[k + m]))
            cut_len = end - cut_at
        a, b = int(cut_at * SAMPLE_RATE), int((cut_at + cut_len) * SAMPLE_RATE)
        audio = np.concatenate([audio[:a], audio[b:]])
    offset = float(rng.uniform(-600, 600)) if offset_s is None else float(offset_s)

    def to_audio(r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if cut_at is None:
            return r, np.zeros(len(r), bool)
        return np.where(r >= cut_at + cut_len, r - cut_len, r), (r >= cut_at) & (r < cut_at + cut_len)

    law = delay_law(seed, lang)
    rows = []
    for i, c in enumerate(clips):
        kws = _keywords(c.text)
        low = c.text.lower()
        for _ in range(int(rng.poisson(echoes_per_line))):
            d = law.sample(rng)
            kw = str(rng.choice(kws))
            w = _typo(kw, rng)
            # where in the sentence the word is said, by its place in the text (no word times here)
            frac = (low.find(kw) + len(kw) / 2) / max(len(low), 1)
            said = starts_a[i] + frac * (ends_a[i] - starts_a[i])
            rows.append((ends_a[i] + d, str(rng.choice(TEMPLATES)).format(w, w), "reaction", d, i, said, kw))
    for _ in range(int(noise_per_min * real_len / 60.0)):
        rows.append((float(rng.uniform(0, real_len)), str(rng.choice(NOISE + PLAIN)), "noise", np.nan, -1, np.nan, None))
    rows.sort(key=lambda r: r[0])
    t_real = np.array([r[0] for r in rows])
    line = np.array([r[4] for r in rows])
    t_sp, in_cut = to_audio(t_real)
    said, _ = to_audio(np.array([r[5] for r in rows]))
    le, le_in = to_audio(ends_a[np.maximum(line, 0)])
    ls, ls_in = to_audio(starts_a[np.maximum(line, 0)])
    echo = (line >= 0) & ~le_in & ~ls_in
    noise = line < 0
    chat = pl.DataFrame({
        "msg_id": [f"r{lang}{seed}-{i}" for i in range(len(rows))],
        "t_s": np.round(t_real + offset, 3),
        "text": [r[1] for r in rows],
        "user_hash": [f"u{int(x):04d}" for x in rng.integers(0, 300, len(rows))],
        "kind": [r[2] for r in rows],
        "t_speech": np.where(in_cut | noise, np.nan, t_sp),
        "reaction_delay_s": np.where(in_cut | noise, np.nan, [r[3] for r in rows]),
        "echo_line_start_s": np.where(echo, ls, np.nan),
        "echo_line_end_s": np.where(echo, le, np.nan),
        "echo_word_s": np.where(echo, said, np.nan),  # about when the echoed word was said (audio clock)
        "echo_word": [r[6] if e else None for r, e in zip(rows, echo)],  # the word itself, as the reference text spells it
    }).with_columns(pl.col(c).fill_nan(None) for c in ("t_speech", "reaction_delay_s", "echo_line_start_s", "echo_line_end_s", "echo_word_s"))
    if cut_at is None:
        truth = OffsetCurve((CurveSegment(offset, real_len + offset, offset, 0.0),))
        cuts_audio: list[float] = []
    else:
        truth = OffsetCurve((CurveSegment(offset, cut_at + offset, offset, 0.0),
                             CurveSegment(cut_at + cut_len + offset, real_len + offset, offset + cut_len, 0.0)))
        cuts_audio = [cut_at]
    params = {"lang": lang, "seed": seed, "minutes": round(real_len / 60, 2), "offset_s": offset, "cut_len_s": [round(cut_len, 2)] if cut else [],
              "cut_at_audio_s": cuts_audio, "sentences": len(clips), "messages": len(rows),
              "delay_law": law.describe(), "splices": [{"kind": splice}] if cut else []}
    return Case(pl.DataFrame(), chat, truth, params), audio


def transcribe_audio(audio: np.ndarray, lang: str, engine: Any) -> pl.DataFrame:
    """Words of `audio` as the pipeline's ASR stage gives them."""
    from chatlab.align.inputs import words_from_transcript_json
    from chatlab.asr.bench import write_wav16
    from chatlab.asr.transcribe import transcribe_file

    with tempfile.TemporaryDirectory(prefix="chatlab-realspeech-") as tmp:
        path = Path(tmp) / "stream.wav"
        write_wav16(path, audio)
        tr = transcribe_file(path, engine, language=lang)
    return words_from_transcript_json(tr.to_json())


def bundled_engine() -> Any:
    from chatlab import config as cfgmod
    from chatlab.asr.engine import EngineConfig, make_engine

    return make_engine(EngineConfig.from_mapping(cfgmod.section(cfgmod.load_config(), "asr")), cfgmod.layout().ensure().models)
