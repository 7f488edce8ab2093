"""Speech for the demo streamer, with the time of every word.

hibari-tts (voice "heart", bundled, offline) predicts a duration for every phoneme and expands
the phonemes by it before the vocoder. The model does not return those durations, but they are a
named tensor inside its ONNX graph (``/Round_output_0``: whole units per phoneme id). We load the
model with that tensor appended to the graph's outputs, so one run gives the audio and the exact
place of each phoneme in it; a word runs from its first to its last phoneme. These are the
model's own alignments, so benchmarks of ASR word times score against the truth, not an estimate.

If a future hibari renames the tensor, synthesis still works and words get no times
(``Speaker.word_times`` is False); the ground truth then keeps sentence times only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SAMPLE_RATE = 24_000
DURATION_TENSOR = "/Round_output_0"
# Phoneme characters that are not part of a word's sound (pauses, punctuation, spaces).
_NOT_SOUND = set(" .,!?;:—…\"“”()")


@dataclass(frozen=True)
class Word:
    word: str
    start: float  # seconds from the start of the utterance's audio
    end: float


@dataclass(frozen=True)
class Utterance:
    text: str
    audio: np.ndarray  # float32 mono at SAMPLE_RATE
    words: tuple[Word, ...]  # empty when the model gave no durations

    @property
    def speech_start(self) -> float:
        """First word's start: the clip begins with the model's own leading silence."""
        return self.words[0].start if self.words else 0.0

    @property
    def speech_end(self) -> float:
        return self.words[-1].end if self.words else len(self.audio) / SAMPLE_RATE


# -- a few lines of protobuf wire format: append one output name to an ONNX graph -------------
# (the `onnx` package is not a dependency; ModelProto.graph is field 7, GraphProto.output is 12,
# ValueInfoProto.name is 1; onnxruntime accepts an output without a declared type.)


def _varint(buf: bytes, i: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        b = buf[i]
        i += 1
        value |= (b & 0x7F) << shift
        shift += 7
        if b < 0x80:
            return value, i


def _encode_varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b, n = n & 0x7F, n >> 7
        out.append(b | 0x80 if n else b)
        if not n:
            return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    return _encode_varint(number << 3 | 2) + _encode_varint(len(payload)) + payload


def with_extra_output(model: bytes, name: str) -> bytes:
    """The serialized ONNX model with tensor `name` added to the graph outputs."""
    out = bytearray()
    i = 0
    while i < len(model):
        start = i
        key, i = _varint(model, i)
        wire = key & 7
        if wire == 0:
            _, i = _varint(model, i)
        elif wire == 1:
            i += 8
        elif wire == 5:
            i += 4
        elif wire == 2:
            n, i = _varint(model, i)
            if key >> 3 == 7:
                out += _field(7, model[i : i + n] + _field(12, _field(1, name.encode())))
                i += n
                continue
            i += n
        else:
            raise ValueError(f"unexpected protobuf wire type {wire} in the ONNX model")
        out += model[start:i]
    return bytes(out)


class Speaker:
    """hibari's voice "heart", returning word times with the audio."""

    def __init__(self, threads: int = 1) -> None:
        import onnxruntime as ort
        from hibari import Hibari
        from hibari.g2p.normalize import normalize

        self._tts = Hibari()  # G2P, vocabulary and the plain session (the fallback)
        self._normalize = normalize
        self._sess = self._tts.sess
        self.word_times = False
        so = ort.SessionOptions()
        so.intra_op_num_threads = so.inter_op_num_threads = threads
        so.log_severity_level = 3
        try:
            with open(self._tts.model_path, "rb") as f:
                model = with_extra_output(f.read(), DURATION_TENSOR)
            self._sess = ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])
            self.word_times = True
        except Exception:  # noqa: BLE001 - any failure here only costs the word times
            self._sess = self._tts.sess

    def __call__(self, text: str, seed: int) -> Utterance:
        """Synthesize one line; `seed` fixes the vocoder noise, so a line always sounds the same."""
        from hibari import dsp

        rng = np.random.default_rng(seed)
        parts: list[np.ndarray] = []
        words: list[Word] = []
        at = 0  # samples so far
        for sentence in self._tts.split_sentences(text):
            phonemes, spans = self._phonemes(sentence)
            ids, owner = self._ids(phonemes)
            if len(ids) < 3:
                continue
            out = self._sess.run(None, {"ids": np.asarray([ids], np.int64), "speed": np.asarray([1.0], np.float32)})
            audio = dsp.synth(*(o[0] for o in out[:6]), rng)
            if self.word_times and len(out) > 6:
                found = _word_times(out[6].reshape(-1), phonemes, owner, spans, len(audio), 0)
                words += [Word(w.word, w.start + at / SAMPLE_RATE, w.end + at / SAMPLE_RATE) for w in _trim_ends(found, audio)]
            parts.append(audio.astype(np.float32))
            at += len(audio)
        audio = np.concatenate(parts) if parts else np.zeros(0, np.float32)
        return Utterance(text, audio, tuple(words))

    def _phonemes(self, sentence: str) -> tuple[str, list[tuple[str, int, int]]]:
        """The sentence's phoneme string as hibari builds it, and per written word (text split at
        whitespace) the [start, end) range of its phoneme characters."""
        g2p = self._tts.g2p
        tokens = g2p.phonemize_tokens(g2p.tokenize(self._normalize(sentence)))
        phonemes = ""
        spans: list[tuple[str, int, int]] = []
        word, begin = "", 0
        for tk in tokens:
            word += tk.text
            phonemes += tk.phonemes or ""
            if tk.whitespace:
                spans.append((word, begin, len(phonemes)))
                phonemes += " "
                word, begin = "", len(phonemes)
        if word:
            spans.append((word, begin, len(phonemes)))
        lead = len(phonemes) - len(phonemes.lstrip())  # hibari strips the string; keep spans in step
        return phonemes.strip(), [(w, b - lead, e - lead) for w, b, e in spans]

    def _ids(self, phonemes: str) -> tuple[list[int], list[int]]:
        """Model ids (with the 0 pads), and for each id the index of its phoneme character (-1: pad)."""
        vocab = self._tts.vocab
        ids, owner = [0], [-1]
        for i, ch in enumerate(phonemes):
            if ch in vocab:
                ids.append(vocab[ch])
                owner.append(i)
        return ids + [0], owner + [-1]


def _word_times(durations: np.ndarray, phonemes: str, owner: list[int], spans: list[tuple[str, int, int]],
                n_samples: int, offset: int) -> list[Word]:
    """Word start/end in seconds: the edges of its first and last sounding phoneme (the pause a
    comma or period gets is not part of the word)."""
    if len(durations) != len(owner) or durations.sum() <= 0:
        return []
    per_unit = n_samples / float(durations.sum())  # 600 samples (25 ms) in hibari 0.2
    edges = np.concatenate([[0.0], np.cumsum(durations)]) * per_unit
    words = []
    for text, begin, end in spans:
        sounding = [k for k, i in enumerate(owner) if begin <= i < end and phonemes[i] not in _NOT_SOUND]
        if not sounding:
            continue  # a bare punctuation token
        start = float(offset + edges[sounding[0]]) / SAMPLE_RATE
        stop = float(offset + edges[sounding[-1] + 1]) / SAMPLE_RATE
        words.append(Word(text, start, stop))
    return words


PAUSE_PUNCT = tuple(".,!?;:…")
TRIM_BELOW_PEAK_DB = 35.0
_ENV_HOP = 120  # 5 ms


def _trim_ends(words: list[Word], audio: np.ndarray) -> list[Word]:
    """Pull the end of a word before a pause back to where its sound stops.

    The model gives a phrase-final phoneme the pause after it (a final "t" can last 300 ms, most
    of it silence), so a duration-based end lies ~0.25 s after the audible end. Where a pause
    follows (punctuation, or the sentence ends), the end becomes the last 5 ms frame inside the
    word whose level is within 35 dB of the sentence's peak."""
    n = len(audio) // _ENV_HOP
    if n == 0 or not words:
        return words
    env = np.sqrt(np.mean(audio[: n * _ENV_HOP].reshape(n, _ENV_HOP).astype(np.float64) ** 2, axis=1))
    loud = 20 * np.log10(env + 1e-12) > 20 * np.log10(env.max() + 1e-12) - TRIM_BELOW_PEAK_DB
    out = []
    for i, w in enumerate(words):
        if i == len(words) - 1 or w.word.endswith(PAUSE_PUNCT):
            a, b = int(w.start * SAMPLE_RATE) // _ENV_HOP, min(int(np.ceil(w.end * SAMPLE_RATE / _ENV_HOP)), n)
            hits = np.flatnonzero(loud[a:b])
            if len(hits):
                end = float(a + hits[-1] + 1) * _ENV_HOP / SAMPLE_RATE
                w = Word(w.word, w.start, max(min(end, w.end), w.start + 0.05))
        out.append(w)
    return out
