"""A short video of chat in a Look over a busy scene, with its ground truth: what the OCR
benchmark reads (``chatlab bench ocr``).

``make_look_clip(dir, seed, seconds)`` writes ``look<seed>.mp4`` (H.264, silent AAC) and
``look<seed>.truth.json``: the look, the chat box, and each message with the time of the first
frame that shows it and its on-screen text. Chat comes from the demo's cast and phrases, at the
look's rate, with bursts, commands with bot answers and copypastas (long lines that wrap).
"""

from __future__ import annotations

import json
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .audio import write_wav
from .busy_scene import BusyScene
from .chat import (COMMANDS, COPYPASTAS, GREETINGS, OTHER, REACT_PLAIN, REACT_WITH_KEYWORD, SPAM_EMOTES,
                   ChatMessage, make_cast)
from .files import write_json
from .look_overlay import LookOverlay, shown_text
from .looks import Look, draw_look, installed_families
from .video import encode_mp4

FPS = 10
KEYWORDS = ("dragon", "castle", "sword", "boss", "potion", "shield", "bridge", "forest", "chest", "armor")


def look_chat(rng: np.random.Generator, duration_s: float, per_min: float) -> list[ChatMessage]:
    """Chat at about `per_min` messages a minute, sorted by time (``t_speech`` is the arrival)."""
    streamer, viewers, bots = make_cast(rng)
    weights = 1.0 / np.arange(1, len(viewers) + 1) ** 0.8
    weights = weights[rng.permutation(len(viewers))] / weights.sum()
    out: list[ChatMessage] = []

    def add(user, text: str, t: float) -> None:
        out.append(ChatMessage(str(uuid.UUID(bytes=rng.bytes(16), version=4)), user, text, "other", round(float(t), 3)))

    def pick():
        return viewers[int(rng.choice(len(viewers), p=weights))]

    t = float(rng.uniform(0.3, 2.0))
    while t < duration_s - 0.5:
        u = rng.random()
        user = pick()
        if u < 0.3:
            add(user, str(rng.choice(REACT_WITH_KEYWORD)).format(kw=str(rng.choice(KEYWORDS))), t)
        elif u < 0.5:
            add(user, str(rng.choice(REACT_PLAIN)), t)
        elif u < 0.62:
            add(user, str(rng.choice(OTHER)), t)
        elif u < 0.7:
            add(user, str(rng.choice(GREETINGS)).format(streamer=streamer.display_name), t)
        elif u < 0.8:  # an emote burst: others join within seconds
            for i in range(int(rng.integers(1, 4))):
                emote = str(rng.choice(SPAM_EMOTES))
                add(pick(), " ".join([emote] * int(rng.integers(1, 4))), t + 0.8 * i)
        elif u < 0.88:
            command = str(rng.choice(list(COMMANDS)))
            bot, reply = COMMANDS[command]
            add(user, command, t)
            add(bots[bot], reply.format(streamer=streamer.display_name, login=streamer.login, user=user.display_name,
                                        minutes=int(t // 60) + 12), t + float(rng.uniform(0.5, 1.5)))
        elif u < 0.93:
            add(user, str(rng.choice(COPYPASTAS)), t)
        else:
            add(streamer, f"thanks for hanging out {user.display_name}", t)
        t += float(rng.exponential(60.0 / per_min))
    return sorted((m for m in out if m.t_speech < duration_s - 0.2), key=lambda m: m.t_speech)


@dataclass(frozen=True)
class LookClip:
    seed: int
    look: Look
    video: Path
    truth: Path
    duration_s: float


def read_look_truth(path: Path) -> dict[str, Any]:
    import json

    return json.loads(Path(path).read_text(encoding="utf-8"))


def make_look_clip(out_dir: Path, seed: int, seconds: float = 60.0, *, size: tuple[int, int] | None = None,
                   chat: bool = True) -> LookClip:
    """Render the clip for a seed (or reuse it when the same seed and length is already there)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    look = draw_look(seed, size) if size else draw_look(seed)
    stem = f"look{seed}_{int(seconds)}s{'' if chat else '_nochat'}{'' if not size else f'_{size[0]}x{size[1]}'}"
    video, truth_path = out_dir / f"{stem}.mp4", out_dir / f"{stem}.truth.json"
    if video.exists() and truth_path.exists():
        t = read_look_truth(truth_path)
        if t.get("look") == json.loads(json.dumps(look.to_json())):  # tuples come back from JSON as lists
            return LookClip(seed, look, video, truth_path, seconds)
    rng = np.random.default_rng([seed, 4242])
    messages = look_chat(rng, seconds, look.rate_per_min) if chat else []
    overlay = LookOverlay(look, messages, FPS, seconds)
    first = overlay.on_screen()
    by_id = {m.msg_id: m for m in messages}
    rows = sorted(({"t_s": round(k / FPS, 3), "user": by_id[i].user.display_name,
                    "text": shown_text(by_id[i].text, look), "typed": by_id[i].text} for i, k in first.items()),
                  key=lambda r: r["t_s"])
    truth = {"look": look.to_json(), "seed": seed, "duration_s": seconds, "fps": FPS, "size": list(look.size),
             "region": list(look.box) if chat else None, "messages": rows}
    fonts = [f for _, f, _ in installed_families()]
    layers = [BusyScene(look.scene_seed, look.size, fonts, look.box if chat else None)] + ([overlay] if chat else [])
    with tempfile.TemporaryDirectory(prefix="chatlab-look-") as tmp:
        wav = Path(tmp) / "silence.wav"
        write_wav(wav, np.zeros(int(seconds * 16000), np.float32), 16000)
        encode_mp4(video, wav, seconds, layers, fps=FPS, size=look.size)
    write_json(truth_path, truth, indent=1)
    return LookClip(seed, look, video, truth_path, seconds)
