"""ASR library and CLI: model assembly, windows, quality measures, bad input, and one real
transcription of a short generated clip (through `chatlab transcribe --json`)."""

from __future__ import annotations

import json
import math
import wave
from pathlib import Path

import numpy as np
import pytest

from chatlab.asr import model as asr_model
from chatlab.asr import quality
from chatlab.asr.bench import align_tokens, score, speak, wer, write_wav16
from chatlab.asr.engine import EngineConfig, Segment, WindowResult, Word, _split_at_pauses, make_engine
from chatlab.asr.transcribe import SAMPLE_RATE, transcribe_file, windows

SCRIPT = (
    (0.8, "Welcome back everyone, today we are going into the castle."),
    (2.5, "I think the dragon is hiding behind the bridge."),
    (1.5, "Thank you so much for the follow, I really appreciate it."),
)


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled model assembled once for the whole session."""
    d = tmp_path_factory.mktemp("asr-models")
    asr_model.bundled_model(d)
    return d


@pytest.fixture(scope="session")
def speech_clip(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """About 15 s of TTS speech as a 16 kHz WAV, with sentence onsets as truth."""
    path = tmp_path_factory.mktemp("asr-clip") / "speech.wav"
    return path, speak(SCRIPT, path)


class StubEngine:
    """An engine that returns canned segments per window, for tests that need no model."""

    model_name = "stub"
    version = "stub 0"

    def __init__(self, make_segments=None, speech_share: float = 1.0) -> None:
        self.config = EngineConfig()
        self.calls: list[tuple[int, str | None]] = []
        self.make_segments = make_segments or (lambda n: [])
        self.speech_share = speech_share

    def load(self) -> None:
        pass

    def transcribe_window(self, audio: np.ndarray, language: str | None) -> WindowResult:
        self.calls.append((len(audio), language))
        dur = len(audio) / SAMPLE_RATE
        return WindowResult(self.make_segments(dur), "en", 0.99, dur * self.speech_share)


def _seg(start: float, text: str, step: float = 0.4, lp: float = -0.2, cr: float = 1.4) -> Segment:
    toks = text.split()
    words = [Word(start + i * step, start + i * step + step * 0.8, " " + w, 0.9) for i, w in enumerate(toks)]
    return Segment(start, words[-1].end if words else start, " " + text, lp, 0.01, cr, words)


# ---- model --------------------------------------------------------------------------------------

def test_bundled_model_is_assembled_once_and_verified(models_dir: Path) -> None:
    d = models_dir / asr_model.BUNDLED_NAME
    assert {"model.bin", "config.json", "tokenizer.json", "vocabulary.json", asr_model.STAMP} <= {p.name for p in d.iterdir()}
    assert (d / "model.bin").stat().st_size == asr_model.MODEL_SIZE
    mtime = (d / "model.bin").stat().st_mtime_ns
    assert asr_model.bundled_model(models_dir, verify=True) == d  # full re-hash matches
    assert (d / "model.bin").stat().st_mtime_ns == mtime  # reused, not rebuilt
    assert asr_model.model_fingerprint(d) == "sha256:" + asr_model.MODEL_SHA256[:12]


def test_damaged_model_is_rebuilt(tmp_path: Path) -> None:
    d = asr_model.bundled_model(tmp_path)
    with open(d / "model.bin", "r+b") as f:
        f.truncate(1000)  # size no longer matches the stamp
    assert asr_model.bundled_model(tmp_path) == d
    assert (d / "model.bin").stat().st_size == asr_model.MODEL_SIZE


def test_model_dir_must_be_ctranslate2(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="model.bin"):
        asr_model.resolve_model(str(tmp_path / "nope"), tmp_path)


def test_whisperx_missing_names_what_is_missing(models_dir: Path) -> None:
    with pytest.raises(RuntimeError, match="whisperx.*alignment model"):
        make_engine(EngineConfig(backend="whisperx"), models_dir)
    with pytest.raises(ValueError, match="unknown ASR backend"):
        make_engine(EngineConfig(backend="nope"), models_dir)


# ---- windows and chunked transcription ------------------------------------------------------------

def test_windows_cut_at_silence_and_keep_every_sample() -> None:
    sr = SAMPLE_RATE
    rng = np.random.default_rng(0)
    x = (rng.standard_normal(sr * 50) * 0.3).astype(np.float32)
    x[int(17.0 * sr) : int(17.6 * sr)] = 0.0  # the only quiet spot in the search range of window 1
    blocks = (x[i : i + sr * 7] for i in range(0, len(x), sr * 7))
    out = list(windows(blocks, window_s=20, search_s=6))
    assert sum(len(a) for _, a in out) == len(x)
    assert [o for o, _ in out] == [0] + list(np.cumsum([len(a) for _, a in out])[:-1])
    assert 17.0 <= out[1][0] / sr <= 17.6
    assert all(len(a) <= 20 * sr for _, a in out)


def test_transcribe_file_shifts_window_times_and_keeps_language(tmp_path: Path) -> None:
    path = tmp_path / "long.wav"
    write_wav16(path, np.random.default_rng(1).standard_normal(SAMPLE_RATE * 25).astype(np.float32) * 0.1)
    eng = StubEngine(lambda dur: [_seg(1.0, "hello there chat")])
    t = transcribe_file(path, eng, window_s=10, search_s=2)
    assert len(t.windows) == 3 and len(eng.calls) == 3
    starts = [s.start for s in t.segments]
    assert starts[0] == pytest.approx(1.0)
    assert [round(s - w[0], 6) for s, w in zip(starts, t.windows)] == [1.0, 1.0, 1.0]
    assert all(w.start >= s.start for s in t.segments for w in s.words)
    assert eng.calls[0][1] is None and eng.calls[1][1] == "en"  # detected once, then fixed
    assert t.duration == pytest.approx(25.0, abs=1e-3)


def test_split_at_pauses() -> None:
    s = _seg(0.0, "one two three")
    s.words[2].start, s.words[2].end = 5.0, 5.3
    parts = _split_at_pauses(s, 1.0)
    assert [p.text for p in parts] == [" one two", " three"]
    assert parts[1].start == 5.0 and parts[0].avg_logprob == s.avg_logprob


# ---- bad input ----------------------------------------------------------------------------------

def test_zero_second_and_corrupt_files_are_clear_errors(tmp_path: Path) -> None:
    empty = tmp_path / "empty.wav"
    with wave.open(str(empty), "wb") as w:
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(SAMPLE_RATE)
    with pytest.raises(ValueError, match=r"empty\.wav.*0-second"):
        transcribe_file(empty, StubEngine())
    bad = tmp_path / "corrupt.mp4"
    bad.write_bytes(b"\x00\x01garbage" * 100)
    with pytest.raises(ValueError, match="corrupt.mp4"):
        transcribe_file(bad, StubEngine())
    with pytest.raises(FileNotFoundError):
        transcribe_file(tmp_path / "missing.wav", StubEngine())


def test_cli_reports_bad_file_without_traceback(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from chatlab.cli import main

    bad = tmp_path / "corrupt.wav"
    bad.write_bytes(b"RIFF\x00\x00")
    assert main(["--data", str(tmp_path / "data"), "transcribe", str(bad), "--json", "--model", "/nonexistent"]) == 1
    assert "chatlab: error:" in capsys.readouterr().err


# ---- quality measures -----------------------------------------------------------------------------

def test_quality_passes_normal_speech_and_fails_silence() -> None:
    lines = ["we are going into the castle now chat", "look at that bridge it is so dark", "I need a better sword for this",
             "my soup is getting cold hold on", "thanks for the follow I appreciate it", "why is the wizard so strong"]
    segs = [_seg(i * 5.0, text) for i, text in enumerate(lines)]
    m = quality.measure(segs, duration_s=40.0, speech_s=28.0)
    ok, reasons = quality.verdict(m)
    assert ok, reasons
    ok, reasons = quality.verdict(quality.measure([], duration_s=60.0, speech_s=0.0))
    assert not ok and "speech detected 0.0s" in reasons[0]


def test_quality_fails_a_hallucination_loop() -> None:
    loop = " ".join(["thank you for watching"] * 12)
    segs = [_seg(0.0, "okay chat let's start"), _seg(3.0, loop, step=0.25, cr=3.1)]
    m = quality.measure(segs, duration_s=20.0, speech_s=16.0)
    ok, reasons = quality.verdict(m)
    assert not ok
    assert m["loop_share"] > 0.8 and m["high_compression_share"] > 0.8
    assert any("loop_share" in r for r in reasons) and any("compression" in r for r in reasons)


def test_loop_mask_spares_short_natural_repeats() -> None:
    toks = quality.normalise_words("let's go let's go okay no no no we win")
    assert not any(quality.loop_mask(toks))
    toks = quality.normalise_words("the end " * 10)
    mask = quality.loop_mask(toks)
    assert mask[:2] == [False, False] and all(mask[2:])


def test_quality_fails_low_logprob_and_implausible_rate() -> None:
    segs = [_seg(0.0, "a b c d e f", lp=-1.6)]
    ok, reasons = quality.verdict(quality.measure(segs, duration_s=120.0, speech_s=100.0))
    assert not ok
    assert any("mean_logprob" in r for r in reasons) and any("words_per_minute" in r for r in reasons)
    assert any("speech_coverage" in r for r in reasons)


def test_thresholds_from_settings() -> None:
    th = quality.Thresholds.from_mapping({"min_mean_logprob": "-0.5", "loop_min_words": 4, "model": "x"})
    assert th.min_mean_logprob == -0.5 and th.loop_min_words == 4 and isinstance(th.loop_min_words, int)


def test_word_time_sanity() -> None:
    words = [Word(0.0, 0.3, " a", 1), Word(0.3, 0.3, " b", 1), Word(0.3, 0.3, " c", 1), Word(0.3, 0.3, " d", 1),
             Word(0.2, 6.0, " e", 1)]
    m = quality.word_time_measures(words)
    ok, reasons = quality.word_time_verdict(m)
    assert not ok and m["non_monotonic"] == 1 and m["longest_zero_length_run"] == 3 and m["long_words"] == 1


def test_wer_and_alignment() -> None:
    assert wer("a b c d".split(), "a x c d e".split()) == pytest.approx(0.5)
    d, pairs = align_tokens(list("abc"), list("abc"))
    assert d == 0 and pairs == [(0, 0), (1, 1), (2, 2)]
    truth = {"segments": [{"start": 1.0, "end": 2.0, "text": "Hello there.", "words": [
        {"word": "Hello", "start": 1.0, "end": 1.4}, {"word": "there.", "start": 1.5, "end": 2.0}]}]}
    sc = score(truth, [(" hello", 1.1), (" there", 1.45)])
    assert sc["wer"] == 0 and sc["median_start_error_s"] == pytest.approx(0.075)


# ---- real Whisper on a short clip ----------------------------------------------------------------

@pytest.mark.slow
def test_transcribe_cli_json_contract_and_accuracy(speech_clip, models_dir: Path, capsys: pytest.CaptureFixture) -> None:
    """The bundled model on ~15 s of generated speech, through `chatlab transcribe --json`."""
    from chatlab.cli import main

    path, truth = speech_clip
    model = str(models_dir / asr_model.BUNDLED_NAME)
    assert main(["transcribe", str(path), "--json", "--model", model, "--language", "en"]) == 0
    out = json.loads(capsys.readouterr().out)
    # The contract (DESIGN.md): exactly these keys.
    assert set(out) == {"duration", "language", "segments"}
    assert out["language"] == "en" and out["duration"] == pytest.approx(truth["segments"][-1]["end"] + 1.0, abs=1.0)
    for s in out["segments"]:
        assert set(s) == {"start", "end", "text", "avg_logprob", "no_speech_prob", "words"}
        for w in s["words"]:
            assert set(w) == {"word", "start", "end", "probability"}
            assert s["start"] - 1e-6 <= w["start"] <= w["end"] <= s["end"] + 1e-6

    hyp = [(w["word"], w["start"]) for s in out["segments"] for w in s["words"]]
    sc = score(truth, hyp)
    assert sc["wer"] <= 0.15, sc
    # Each sentence's first word within 0.4 s of where its sound begins.
    assert sc["timed_words"] == len(SCRIPT) and sc["median_start_error_s"] < 0.4, sc
    # No word invented in the pauses between sentences.
    spans = [(s["start"] - 0.5, s["end"] + 0.5) for s in truth["segments"]]
    assert all(any(a <= w["start"] <= b for a, b in spans) for s in out["segments"] for w in s["words"])
    words = [Word(w["start"], w["end"], w["word"], w["probability"]) for s in out["segments"] for w in s["words"]]
    assert quality.word_time_verdict(quality.word_time_measures(words))[0]
    assert not math.isnan(out["segments"][0]["avg_logprob"])
