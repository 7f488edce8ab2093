"""Make demo streams: speech, chat reacting to it, a video, and the ground truth, from a seed.

    from chatlab.demo import make_demo, make_demo_stream
    streams = make_demo(Path("data/inbox"), streams=3, minutes=3.0)

Each stream is ``<name>.mp4`` (or ``<name>.wav`` with video=False), ``<name>.json`` (chat in
TwitchDownloader's format) and ``<name>.truth.json``. The same seed gives byte-identical chat and
truth files. Files appear in one rename each, media last, so a sensor watching the folder sees a
stream only when its chat is already there.
"""

from __future__ import annotations

import functools
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np

from . import script
from .audio import mix, write_wav
from .chat import GAME, chat_export, make_cast, make_chat
from .clock import ChatClock
from .files import write_json
from .overlay import PANEL_W, ChatOverlay, first_frames
from .speech import SAMPLE_RATE, Speaker, Word
from .truth import Segment, truth_dict, write_truth
from .video import AUDIO_CHANNELS, AUDIO_RATE, FPS, HEIGHT, WIDTH, GameScene, encode_mp4

NAME_RE = re.compile(r"^[a-z0-9_-]{1,64}$")
OFFSET_RANGE_S = (-20.0, 60.0)
DRIFT_RANGE_S_PER_H = (-3.0, 3.0)
OVERLAY_LATENCY_S = (2.0, 5.0)
PAUSE_MEDIAN_S, PAUSE_RANGE_S = 0.8, (0.3, 2.0)
AWAY_SILENCE_S = (11.0, 16.0)  # the guaranteed stretch with no speech
# Independent random streams per concern, so a change to one (say, more chat templates) leaves the
# others' draws as they were.
_CLOCK, _SCRIPT, _VOICE, _CHAT, _NOISE, _VIDEO = range(6)


@dataclass(frozen=True)
class DemoStream:
    name: str
    media: Path
    chat: Path
    truth: Path
    duration_s: float


@functools.cache
def _speaker() -> Speaker:
    return Speaker()  # loads the TTS model once per process


def _talk(rng: np.random.Generator, voice_rng: np.random.Generator, duration_s: float) -> tuple[list[Segment], list[tuple[int, np.ndarray]]]:
    """Sentences laid on the timeline with pauses between them, one long break (the streamer steps
    away) somewhere in the first half, and none running past the end."""
    speaker = _speaker()
    lines = script.lines(rng)
    away_at = duration_s * rng.uniform(0.2, 0.4)
    segments: list[Segment] = []
    clips: list[tuple[int, np.ndarray]] = []
    t = float(rng.uniform(0.5, 2.0))  # where the next sentence's first word starts
    state = "talk"
    while True:
        if state == "talk" and t >= away_at:
            line, state = script.away_line(rng), "away"
        elif state == "away":
            line, state = script.back_line(rng), "back"
        else:
            line = next(lines)
        utt = speaker(line.text, seed=int(voice_rng.integers(2**31)))
        start = int(round((t - utt.speech_start) * SAMPLE_RATE))  # clip start, so speech begins at t
        t0 = start / SAMPLE_RATE
        if t0 + utt.speech_end > duration_s - 0.5:
            break
        words = tuple(Word(w.word, t0 + w.start, t0 + w.end) for w in utt.words)
        segments.append(Segment(t0 + utt.speech_start, t0 + utt.speech_end, line.text, words, line.kind, line.keywords))
        clips.append((start, utt.audio))
        if line.kind == "away":
            pause = rng.uniform(*AWAY_SILENCE_S)
        elif rng.random() < 0.08:
            pause = rng.uniform(2.5, 5.0)  # the streamer reads chat for a moment
        else:
            pause = float(np.clip(PAUSE_MEDIAN_S * np.exp(0.5 * rng.standard_normal()), *PAUSE_RANGE_S))
        t = t0 + utt.speech_end + pause
    return segments, clips


def make_demo_stream(out_dir: Path, name: str, seed: int, minutes: float = 3.0, *, video: bool = True,
                     offset_s: float | None = None, drift_s_per_h: float | None = None, overlay: bool = False,
                     progress: Callable[[str], None] | None = None) -> DemoStream:
    """Write one demo stream into out_dir; offset and drift are drawn from the seed when None.
    overlay=True draws the chat into the video (and records when each message first shows)."""
    if not NAME_RE.match(name):
        raise ValueError(f"demo stream name {name!r} is not a valid VOD id ([a-z0-9_-], 1-64 characters)")
    if seed < 0:
        raise ValueError(f"seed must be >= 0, got {seed}")
    if minutes <= 0:
        raise ValueError(f"minutes must be > 0, got {minutes}")
    say = progress or (lambda _msg: None)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = {k: np.random.default_rng([seed, k]) for k in (_CLOCK, _SCRIPT, _VOICE, _CHAT, _NOISE, _VIDEO)}
    duration_s = round(minutes * 60.0, 3)

    draw = rng[_CLOCK]
    offset = float(draw.uniform(*OFFSET_RANGE_S)) if offset_s is None else float(offset_s)
    drift = float(draw.uniform(*DRIFT_RANGE_S_PER_H)) if drift_s_per_h is None else float(drift_s_per_h)
    clock = ChatClock(round(offset, 3), round(drift, 3))
    recorded_at = datetime(2024, 3, 1, 18, 0, tzinfo=timezone.utc) + timedelta(days=seed % 365, minutes=int(draw.integers(0, 240)))
    video_id = str(int(draw.integers(2_000_000_000, 2_100_000_000)))
    latency = round(float(draw.uniform(*OVERLAY_LATENCY_S)), 3)

    say(f"{name}: speech ({duration_s:.0f} s)")
    segments, clips = _talk(rng[_SCRIPT], rng[_VOICE], duration_s)
    track = mix(clips, int(round(duration_s * SAMPLE_RATE)), rng[_NOISE])

    cast = make_cast(rng[_CHAT])
    messages = make_chat(segments, duration_s, rng[_CHAT], cast)
    streamer = cast[0]
    title = f"{streamer.display_name} plays {GAME}, come hang out"
    export, t_chat = chat_export(messages, clock, streamer, video_id=video_id, title=title, recorded_at=recorded_at,
                                 duration_s=duration_s)
    say(f"{name}: {len(segments)} sentences, {len(export['comments'])} chat messages "
        f"(offset {clock.offset_s:+.1f} s, drift {clock.drift_s_per_h:+.2f} s/h)")

    media = out_dir / f"{name}.{'mp4' if video else 'wav'}"
    chat_path = out_dir / f"{name}.json"
    truth_path = out_dir / f"{name}.truth.json"
    on_screen = overlay_info = None
    if video and overlay:
        frames = first_frames(messages, latency, FPS, duration_s)
        on_screen = {i: round(k / FPS, 3) for i, k in frames.items()}
        overlay_info = {"latency_s": latency, "fps": FPS, "size": [WIDTH, HEIGHT],
                        "panel": [WIDTH - PANEL_W, 0, WIDTH, HEIGHT]}
    truth = truth_dict(name=name, seed=seed, duration_s=duration_s,
                       sample_rate=AUDIO_RATE if video else SAMPLE_RATE, channels=AUDIO_CHANNELS if video else 1,
                       media=media.name, chat_file=chat_path.name, clock=clock, segments=segments,
                       messages=messages, t_chat=t_chat, word_times=_speaker().word_times,
                       on_screen=on_screen, overlay=overlay_info)
    write_truth(truth_path, truth)
    write_json(chat_path, export)

    if video:
        say(f"{name}: video")
        layers = [GameScene(rng[_VIDEO])]
        if overlay:
            layers.append(ChatOverlay(messages, latency, FPS, duration_s, (WIDTH, HEIGHT)))
        with tempfile.TemporaryDirectory(prefix="chatlab-demo-") as tmp:
            wav = Path(tmp) / "audio.wav"
            write_wav(wav, track, SAMPLE_RATE)
            encode_mp4(media, wav, duration_s, layers)
    else:
        write_wav(media, track, SAMPLE_RATE)
    return DemoStream(name, media, chat_path, truth_path, duration_s)


def make_demo(out_dir: Path, streams: int = 3, minutes: float = 3.0, seed: int = 0,
              progress: Callable[[str], None] | None = None, *, video: bool = True,
              overlay: bool = False) -> list[DemoStream]:
    """Streams demo_01, demo_02, ... with seeds seed, seed + 1, ..."""
    return [make_demo_stream(out_dir, f"demo_{i + 1:02d}", seed + i, minutes, video=video, overlay=overlay,
                             progress=progress)
            for i in range(streams)]
