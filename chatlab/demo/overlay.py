"""A Twitch-like chat panel drawn into the video: dark panel on the right, badges, bold coloured
user names, wrapped lines, newest at the bottom, older ones scrolling off the top.

This is what OCR benchmarks read. A message appears on the broadcaster's screen when it arrives,
``latency_s`` after the audio moment the viewer typed (the stream's delay to viewers). It first
shows on the first frame at or after that time; ``first_frames`` computes that without rendering,
so the ground truth can be written before the video.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from dataclasses import dataclass

from PIL import Image, ImageDraw, ImageFont

from .chat import ChatMessage

PANEL_W = 220
PAD = 8
FONT_PX = 13
LINE_H = 17
MSG_GAP = 4
BG = (24, 24, 27)
TEXT = (239, 239, 241)
BADGE_COLORS = {"broadcaster": (233, 25, 22), "moderator": (0, 173, 3), "vip": (224, 5, 185),
                "subscriber": (130, 80, 220), "partner": (145, 70, 255)}
BADGE_PX = 11


@dataclass(frozen=True)
class _Shown:
    msg_id: str
    frame: int  # first frame it is on screen
    # drawn pieces: (x, line, text, colour, bold); badges: (x, line, colour)
    pieces: tuple[tuple[int, int, str, tuple[int, int, int], bool], ...]
    badges: tuple[tuple[int, int, tuple[int, int, int]], ...]
    lines: int

    @property
    def height(self) -> int:
        return self.lines * LINE_H + MSG_GAP


def first_frames(messages: Sequence[ChatMessage], latency_s: float, fps: int, duration_s: float) -> dict[str, int]:
    """msg_id -> index of the first frame that shows it (only messages that arrive before the end)."""
    n_frames = math.ceil(duration_s * fps - 1e-9)
    out = {}
    for m in messages:
        k = math.ceil(round((m.t_speech + latency_s) * fps, 6))
        if k < n_frames:
            out[m.msg_id] = max(k, 0)
    return out


def _readable(color: str) -> tuple[int, int, int]:
    """The user's colour, lightened where it would vanish on the dark panel (as Twitch does)."""
    c = color.lstrip("#")
    r, g, b = int(c[0:2], 16), int(c[2:4], 16), int(c[4:6], 16)
    if 0.299 * r + 0.587 * g + 0.114 * b < 110:
        r, g, b = (int(v + (255 - v) * 0.45) for v in (r, g, b))
    return r, g, b


class ChatOverlay:
    """A video layer (see video.Layer); re-renders the panel only when a message arrives."""

    def __init__(self, messages: Sequence[ChatMessage], latency_s: float, fps: int, duration_s: float,
                 size: tuple[int, int]) -> None:
        self.width, self.height = PANEL_W, size[1]
        self.x0 = size[0] - PANEL_W
        self.font = ImageFont.load_default(size=FONT_PX)
        frames = first_frames(messages, latency_s, fps, duration_s)
        by_id = {m.msg_id: m for m in messages}
        order = sorted(frames, key=lambda i: (frames[i], by_id[i].t_speech))
        self.shown = [self._layout(by_id[i], frames[i]) for i in order]
        self._frames = [s.frame for s in self.shown]
        self._cached: tuple[int, Image.Image] | None = None

    @property
    def box(self) -> tuple[int, int, int, int]:
        return self.x0, 0, self.x0 + self.width, self.height

    def _layout(self, m: ChatMessage, frame: int) -> _Shown:
        """Badges, then the name in bold colour, then ': ' and the text, wrapped at word boundaries."""
        font = self.font
        max_x = self.width - 2 * PAD
        badges, pieces = [], []
        x, line = 0, 0
        for badge, _ in m.user.badges:
            if badge in BADGE_COLORS:
                badges.append((x, line, BADGE_COLORS[badge]))
                x += BADGE_PX + 3
        name = m.user.display_name
        pieces.append((x, line, name, _readable(m.user.color), True))
        x += int(font.getlength(name)) + 1
        pieces.append((x, line, ":", TEXT, False))
        x += int(font.getlength(": "))
        space = font.getlength(" ")
        for word in m.text.split():
            w = font.getlength(word)
            if x > 0 and x + w > max_x:
                line, x = line + 1, 0
            while w > max_x:  # a word longer than the panel: break it
                cut = max(1, int(len(word) * (max_x - x) / w))
                pieces.append((x, line, word[:cut], TEXT, False))
                word, line, x = word[cut:], line + 1, 0
                w = font.getlength(word)
            pieces.append((x, line, word, TEXT, False))
            x += int(w + space)
        return _Shown(m.msg_id, frame, tuple(pieces), tuple(badges), line + 1)

    def _render(self, upto: int) -> Image.Image:
        """The panel with messages shown[:upto], newest at the bottom."""
        panel = Image.new("RGB", (self.width, self.height), BG)
        d = ImageDraw.Draw(panel)
        y = self.height - PAD
        for s in reversed(self.shown[:upto]):
            y -= s.height
            if y + s.height <= 0:
                break
            for bx, line, color in s.badges:
                top = y + line * LINE_H + 3
                d.rectangle([PAD + bx, top, PAD + bx + BADGE_PX - 1, top + BADGE_PX - 1], fill=color)
            for px, line, text, color, bold in s.pieces:
                pos = (PAD + px, y + line * LINE_H)
                d.text(pos, text, font=self.font, fill=color)
                if bold:  # the default font has no bold face: draw it twice, one pixel apart
                    d.text((pos[0] + 1, pos[1]), text, font=self.font, fill=color)
        return panel

    def draw(self, frame: Image.Image, index: int, t: float) -> None:
        upto = bisect.bisect_right(self._frames, index)
        if self._cached is None or self._cached[0] != upto:
            self._cached = (upto, self._render(upto))
        frame.paste(self._cached[1], (self.x0, 0))
