"""`chatlab bench asr`: what the transcript stage costs over the bare engine, and how right it is.

Speed: wall time of ``transcribe_file`` (windows, segment splitting, our data classes) against a
plain ``BatchedInferencePipeline.transcribe`` (or ``WhisperModel.transcribe``) call with the same
loaded model and keyword arguments on the same file, after model load and one warm-up run; each
side runs ``repeat`` times in ABBA order and the best time is kept (a shared CPU only ever adds
time); CPU time is reported beside wall time. Accuracy: WER and median word-start error against the ground truth of a demo stream."""

from __future__ import annotations

import json
import math
import statistics
import tempfile
import time
import wave
from pathlib import Path
from collections.abc import Sequence
from typing import Any

from chatlab.asr.quality import normalise_words

# A fallback script when chatlab.demo is not available: (pause before, sentence).
FALLBACK_SCRIPT = (
    (1.0, "Welcome back to the stream everyone, today we are going to try the hardest level in the game."),
    (1.5, "Chat, I think the boss has two phases, so we need to save the potions for later."),
    (2.0, "Okay that was a terrible jump, let me try that again."),
    (1.2, "Thanks for the follow, I really appreciate it."),
    (3.0, "Does anyone know where the secret door is? I remember it was somewhere near the waterfall."),
    (1.0, "Alright, here we go, last attempt before the break."),
)


# ---- scoring -------------------------------------------------------------------------------

def align_tokens(ref: list[str], hyp: list[str]) -> tuple[int, list[tuple[int, int]]]:
    """Levenshtein alignment of two token lists: (edit distance, matched (ref_i, hyp_j) pairs)."""
    n, m = len(ref), len(hyp)
    prev = list(range(m + 1))
    back = [bytearray(m + 1) for _ in range(n + 1)]  # 0 diag, 1 up (deletion), 2 left (insertion)
    for j in range(1, m + 1):
        back[0][j] = 2
    for i in range(1, n + 1):
        cur = [i] + [0] * m
        back[i][0] = 1
        r = ref[i - 1]
        for j in range(1, m + 1):
            d = prev[j - 1] + (r != hyp[j - 1])
            u = prev[j] + 1
            left = cur[j - 1] + 1
            if d <= u and d <= left:
                cur[j] = d
            elif u <= left:
                cur[j], back[i][j] = u, 1
            else:
                cur[j], back[i][j] = left, 2
        prev = cur
    pairs = []
    i, j = n, m
    while i > 0 or j > 0:
        b = back[i][j]
        if b == 0:
            if ref[i - 1] == hyp[j - 1]:
                pairs.append((i - 1, j - 1))
            i, j = i - 1, j - 1
        elif b == 1:
            i -= 1
        else:
            j -= 1
    return prev[m], pairs[::-1]


def wer(ref: list[str], hyp: list[str]) -> float:
    return align_tokens(ref, hyp)[0] / len(ref) if ref else math.nan


def _timed_tokens(words: list[tuple[str, float]]) -> tuple[list[str], list[float]]:
    """Normalise (word, start) pairs into tokens, each token keeping its word's start."""
    toks, starts = [], []
    for w, s in words:
        for t in normalise_words(w):
            toks.append(t)
            starts.append(s)
    return toks, starts


def score(truth: dict[str, Any], hyp_words: list[tuple[str, float]]) -> dict[str, float]:
    """WER against the truth script; median |start error| over words that match exactly (word
    times from the truth's ``words`` when present, else each sentence's first word only)."""
    ref_words: list[tuple[str, float]] = []
    first_only = not all(s.get("words") for s in truth["segments"])
    for s in truth["segments"]:
        if not first_only:
            ref_words.extend((w["word"], float(w["start"])) for w in s["words"])
        else:
            ws = s["text"].split()
            ref_words.extend((w, float(s["start"]) if k == 0 else math.nan) for k, w in enumerate(ws))
    ref, ref_t = _timed_tokens(ref_words)
    hyp, hyp_t = _timed_tokens(hyp_words)
    dist, pairs = align_tokens(ref, hyp)
    errs = [abs(hyp_t[j] - ref_t[i]) for i, j in pairs if not math.isnan(ref_t[i])]
    return {
        "wer": dist / len(ref) if ref else math.nan,
        "ref_words": len(ref),
        "hyp_words": len(hyp),
        "matched_words": len(pairs),
        "median_start_error_s": statistics.median(errs) if errs else math.nan,
        "p90_start_error_s": sorted(errs)[int(0.9 * (len(errs) - 1))] if errs else math.nan,
        "timed_words": len(errs),
        "start_error_basis": "sentence first words" if first_only else "every word",
    }


# ---- inputs ------------------------------------------------------------------------------------

def _is_asr_wav(path: Path) -> bool:
    try:
        with wave.open(str(path), "rb") as w:
            return (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (1, 2, 16_000)
    except (wave.Error, EOFError, OSError):
        return False


def _to_asr_wav(src: Path, out_dir: Path) -> Path:
    """The file the transcript asset would read: the audio asset's own conversion."""
    if _is_asr_wav(src):
        return src
    from chatlab.media.audio import extract_audio

    return extract_audio(src, out_dir / "audio.wav").path


def demo_input(out_dir: Path, minutes: float, seed: int) -> tuple[Path, dict[str, Any], str]:
    """(16 kHz WAV, truth, source description): a chatlab.demo stream when that package is there,
    else sentences spoken by hibari-tts with sentence-level truth."""
    try:
        from chatlab.demo import make_demo_stream
    except ImportError:
        make_demo_stream = None
    if make_demo_stream is not None:
        demo = make_demo_stream(out_dir, "benchasr", seed, minutes=minutes, video=False)
        truth = json.loads(Path(demo.truth).read_text(encoding="utf-8"))
        return _to_asr_wav(Path(demo.media), out_dir), truth, f"chatlab.demo stream (seed {seed}, {demo.duration_s:.0f} s)"
    path, truth = fallback_clip(out_dir)
    return path, truth, "hibari-tts fallback script (chatlab.demo not available)"


def fallback_clip(out_dir: Path) -> tuple[Path, dict[str, Any]]:
    """FALLBACK_SCRIPT spoken by hibari-tts as a 16 kHz WAV, with sentence times as truth."""
    path = out_dir / "fallback.wav"
    return path, speak(FALLBACK_SCRIPT, path)


def speak(script: Sequence[tuple[float, str]], path: Path, tail_s: float = 1.0) -> dict[str, Any]:
    """Write ``(pause_before_s, sentence)`` lines spoken by hibari-tts to a 16 kHz mono WAV and
    return ``{"segments": [{start, end, text}]}`` with each sentence's audible onset and offset
    (hibari pads its clips with a little silence; the energy envelope finds the speech)."""
    import numpy as np
    from hibari import Hibari

    tts = Hibari()
    sr = 24_000
    parts, segs, t = [], [], 0.0
    for pause, text in script:
        a = np.asarray(tts(text, seed=0), dtype=np.float32)
        parts += [np.zeros(int(pause * sr), np.float32), a]
        t += int(pause * sr) / sr
        loud = np.flatnonzero(np.abs(a) > 0.02 * float(np.abs(a).max()))
        on, off = (loud[0], loud[-1]) if len(loud) else (0, len(a))
        segs.append({"start": round(t + float(on) / sr, 3), "end": round(t + float(off) / sr, 3), "text": text})
        t += len(a) / sr
    parts.append(np.zeros(int(tail_s * sr), np.float32))
    write_wav16(path, resample_24k_to_16k(np.concatenate(parts)))
    return {"segments": segs}


def resample_24k_to_16k(x: "Any") -> "Any":
    """Band-limited 24 kHz → 16 kHz by FFT truncation (no scipy here); fine for short clips."""
    import numpy as np

    n = len(x) // 3 * 3
    m = n * 2 // 3
    return (np.fft.irfft(np.fft.rfft(x[:n])[: m // 2 + 1], m) * (m / n)).astype(np.float32)


def write_wav16(path: Path, audio: "Any", peak: float = 0.7) -> None:
    """16 kHz mono s16 WAV, peak-normalised like the audio asset's output roughly is."""
    import numpy as np

    a = np.asarray(audio, dtype=np.float32)
    top = float(np.abs(a).max()) if len(a) else 0.0
    if top > 0:
        a = a / top * peak
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16_000)
        w.writeframes((np.clip(a, -1, 1) * 32767).astype("<i2").tobytes())


# ---- the benchmark -------------------------------------------------------------------------------

def run_bench(
    file: Path | None = None,
    truth: Path | None = None,
    minutes: float = 3.0,
    seed: int = 7,
    repeat: int = 2,
    engine_values: dict[str, Any] | None = None,
) -> dict[str, Any]:
    from chatlab import config as cfg
    from chatlab.asr.engine import EngineConfig, FasterWhisperEngine, make_engine
    from chatlab.asr.transcribe import DEFAULT_WINDOW_S, transcribe_file

    values = dict(engine_values or {})
    engine = make_engine(EngineConfig.from_mapping(values), cfg.layout().models)
    if not isinstance(engine, FasterWhisperEngine):
        raise ValueError("the overhead benchmark compares against plain faster-whisper: use backend faster-whisper")
    window = float(values.get("window_s", DEFAULT_WINDOW_S))

    with tempfile.TemporaryDirectory(prefix="chatlab-bench-asr-") as tmp:
        tmpd = Path(tmp)
        if file is not None:
            path = _to_asr_wav(Path(file), tmpd)
            truth_d = json.loads(Path(truth).read_text(encoding="utf-8")) if truth else None
            source = str(file)
        else:
            path, truth_d, source = demo_input(tmpd, minutes, seed)
        with wave.open(str(path), "rb") as w:
            duration = w.getnframes() / w.getframerate()

        t0 = time.perf_counter()
        engine.load()
        load_s = time.perf_counter() - t0
        language = engine.config.language or None
        kwargs = engine.transcribe_kwargs(language)
        runner = engine.runner()

        def plain() -> list:
            segs, _ = runner.transcribe(str(path), **kwargs)
            return list(segs)

        def ours() -> Any:
            return transcribe_file(path, engine, window_s=window, language=language)

        # Warm-up (VAD session, CTranslate2 buffers), untimed.
        plain()
        ours_times, plain_times, ours_cpu, plain_cpu = [], [], [], []
        result = plain_result = None
        for i in range(max(1, repeat)):
            # ABBA order: neither side always runs first (caches, other load on the machine).
            for side in (("ours", "plain") if i % 2 == 0 else ("plain", "ours")):
                t, c = time.perf_counter(), time.process_time()
                if side == "ours":
                    result = ours()
                    ours_times.append(time.perf_counter() - t)
                    ours_cpu.append(time.process_time() - c)
                else:
                    plain_result = plain()
                    plain_times.append(time.perf_counter() - t)
                    plain_cpu.append(time.process_time() - c)

        report: dict[str, Any] = {
            "source": source,
            "duration_s": round(duration, 2),
            "model": engine.model_name,
            "version": engine.version,
            "device": engine.device,
            "batched": engine.uses_batched,
            "model_load_s": round(load_s, 2),
            "chatlab_s": [round(x, 3) for x in ours_times],
            "plain_s": [round(x, 3) for x in plain_times],
            "chatlab_rtf": round(min(ours_times) / duration, 4),
            "plain_rtf": round(min(plain_times) / duration, 4),
            "ratio": round(min(ours_times) / min(plain_times), 3),
            "ratio_median": round(statistics.median(ours_times) / statistics.median(plain_times), 3),
            # CPU seconds of this process: what the extra code costs, less sensitive to other load.
            "cpu_ratio": round(min(ours_cpu) / min(plain_cpu), 3),
            "target_ratio": 1.1,
            "language": result.language,
            "words": result.n_words,
        }
        if truth_d:
            ours_words = [(w.word, w.start) for s in result.segments for w in s.words]
            plain_words = [(w.word, w.start) for s in plain_result for w in (s.words or [])]
            sc = score(truth_d, ours_words)
            sp = score(truth_d, plain_words)
            report.update({
                "wer": round(sc["wer"], 4),
                "plain_wer": round(sp["wer"], 4),
                "target_wer": 0.10,
                "median_start_error_s": round(sc["median_start_error_s"], 3),
                "p90_start_error_s": round(sc["p90_start_error_s"], 3),
                "plain_median_start_error_s": round(sp["median_start_error_s"], 3),
                "start_error_basis": sc["start_error_basis"],
                "ref_words": sc["ref_words"],
                "timed_words": sc["timed_words"],
            })
    return report


def format_report(r: dict[str, Any]) -> str:
    lines = [
        f"ASR benchmark on {r['source']} ({r['duration_s']:.1f} s), {r['model']} [{r['version']}], "
        f"{r['device']}, {'batched' if r['batched'] else 'sequential'}; model load {r['model_load_s']:.2f} s",
        f"  chatlab transcribe : RTF {r['chatlab_rtf']:.4f}  (runs {r['chatlab_s']} s)",
        f"  plain faster-whisper: RTF {r['plain_rtf']:.4f}  (runs {r['plain_s']} s)",
        f"  ratio {r['ratio']:.3f}x best/best, {r['ratio_median']:.3f}x median/median, "
        f"{r['cpu_ratio']:.3f}x in CPU time (target ≤ {r['target_ratio']}x)",
    ]
    if "wer" in r:
        lines += [
            f"  WER {r['wer']:.2%} (plain {r['plain_wer']:.2%}; target < {r['target_wer']:.0%}) over {r['ref_words']} words",
            f"  word-start error median {r['median_start_error_s']:.3f} s, p90 {r['p90_start_error_s']:.3f} s "
            f"(plain median {r['plain_median_start_error_s']:.3f} s; {r['timed_words']} words, {r['start_error_basis']})",
        ]
    return "\n".join(lines)
