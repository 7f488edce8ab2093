"""Chat drawn in a Look (looks.py) as a video layer, and what each message shows as on screen.

Newest message at the bottom of the chat box, older ones above it, cut at the box's top; in a
"fade" look a message fades out ``fade_after_s`` after it arrived. Emote words are drawn as
pictures when the look says so; a reader cannot read those, so the on-screen text (``shown_text``)
leaves them out, and that is what OCR is scored against.
"""

from __future__ import annotations

import bisect
import math
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

from PIL import Image, ImageDraw, ImageFont

from .chat import THIRD_PARTY_EMOTES, TWITCH_EMOTES, ChatMessage
from .looks import Look

BADGE_COLORS = {"broadcaster": (233, 25, 22), "moderator": (0, 173, 3), "vip": (224, 5, 185),
                "subscriber": (130, 80, 220), "partner": (145, 70, 255), "bits": (200, 200, 60)}
EMOTE_WORDS = frozenset(TWITCH_EMOTES) | frozenset(THIRD_PARTY_EMOTES)
FADE_S = 1.0


def shown_text(text: str, look: Look) -> str:
    """The message text as a reader can see it: emote pictures are not text."""
    if not look.emote_images:
        return text
    return " ".join(w for w in text.split() if w not in EMOTE_WORDS)


def _rgb(color: str) -> tuple[int, int, int]:
    c = color.lstrip("#")
    r, g, b = int(c[0:2], 16), int(c[2:4], 16), int(c[4:6], 16)
    return r, g, b


def name_color(color: str, look: Look) -> tuple[int, int, int]:
    """The viewer's colour (or the look's one colour), made readable on the look's background."""
    r, g, b = _rgb(look.one_color if look.name_colors == "one" else color)
    light_bg = look.panel == "opaque" and sum(look.panel_rgb) > 450
    lum = 0.299 * r + 0.587 * g + 0.114 * b
    if light_bg and lum > 150:
        r, g, b = (int(v * 0.55) for v in (r, g, b))
    elif not light_bg and lum < 110:
        r, g, b = (int(v + (255 - v) * 0.45) for v in (r, g, b))
    return r, g, b


@dataclass
class _Laid:
    arrival: int  # frame
    height: int
    image: Image.Image  # RGBA, the message alone on a transparent ground


class LookOverlay:
    def __init__(self, look: Look, messages: Sequence[ChatMessage], fps: int, duration_s: float) -> None:
        self.look = look
        self.fps = fps
        x, y, w, h = look.box
        self.box = look.box
        self.font = ImageFont.truetype(look.bold_font if look.text_bold else look.font, look.font_px)
        self.name_font = ImageFont.truetype(look.bold_font if look.name_bold or look.text_bold else look.font, look.font_px)
        n_frames = math.ceil(duration_s * fps - 1e-9)
        self.arrivals = {m.msg_id: math.ceil(round(m.t_speech * fps, 6)) for m in messages}
        self.laid = sorted((self._layout(m, self.arrivals[m.msg_id]) for m in messages if self.arrivals[m.msg_id] < n_frames),
                           key=lambda m: m.arrival)
        self._frames = [m.arrival for m in self.laid]
        self._cache: tuple[tuple, Image.Image] | None = None

    def on_screen(self) -> dict[str, int]:
        """msg_id -> first frame that shows the message (those arriving before the end)."""
        n = self._frames[-1] if self._frames else -1
        return {k: v for k, v in self.arrivals.items() if v <= n}

    # -- one message ---------------------------------------------------------------------------------
    def _layout(self, m: ChatMessage, arrival: int) -> _Laid:
        lk = self.look
        max_w = lk.box[2] - 2 * lk.pad
        pieces: list[tuple] = []  # (kind, x, line, payload)
        x, line = 0, 0
        em = lk.font_px + 2
        if lk.stamp:  # the arrival time on a clock that started at a random hour, dimmer than the text
            t = 3600 * (lk.seed % 11 + 8) + 60 * (lk.seed % 53) + m.t_speech
            stamp = f"{int(t // 3600) % 24:02d}:{int(t // 60) % 60:02d}" + (f":{int(t) % 60:02d}" if lk.stamp == "clock_s" else "")
            dim = tuple(int(v * 0.62 + (128 * 0.38)) for v in lk.text_rgb)
            pieces.append(("text", x, line, (stamp, dim, self.font)))
            x += int(self.font.getlength(stamp + " "))
        if lk.badges:
            for badge, _ in m.user.badges:
                if badge in BADGE_COLORS:
                    pieces.append(("badge", x, line, BADGE_COLORS[badge]))
                    x += lk.font_px + 2
        name = m.user.display_name
        pieces.append(("text", x, line, (name, name_color(m.user.color, lk), self.name_font)))
        x += int(self.name_font.getlength(name))
        if lk.name_above:  # no colon: the text starts on the next line
            line, x = line + 1, 0
        else:
            pieces.append(("text", x, line, (":", lk.text_rgb, self.font)))
            x += int(self.font.getlength(": "))
        space = self.font.getlength(" ")
        for word in m.text.split():
            if lk.emote_images and word in EMOTE_WORDS:
                if x > 0 and x + em > max_w:
                    line, x = line + 1, 0
                pieces.append(("emote", x, line, word))
                x += int(em + space)
                continue
            wl = self.font.getlength(word)
            if x > 0 and x + wl > max_w:
                line, x = line + 1, 0
            while wl > max_w:  # longer than the box: broken where it reaches the edge
                cut = max(1, int(len(word) * (max_w - x) / wl))
                pieces.append(("text", x, line, (word[:cut], lk.text_rgb, self.font)))
                word, line, x = word[cut:], line + 1, 0
                wl = self.font.getlength(word)
            pieces.append(("text", x, line, (word, lk.text_rgb, self.font)))
            x += int(wl + space)
        lines = line + 1
        height = lines * lk.line_h + lk.msg_gap
        img = Image.new("RGBA", (lk.box[2], height), (0, 0, 0, 0))
        d = ImageDraw.Draw(img)
        top_pad = max(0, (lk.line_h - lk.font_px) // 2) - 1
        stroke = max(1, lk.font_px // 11) if lk.effect == "outline" else 0
        for kind, px, ln, payload in pieces:
            X, Y = lk.pad + px, ln * lk.line_h + top_pad
            if kind == "badge":
                s = lk.font_px - 2
                d.rounded_rectangle([X, Y + 2, X + s, Y + 2 + s], radius=3, fill=(*payload, 255))
            elif kind == "emote":
                hue = zlib.crc32(payload.encode()) % 200
                c = (55 + hue, 200 - hue // 2, 90 + hue // 3, 255)
                d.ellipse([X, Y, X + em, Y + em], fill=c)
                d.ellipse([X + em // 4, Y + em // 3, X + em // 4 + 3, Y + em // 3 + 3], fill=(20, 20, 20, 255))
                d.ellipse([X + 3 * em // 4 - 3, Y + em // 3, X + 3 * em // 4, Y + em // 3 + 3], fill=(20, 20, 20, 255))
            else:
                text, color, font = payload
                if lk.effect == "shadow":
                    off = max(1, lk.font_px // 12)
                    d.text((X + off, Y + off), text, font=font, fill=(0, 0, 0, 230))
                d.text((X, Y), text, font=font, fill=(*color, 255), stroke_width=stroke, stroke_fill=(0, 0, 0, 255))
        return _Laid(arrival, height, img)

    # -- the layer -----------------------------------------------------------------------------------
    def _visible(self, index: int) -> list[tuple[_Laid, int]]:
        """(message, alpha 0-255) on screen at a frame, oldest first."""
        upto = bisect.bisect_right(self._frames, index)
        out = []
        for m in self.laid[:upto]:
            alpha = 255
            if self.look.mode == "fade":
                age = (index - m.arrival) / self.fps - self.look.fade_after_s
                if age >= FADE_S:
                    continue
                if age > 0:
                    alpha = int(255 * (1 - age / FADE_S)) // 32 * 32  # steps, so frames can be cached
            out.append((m, alpha))
        return out

    def render(self, index: int) -> Image.Image:
        lk = self.look
        vis = self._visible(index)
        key = tuple((id(m), a) for m, a in vis)
        if self._cache is not None and self._cache[0] == key:
            return self._cache[1]
        w, h = lk.box[2], lk.box[3]
        layer = Image.new("RGBA", (w, h), (*lk.panel_rgb, lk.panel_alpha))
        y = h - lk.pad
        for m, alpha in reversed(vis):
            y -= m.height
            if y + m.height <= 0:
                break
            img = m.image
            if alpha < 255:
                img = img.copy()
                img.putalpha(img.getchannel("A").point(lambda v, a=alpha: v * a // 255))
            layer.alpha_composite(img, (0, y) if y >= 0 else (0, 0), (0, 0) if y >= 0 else (0, -y))
        self._cache = (key, layer)
        return layer

    def draw(self, frame: Image.Image, index: int, t: float) -> None:
        x, y, _, _ = self.box
        layer = self.render(index)
        region = frame.crop((x, y, x + layer.width, y + layer.height)).convert("RGBA")
        region.alpha_composite(layer)
        frame.paste(region.convert("RGB"), (x, y))
