"""Audio-side evidence at a cut: a splice often changes the room (a jump in background level or in
its spectrum), so where the chat's echoes leave a cut loose, the background may place it.

Only inside the cut's likelihood range (`cut_lo_s`..`cut_hi_s`, what the echoes allow) and only
for loose ones (wider than LOOSE_S): the audio never overrules clear echoes. Per 1-s bin of 25-ms
frames: the background level (the 10th percentile of the frames' level: the pauses between words)
and the spectral centroid of the bin's quietest frames. A step between the WIN_S before and after a
candidate time, in robust z (medians, MAD), is evidence when it is large (Z_MIN; twice that for a
change of spectrum alone), of a size a listener would hear (MIN_DB or MIN_OCTAVES) and strongest
inside the range (a change just outside
it is some other change of the room). Not every splice changes the room, so a cut with no step
keeps the echoes' placement. A step that is strong (PIN_Z, PIN_DB) and alone in the window pins
the cut: its range shrinks to the step (the room also changes where nothing was cut, so a weaker
or crowded step only moves the cut and the range stays). numpy only; the audio is read as a
window around each range.
"""

from __future__ import annotations

import wave
from pathlib import Path
from typing import Any, Callable

import numpy as np

from chatlab.align.curve import OffsetCurve
from chatlab.align.splice import move_cut

FRAME_S, BIN_S, STEP_S, WIN_S = 0.025, 1.0, 0.25, 10.0
Z_MIN, MIN_DB, MIN_OCTAVES, LOOSE_S = 6.0, 2.0, 0.4, 4.0
# a step that also pins the cut (its range becomes at_s +- PIN_S): twice the z, a level step of
# PIN_DB, and no other change of the room (z >= Z_MIN) in the window around the range
PIN_Z, PIN_DB, PIN_S = 12.0, 3.0, 2.0
FLOOR_Q, QUIET_Q = 10.0, 30.0

Audio = Callable[[float, float], tuple[np.ndarray, int]]  # (t0, t1) on the audio clock -> (samples, rate)


def wav_reader(path: Path) -> Audio:
    """Windows of a PCM WAV file (the `audio` artifact) as float samples, first channel; raises
    ValueError naming the file when it is not 16-bit PCM."""
    with wave.open(str(path), "rb") as w:
        if w.getsampwidth() != 2:
            raise ValueError(f"{path}: expected 16-bit PCM WAV, got {8 * w.getsampwidth()}-bit samples")
        sr, ch, n = w.getframerate(), w.getnchannels(), w.getnframes()

    def read(t0: float, t1: float) -> tuple[np.ndarray, int]:
        a, b = max(0, int(t0 * sr)), min(n, int(t1 * sr))
        if b <= a:
            return np.zeros(0), sr
        with wave.open(str(path), "rb") as w:
            w.setpos(a)
            x = np.frombuffer(w.readframes(b - a), dtype="<i2")
        return x[::ch].astype(np.float64) / 32768.0, sr
    return read


def media_reader(path: Path) -> Audio:
    """Windows of any recording: a 16-bit PCM WAV is read a window at a time; anything else
    (a VOD's video, an .ogg) is decoded once at 16 kHz mono (chatlab.asr.transcribe.audio_blocks)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    if path.suffix.lower() == ".wav":
        try:
            return wav_reader(path)
        except (ValueError, wave.Error, EOFError):
            pass  # not 16-bit PCM: decode as any other file
    from chatlab.asr.transcribe import SAMPLE_RATE, audio_blocks

    x = np.concatenate([np.zeros(0, np.float32), *audio_blocks(path)]).astype(np.float64)

    def read(t0: float, t1: float) -> tuple[np.ndarray, int]:
        return x[max(0, int(t0 * SAMPLE_RATE)): max(0, int(t1 * SAMPLE_RATE))], SAMPLE_RATE
    return read


def frame_features(x: np.ndarray, sr: int) -> tuple[np.ndarray, np.ndarray]:
    """Per 25-ms frame: level in dB and spectral centroid in octaves (log2 Hz)."""
    n = max(8, int(round(sr * FRAME_S)))
    m = len(x) // n
    f = x[: m * n].reshape(m, n)
    f = f - f.mean(axis=1, keepdims=True)
    db = 10.0 * np.log10((f ** 2).mean(axis=1) + 1e-12)
    spec = np.abs(np.fft.rfft(f * np.hanning(n), axis=1)) ** 2
    freqs = np.fft.rfftfreq(n, 1.0 / sr)
    cent = np.log2((spec * freqs).sum(axis=1) / (spec.sum(axis=1) + 1e-20) + 1.0)
    return db, cent


def _side(db: np.ndarray, cent: np.ndarray, a: int, b: int, per: int) -> tuple[np.ndarray, np.ndarray]:
    """Per bin of `per` frames in frames a..b: background level and the quiet frames' centroid."""
    k = (b - a) // per
    d = db[a: a + k * per].reshape(k, per)
    c = cent[a: a + k * per].reshape(k, per)
    q = d <= np.percentile(d, QUIET_Q, axis=1, keepdims=True)
    return np.percentile(d, FLOOR_Q, axis=1), (c * q).sum(axis=1) / np.maximum(q.sum(axis=1), 1)


def _sigma(x: np.ndarray, floor: float) -> float:
    """Robust spread of one bin from the next (so a step in x barely counts)."""
    return max(1.4826 * float(np.median(np.abs(np.diff(x)))) / np.sqrt(2.0), floor) if len(x) > 2 else floor


def _z(left: np.ndarray, right: np.ndarray, sigma: float) -> tuple[float, float]:
    """(robust z of the step between the two sides' medians, the step); sigma: the window's
    bin-to-bin spread (one for every candidate, so the profile is smooth around a step)"""
    ml, mr = float(np.median(left)), float(np.median(right))
    se = sigma * np.sqrt(np.pi / 2.0 * (1.0 / len(left) + 1.0 / len(right)))
    return (mr - ml) / se, mr - ml


def _refine(db: np.ndarray, cent: np.ndarray, j: int, w: int) -> int:
    """The frame of the step near frame j by least squares on half-second bins (the median test
    above is robust but flat-topped: any place within a few seconds of the step scores alike)."""
    per = int(round(0.5 / FRAME_S))
    a = max(0, j - w)
    fl, cq = _side(db, cent, a, min(len(db), j + w), per)
    x = np.stack([fl, cq], axis=1)
    x = x - np.median(x, axis=0)
    sigma = 1.4826 * np.median(np.abs(np.diff(x, axis=0)), axis=0) / np.sqrt(2.0) + np.array([0.3, 0.05])
    x = np.clip(x / sigma, -30, 30)
    c1, c2 = np.cumsum(x, axis=0), np.cumsum(x ** 2, axis=0)
    n = len(x)
    m = np.arange(2, n - 1)
    left = c2[m - 1] - c1[m - 1] ** 2 / m[:, None]
    right = (c2[-1] - c2[m - 1]) - (c1[-1] - c1[m - 1]) ** 2 / (n - m)[:, None]
    best = int(m[np.argmin((left + right).sum(axis=1))])
    return a + best * per


def _top(taus: np.ndarray, prof: np.ndarray, k: int) -> tuple[float, float]:
    """The profile's top around its peak (within 80 % of it): the median test is flat-topped near
    a step, and its top is centred on it."""
    top = prof >= 0.8 * prof[k]
    a = b = k
    while a > 0 and top[a - 1]:
        a -= 1
    while b + 1 < len(top) and top[b + 1]:
        b += 1
    return float(taus[a]), float(taus[b])


def place_cut(audio: Audio, lo: float, hi: float) -> dict[str, Any]:
    """Where in lo..hi (audio clock) the background steps, if it does: {"at_s", "z", "step_db",
    "step_octaves", "used", "why"}."""
    t0 = max(0.0, lo - 1.5 * WIN_S)
    x, sr = audio(t0, hi + 1.5 * WIN_S)
    db, cent = frame_features(x, sr)
    fps, per, w = 1.0 / FRAME_S, int(round(BIN_S / FRAME_S)), int(round(WIN_S / FRAME_S))
    taus = np.arange(max(lo - WIN_S / 2, t0 + WIN_S), min(hi + WIN_S / 2, t0 + len(db) * FRAME_S - WIN_S) + 1e-9, STEP_S)
    if len(taus) == 0:
        return {"used": False, "why": "too little audio around the range"}
    prof = np.zeros(len(taus))
    steps = np.zeros((len(taus), 2))
    fa, ca = _side(db, cent, 0, len(db), per)
    sf, sc = _sigma(fa, 0.3), _sigma(ca, 0.05)
    for i, tau in enumerate(taus):
        j = int(round((tau - t0) * fps))
        fl, cl = _side(db, cent, j - w, j, per)
        fr, cr = _side(db, cent, j, j + w, per)
        z1, s1 = _z(fl, fr, sf)
        z2, s2 = _z(cl, cr, sc)
        prof[i], steps[i] = np.hypot(z1, z2), (s1, s2)
    inside = (taus >= lo) & (taus <= hi)
    if not inside.any():
        return {"used": False, "why": "the range is narrower than the step grid"}
    k = int(np.flatnonzero(inside)[np.argmax(prof[inside])])
    at = float(taus[k])
    if prof[k] >= Z_MIN:
        a, b = _top(taus, prof, k)
        mid = (a + b) / 2.0
        sharp = t0 + _refine(db, cent, int(round((mid - t0) * fps)), w) * FRAME_S
        # least squares is sharper, the top's centre harder to mislead: the sharp one inside the top
        at = float(np.clip(sharp if abs(sharp - mid) <= 1.5 else mid, lo, hi))
    away = np.abs(taus - at) > WIN_S  # the next strongest change in the window, well apart from this one
    second = float(prof[away].max()) if away.any() else 0.0
    out = {"at_s": round(at, 2), "z": round(float(prof[k]), 1), "step_db": round(float(steps[k, 0]), 2),
           "step_octaves": round(float(steps[k, 1]), 3), "second_z": round(second, 1), "used": False}
    if prof[k] < Z_MIN:
        return out | {"why": f"no step in the background (z {prof[k]:.1f} < {Z_MIN})"}
    if abs(steps[k, 0]) < MIN_DB and abs(steps[k, 1]) < MIN_OCTAVES:
        return out | {"why": "the step is too small to hear"}
    if abs(steps[k, 0]) < MIN_DB and prof[k] < 2 * Z_MIN:  # the quiet frames' spectrum alone: speech tails move it too
        return out | {"why": f"a change of spectrum only, too weak (z {prof[k]:.1f} < {2 * Z_MIN})"}
    if (~inside).any() and prof[~inside].max() > prof[k]:
        return out | {"why": "the background changes more just outside the range: another change of the room"}
    # a step this clear and alone in the window pins the cut: the range shrinks to it (the chat
    # there is paired again and a loose range no longer fails the gate); a weaker one only moves it
    pins = prof[k] >= PIN_Z and abs(steps[k, 0]) >= PIN_DB and second < Z_MIN
    return out | {"used": True, "pins": bool(pins), "why": "background step inside the range" + (", clear and alone: pins the cut" if pins else "")}


def refine_cuts(curve: OffsetCurve, audio: Audio | None, placed: frozenset[int] = frozenset()) -> tuple[OffsetCurve, list[dict[str, Any]]]:
    """The curve with each loose cut moved to the background step inside its range, where there is
    one; and per cut what the audio said. A range (and so the chat left unpaired) shrinks only
    where the step pins the cut (`pins`: clear, a level step, alone in the window). placed: the
    segments whose cut the transcript's broken sentence has placed (chatlab.align.splice): a step
    moves those only when it pins them."""
    if audio is None:
        return curve, []
    segs, report = list(curve.segments), []
    for k in range(1, len(segs)):
        s = segs[k]
        if s.cut_lo_s is None or s.cut_hi_s is None:
            continue
        was = s.start_s - s.offset_s
        row: dict[str, Any] = {"segment": k, "cut_s": round(was, 2), "range": [round(s.cut_lo_s, 1), round(s.cut_hi_s, 1)]}
        if s.cut_hi_s - s.cut_lo_s <= LOOSE_S:
            report.append(row | {"used": False, "why": f"the echoes pin it (range {s.cut_hi_s - s.cut_lo_s:.1f} s)"})
            continue
        found = place_cut(audio, s.cut_lo_s, s.cut_hi_s)
        row |= found
        if found["used"] and k in placed:  # the transcript's broken sentence placed this cut already
            if abs(float(found["at_s"]) - was) <= PIN_S:  # two kinds of evidence at one place: pinned
                found = row = row | {"at_s": round(was, 2), "pins": True, "why": "background step at the broken sentence: pins the cut"}
            else:  # they disagree: neither pins, the words' placement stays
                found = {**found, "used": False, "pins": False}
                row |= {"used": False, "pins": False, "why": f"the step ({found['at_s']:.1f} s) and the broken sentence ({was:.1f} s) disagree"}
        if found["used"]:
            g = float(found["at_s"])
            now = move_cut(segs, k, g, PIN_S if found.get("pins") else None)
            if now is None:
                row |= {"used": False, "why": "moving the cut there would empty a segment"}
            else:
                row["moved_s"] = round(g - was, 2)
                if found.get("pins"):
                    row["range_now"] = [round(now[0], 1), round(now[1], 1)]
        report.append(row)
    return OffsetCurve(tuple(segs)), report
