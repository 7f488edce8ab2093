"""A busy game picture behind chat looks: a drifting textured background, sprites moving every
way, and text of its own that changes and moves: a scoreboard with a clock, a HUD, captions,
damage numbers that float *upward* (as chat does), a ticker, a webcam box.

All of it is drawn from one seed; it is what a chat region finder and reader must not mistake for
chat.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFont

CAPTIONS = ("Watch out for the dragon!", "Narrator: the castle gates open at dawn", "Press E to interact",
            "Quest updated: find the lost sword", "[music playing]", "Guard: halt, who goes there?",
            "Checkpoint reached", "Level 3 - The Dark Forest", "You found 25 gold", "Boss: you cannot win")
TICKER = ("Welcome to the stream! Follow for more  *  New video every Friday  *  Use code COZY for 10% off  *  "
          "Next goal: 500 followers  *  ")


def _texture(rng: np.random.Generator, w: int, h: int) -> Image.Image:
    """Smooth coloured noise with hard-edged shapes on it, tileable enough for a slow drift."""
    small = rng.random((h // 80 + 2, w // 80 + 2, 3)) * 200 + 20
    img = Image.fromarray(small.astype(np.uint8), "RGB").resize((w, h), Image.BICUBIC)
    d = ImageDraw.Draw(img)
    for _ in range(60):
        x, y = int(rng.integers(0, w)), int(rng.integers(0, h))
        s = int(rng.integers(10, 120))
        color = tuple(int(v) for v in rng.integers(0, 256, 3))
        if rng.random() < 0.5:
            d.rectangle([x, y, x + s, y + int(rng.integers(5, 80))], fill=color)
        else:
            d.ellipse([x, y, x + s, y + s], fill=color)
    for _ in range(25):  # thin bright lines: edges like text strokes
        x, y = int(rng.integers(0, w)), int(rng.integers(0, h))
        d.line([x, y, x + int(rng.integers(-200, 200)), y + int(rng.integers(-30, 30))],
               fill=tuple(int(v) for v in rng.integers(150, 256, 3)), width=int(rng.integers(1, 4)))
    return img


class BusyScene:
    def __init__(self, seed: int, size: tuple[int, int], fonts: list[str],
                 avoid: tuple[int, int, int, int] | None = None) -> None:
        """`avoid`: the chat box; the layout's fixed parts (scoreboard, HUD, captions, webcam,
        ticker) stay off it, as a streamer's layout keeps them; sprites and damage numbers do not."""
        rng = np.random.default_rng([seed, 77])
        self.rng_seed = seed
        self.w, self.h = size
        self.texture = _texture(rng, 2 * self.w, 2 * self.h)
        self.drift = (float(rng.uniform(-40, 40)), float(rng.uniform(-25, 25)))  # px/s
        n = int(rng.integers(6, 14))
        self.sprites = [(float(rng.uniform(0, self.w)), float(rng.uniform(0, self.h)), float(rng.uniform(-150, 150)),
                         float(rng.uniform(-120, 120)), int(rng.integers(15, 90)),
                         tuple(int(v) for v in rng.integers(0, 256, 3)), bool(rng.random() < 0.5)) for _ in range(n)]

        def font(px: int) -> ImageFont.FreeTypeFont:
            return ImageFont.truetype(fonts[int(rng.integers(len(fonts)))], px)

        self.score_font, self.hud_font, self.cap_font = font(int(rng.integers(20, 34))), font(18), font(int(rng.integers(20, 30)))
        self.float_font, self.tick_font = font(int(rng.integers(16, 28))), font(16)
        ax, ay, aw, ah = avoid or (0, 0, 0, 0)

        def place(w: int, h: int, xs: tuple[int, int], ys: tuple[int, int]) -> tuple[int, int]:
            for _ in range(200):
                x, y = int(rng.integers(*xs)), int(rng.integers(*ys))
                if x + w < ax or x > ax + aw or y + h < ay or y > ay + ah:
                    return x, y
            return x, y

        self.score_pos = place(420, 50, (0, self.w - 420), (4, 60))
        self.hud_pos = place(330, 40, (10, self.w - 330), (self.h - 110, self.h - 40))
        self.cam = place(220, 160, (0, self.w - 220), (0, self.h - 160))
        self.ticker_y = place(self.w - 1, 24, (0, 1), (0, self.h - 24))[1] if ah < self.h - 60 else -100
        self.cap_y = place(520, 36, (self.w // 2 - 260, self.w // 2 - 259), (self.h // 2, self.h - 36))[1]
        # damage numbers: (start time, x, y, text)
        self.floats = [(float(t), float(rng.uniform(0, self.w - 80)), float(rng.uniform(80, self.h - 20)),
                        str(rng.choice(["-25", "-120", "+50 XP", "CRIT!", "-7", "+1 LVL", "MISS", "-300"])))
                       for t in np.cumsum(rng.exponential(0.6, 2000))]
        self.captions = [str(c) for c in rng.permutation(CAPTIONS)]

    def draw(self, frame: Image.Image, index: int, t: float) -> None:
        ox = int(t * self.drift[0]) % self.w
        oy = int(t * self.drift[1]) % self.h
        frame.paste(self.texture.crop((ox, oy, ox + self.w, oy + self.h)), (0, 0))
        d = ImageDraw.Draw(frame)
        for x, y, vx, vy, s, color, round_ in self.sprites:
            px = (x + vx * t) % (self.w + s) - s
            py = (y + vy * t) % (self.h + s) - s
            (d.ellipse if round_ else d.rectangle)([px, py, px + s, py + s], fill=color)
        cx, cy = self.cam  # webcam: a face that moves about
        d.rectangle([cx, cy, cx + 220, cy + 160], fill=(60, 50, 45), outline=(255, 255, 255), width=2)
        fx = cx + 110 + 30 * np.sin(t * 1.3)
        fy = cy + 80 + 12 * np.sin(t * 2.1)
        d.ellipse([fx - 35, fy - 45, fx + 35, fy + 45], fill=(225, 180, 150))
        sec = int(t)
        board = f"BLUE {sec // 17 % 10}  -  {sec // 23 % 10} RED   {sec // 60:02d}:{sec % 60:02d}"
        d.rectangle([self.score_pos[0] - 8, self.score_pos[1] - 4, self.score_pos[0] + self.score_font.getlength(board) + 8,
                     self.score_pos[1] + self.score_font.size + 8], fill=(20, 20, 60))
        d.text(self.score_pos, board, font=self.score_font, fill=(255, 255, 255))
        hp = 100 - (sec * 7) % 100
        d.text(self.hud_pos, f"HP {hp}/100   AMMO {30 - sec % 31}", font=self.hud_font, fill=(255, 230, 80),
               stroke_width=1, stroke_fill=(0, 0, 0))
        d.rectangle([self.hud_pos[0], self.hud_pos[1] + 24, self.hud_pos[0] + 2 * hp, self.hud_pos[1] + 32], fill=(220, 40, 40))
        cap = self.captions[int(t // 3.5) % len(self.captions)]
        cw = self.cap_font.getlength(cap)
        d.text(((self.w - cw) / 2, self.cap_y), cap, font=self.cap_font, fill=(255, 255, 255), stroke_width=2,
               stroke_fill=(0, 0, 0))
        tx = -int(t * 80) % int(self.tick_font.getlength(TICKER))
        d.rectangle([0, self.ticker_y, self.w, self.ticker_y + 22], fill=(150, 20, 20))
        for k in (-1, 0, 1):
            d.text((tx + k * self.tick_font.getlength(TICKER), self.ticker_y + 2), TICKER, font=self.tick_font,
                   fill=(255, 255, 255))
        for t0, x, y, text in self.floats:
            if t0 > t:
                break
            age = t - t0
            if age < 1.5:  # rises 60 px/s for 1.5 s
                d.text((x, y - 60 * age), text, font=self.float_font, fill=(255, 80, 60), stroke_width=1,
                       stroke_fill=(0, 0, 0))
