"""ASR backends behind one interface: a window of 16 kHz mono float32 audio in, timed segments
with words out. ``faster-whisper`` is the default (CTranslate2, CPU or CUDA, Silero VAD, word
timestamps); ``whisperx`` is optional (wav2vec2 forced alignment for better word times)."""

from __future__ import annotations

import dataclasses
import importlib.metadata
import math
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from chatlab.asr.model import BUNDLED_NAME, model_fingerprint, resolve_model

SAMPLE_RATE = 16_000


@dataclass
class Word:
    start: float
    end: float
    word: str  # as Whisper writes it, usually with a leading space
    probability: float


@dataclass
class Segment:
    start: float
    end: float
    text: str
    avg_logprob: float
    no_speech_prob: float
    compression_ratio: float
    words: list[Word] = field(default_factory=list)

    def shifted(self, dt: float) -> "Segment":
        """The same segment ``dt`` seconds later (a window's offset in the whole file)."""
        return dataclasses.replace(
            self,
            start=self.start + dt,
            end=self.end + dt,
            words=[dataclasses.replace(w, start=w.start + dt, end=w.end + dt) for w in self.words],
        )


@dataclass
class WindowResult:
    segments: list[Segment]
    language: str
    language_probability: float
    speech_s: float  # audio the VAD kept as speech (the denominator of speech coverage)


@dataclass(frozen=True)
class EngineConfig:
    """Everything that picks and drives a backend. ``model`` is empty for the bundled whisper-base,
    else a CTranslate2 Whisper directory (small, large-v3, distil…)."""

    backend: str = "faster-whisper"
    model: str = ""
    device: str = "auto"  # auto: cuda when CTranslate2 sees a GPU, else cpu
    compute_type: str = "auto"  # auto: float16 on cuda, int8 on cpu
    batched: bool = True  # BatchedInferencePipeline: ~1.5x faster than sequential on 2 CPU cores
    batch_size: int = 8
    beam_size: int = 5
    cpu_threads: int = 0  # 0: CTranslate2's default
    language: str = ""  # empty: detect on the first window with speech, then keep it
    vocabulary: tuple[str, ...] = ()  # streamer names, memes: biases decoding toward them
    vocabulary_mode: str = "prompt"  # prompt (initial_prompt) | hotwords (may disturb word times)
    vad: bool = True
    split_gap_s: float = 1.0  # batched output comes in ~30 s segments: split them at pauses
    align_model: str = ""  # whisperx only: local wav2vec2 alignment model directory

    @classmethod
    def from_mapping(cls, values: dict[str, Any]) -> "EngineConfig":
        """Build from a settings section / resource config (None: the default). Keys and types are
        checked by chatlab.settings against the whole ``[asr]`` section (the quality thresholds and
        window_s live there too); only this dataclass's fields are taken."""
        from chatlab.settings import values as checked

        names = {f.name for f in dataclasses.fields(cls)}
        given = checked("asr", {k: v for k, v in values.items() if v is not None})
        kw = {k: v for k, v in given.items() if k in names}
        if "vocabulary" in kw:
            v = kw["vocabulary"]
            kw["vocabulary"] = tuple(x.strip() for x in (v.split(",") if isinstance(v, str) else v) if str(x).strip())
        return cls(**kw)


class Engine(Protocol):
    config: EngineConfig
    model_name: str  # e.g. "whisper-base"
    version: str  # backend and model identity, for provenance

    def load(self) -> None:
        """Load the model now (else on first use), so timings can leave loading out."""

    def transcribe_window(self, audio: np.ndarray, language: str | None) -> WindowResult: ...


def resolve_device(device: str, compute_type: str) -> tuple[str, str]:
    if device == "auto":
        import ctranslate2

        device = "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"
    if compute_type == "auto":
        compute_type = "float16" if device == "cuda" else "int8"
    return device, compute_type


def _split_at_pauses(seg: Segment, gap_s: float) -> list[Segment]:
    """Cut a segment where consecutive words are more than ``gap_s`` apart. The batched pipeline
    returns one segment per ~30 s of VAD speech, spanning the silences between utterances;
    segment rows that span a long silence would mislead anything reading segment times.
    Decoder scores (logprob, compression) belong to the whole decode and are kept on each piece."""
    if len(seg.words) < 2 or gap_s <= 0:
        return [seg]
    pieces: list[list[Word]] = [[seg.words[0]]]
    for prev, w in zip(seg.words, seg.words[1:]):
        if w.start - prev.end > gap_s:
            pieces.append([])
        pieces[-1].append(w)
    if len(pieces) == 1:
        return [seg]
    return [
        dataclasses.replace(seg, start=ws[0].start, end=ws[-1].end, text="".join(w.word for w in ws), words=ws)
        for ws in pieces
    ]


_LOADED: dict[tuple, Any] = {}
_LOAD_LOCK = threading.Lock()


class FasterWhisperEngine:
    """faster-whisper with word timestamps and Silero VAD; the loaded model is shared by every
    engine with the same model/device/compute type in this process (loading takes seconds)."""

    def __init__(self, config: EngineConfig, models_dir: str | os.PathLike) -> None:
        self.config = config
        self.model_dir: Path = resolve_model(config.model, models_dir)
        self.model_name = BUNDLED_NAME if config.model in ("", "bundled", BUNDLED_NAME) else self.model_dir.name
        self.device, self.compute_type = resolve_device(config.device, config.compute_type)
        self.version = (
            f"faster-whisper {importlib.metadata.version('faster-whisper')}; "
            f"{model_fingerprint(self.model_dir)}; {self.compute_type}"
        )
        self._model = None
        self._pipeline = None

    @property
    def model(self) -> Any:
        """The faster_whisper.WhisperModel (loaded on first use)."""
        if self._model is None:
            from faster_whisper import WhisperModel

            key = (str(self.model_dir), self.device, self.compute_type, self.config.cpu_threads)
            with _LOAD_LOCK:
                if key not in _LOADED:
                    _LOADED[key] = WhisperModel(
                        str(self.model_dir),
                        device=self.device,
                        compute_type=self.compute_type,
                        cpu_threads=self.config.cpu_threads,
                    )
                self._model = _LOADED[key]
        return self._model

    def load(self) -> None:
        self.runner()

    def transcribe_kwargs(self, language: str | None) -> dict[str, Any]:
        """The keyword arguments given to faster-whisper; the benchmark's plain call uses the same."""
        c = self.config
        kw: dict[str, Any] = dict(
            language=language or None,
            beam_size=c.beam_size,
            word_timestamps=True,
            vad_filter=c.vad,
        )
        if c.vocabulary:
            vocab = ", ".join(c.vocabulary)
            if c.vocabulary_mode == "hotwords":
                kw["hotwords"] = vocab
            else:
                kw["initial_prompt"] = vocab
        if self.uses_batched:
            kw["batch_size"] = c.batch_size
        else:
            # Sequential decoding: conditioning on previous text is what lets Whisper fall into
            # repetition loops on long audio; windows are independent anyway.
            kw["condition_on_previous_text"] = False
        return kw

    @property
    def uses_batched(self) -> bool:
        # The batched pipeline needs VAD (or explicit clips) to cut the audio.
        return self.config.batched and self.config.vad

    def runner(self) -> Any:
        if not self.uses_batched:
            return self.model
        if self._pipeline is None:
            from faster_whisper import BatchedInferencePipeline

            self._pipeline = BatchedInferencePipeline(self.model)
        return self._pipeline

    def transcribe_window(self, audio: np.ndarray, language: str | None) -> WindowResult:
        segs, info = self.runner().transcribe(audio, **self.transcribe_kwargs(language))
        out: list[Segment] = []
        for s in segs:
            words = [Word(float(w.start), float(w.end), w.word, float(w.probability)) for w in (s.words or [])]
            seg = Segment(
                start=float(s.start),
                end=float(s.end),
                text=s.text,
                avg_logprob=float(s.avg_logprob),
                no_speech_prob=float(s.no_speech_prob),
                compression_ratio=float(s.compression_ratio),
                words=words,
            )
            out.extend(_split_at_pauses(seg, self.config.split_gap_s))
        return WindowResult(out, info.language, float(info.language_probability), float(info.duration_after_vad))


class WhisperXEngine:
    """WhisperX: batched faster-whisper + wav2vec2 forced alignment. Optional (``pip install
    'chatlab[whisperx]'``, GPU recommended); it must find its models locally, never downloading."""

    def __init__(self, config: EngineConfig, models_dir: str | os.PathLike) -> None:
        missing = []
        try:
            import whisperx  # noqa: F401
        except ImportError as e:
            missing.append(f"python package 'whisperx' ({e}; install the extra: pip install 'chatlab[whisperx]')")
        align = Path(config.align_model).expanduser() if config.align_model else None
        if align is not None and not align.is_absolute():
            align = Path(models_dir) / align
        if align is None or not align.is_dir():
            missing.append(
                "a local wav2vec2 alignment model directory (set [asr] align_model, e.g. a saved "
                "WAV2VEC2_ASR_BASE_960H / jonatasgrosman/wav2vec2-large-xlsr-53-<lang> checkout)"
                + (f"; {align} does not exist" if align is not None else "")
            )
        try:
            model_dir = resolve_model(config.model, models_dir)
        except (FileNotFoundError, ValueError) as e:
            missing.append(str(e))
            model_dir = None
        if missing:
            raise RuntimeError("whisperx backend unavailable, missing: " + "; ".join(missing))
        self.config = config
        self.model_dir = model_dir
        self.align_dir = align
        self.model_name = BUNDLED_NAME if config.model in ("", "bundled", BUNDLED_NAME) else model_dir.name
        self.device, self.compute_type = resolve_device(config.device, config.compute_type)
        self.version = (
            f"whisperx {importlib.metadata.version('whisperx')}; {model_fingerprint(model_dir)}; "
            f"align {align.name}; {self.compute_type}"
        )
        self._asr = None
        self._align: dict[str, Any] = {}

    def load(self) -> None:
        self._load_asr(self.config.language or None)

    def _load_asr(self, language: str | None) -> None:
        import whisperx

        c = self.config
        if self._asr is None:
            asr_options = {"initial_prompt": ", ".join(c.vocabulary)} if c.vocabulary else {}
            self._asr = whisperx.load_model(
                str(self.model_dir), self.device, compute_type=self.compute_type, language=language or None,
                asr_options=asr_options, vad_method="silero", local_files_only=True,
            )

    def transcribe_window(self, audio: np.ndarray, language: str | None) -> WindowResult:
        import whisperx

        c = self.config
        self._load_asr(language)
        result = self._asr.transcribe(audio, batch_size=c.batch_size, language=language or None)
        lang = result.get("language") or language or "en"
        if lang not in self._align:
            self._align[lang] = whisperx.load_align_model(language_code=lang, device=self.device, model_name=str(self.align_dir))
        amodel, meta = self._align[lang]
        aligned = whisperx.align(result["segments"], amodel, meta, audio, self.device, return_char_alignments=False)
        segs: list[Segment] = []
        for s in aligned["segments"]:
            words = _fill_missing_times(s.get("words", []), float(s["start"]), float(s["end"]))
            text = s.get("text", "")
            seg = Segment(
                start=float(s["start"]), end=float(s["end"]), text=text,
                avg_logprob=float(s.get("avg_logprob", math.nan)), no_speech_prob=float(s.get("no_speech_prob", math.nan)),
                compression_ratio=_compression_ratio(text), words=words,
            )
            segs.extend(_split_at_pauses(seg, c.split_gap_s))
        # whisperx does not report its VAD total; its segments are the VAD chunks.
        speech = sum(max(0.0, float(s["end"]) - float(s["start"])) for s in result["segments"])
        return WindowResult(segs, lang, 1.0, speech)


def _fill_missing_times(words: list[dict], seg_start: float, seg_end: float) -> list[Word]:
    """wav2vec2 gives no time to words without alignable characters (numbers, symbols): place
    them between their neighbours so every word row has a time."""
    out: list[Word] = []
    for i, w in enumerate(words):
        start, end = w.get("start"), w.get("end")
        if start is None or end is None:
            prev_end = out[-1].end if out else seg_start
            nxt = next((x["start"] for x in words[i + 1 :] if x.get("start") is not None), seg_end)
            start, end = prev_end, max(prev_end, nxt)
        out.append(Word(float(start), float(end), " " + str(w.get("word", "")).strip(), float(w.get("score", math.nan))))
    return out


def _compression_ratio(text: str) -> float:
    import zlib

    b = text.encode("utf-8")
    return len(b) / len(zlib.compress(b)) if b else 0.0


BACKENDS = {"faster-whisper": FasterWhisperEngine, "whisperx": WhisperXEngine}


def make_engine(config: EngineConfig, models_dir: str | os.PathLike) -> Engine:
    try:
        cls = BACKENDS[config.backend]
    except KeyError:
        raise ValueError(f"unknown ASR backend {config.backend!r}; expected one of {sorted(BACKENDS)}") from None
    return cls(config, models_dir)
