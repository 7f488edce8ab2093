"""Chat overlay looks drawn from a seed: what a chat OCR must cope with on streams it was never
tuned on.

A look fixes the panel (opaque, translucent, or none: text with an outline or a shadow straight on
the video), where the chat sits (left, right, bottom) and how wide, the font family, weight and
size (12-22 px), name colours, badges and emote pictures, line spacing, and whether messages
scroll away or fade out. The scene behind it is busy and has text of its own (busy_scene.py).

The same seed gives the same look on a machine with the same fonts installed (the Debian font
packages in deps/debian-packages.txt); ``look.font`` names the file, so a report says which.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

FRAME = (1280, 720)
FONT_DIRS = (Path("/usr/share/fonts"), Path("/usr/local/share/fonts"))
# (family, regular file, bold file): the fonts of Debian packages that overlays use (sans-serif,
# some condensed); whichever of them are installed take part
FAMILIES = (
    ("DejaVu Sans", "DejaVuSans.ttf", "DejaVuSans-Bold.ttf"),
    ("DejaVu Sans Condensed", "DejaVuSansCondensed.ttf", "DejaVuSansCondensed-Bold.ttf"),
    ("Liberation Sans", "LiberationSans-Regular.ttf", "LiberationSans-Bold.ttf"),
    ("Liberation Sans Narrow", "LiberationSansNarrow-Regular.ttf", "LiberationSansNarrow-Bold.ttf"),
    ("Roboto", "Roboto-Regular.ttf", "Roboto-Bold.ttf"),
    ("Roboto Condensed", "RobotoCondensed-Regular.ttf", "RobotoCondensed-Bold.ttf"),
    ("Open Sans", "OpenSans-Regular.ttf", "OpenSans-Bold.ttf"),
    ("Lato", "Lato-Regular.ttf", "Lato-Bold.ttf"),
    ("Noto Sans", "NotoSans-Regular.ttf", "NotoSans-Bold.ttf"),
    ("FreeSans", "FreeSans.ttf", "FreeSansBold.ttf"),
)
NAME_COLORS = ("#FF0000", "#0000FF", "#008000", "#B22222", "#FF7F50", "#9ACD32", "#FF4500", "#2E8B57",
               "#DAA520", "#D2691E", "#5F9EA0", "#1E90FF", "#FF69B4", "#8A2BE2", "#00FF7F", "#00BFFF",
               "#FFD700", "#FF1493")


@cache
def installed_families() -> tuple[tuple[str, str, str], ...]:
    """(family, regular path, bold path) of the FAMILIES found on this machine, in FAMILIES order."""
    found: dict[str, str] = {}
    for d in FONT_DIRS:
        if d.is_dir():
            for p in d.rglob("*.ttf"):
                found.setdefault(p.name, str(p))
    out = tuple((fam, found[r], found[b]) for fam, r, b in FAMILIES if r in found and b in found)
    if not out:
        raise RuntimeError("no TrueType fonts for chat looks: install the font packages listed in "
                           "deps/debian-packages.txt (`make system`)")
    return out


@dataclass(frozen=True)
class Look:
    seed: int
    size: tuple[int, int]
    panel: str  # "opaque" | "translucent" | "none"
    panel_rgb: tuple[int, int, int]
    panel_alpha: int  # 0-255
    effect: str  # "plain" | "outline" | "shadow"
    side: str  # "left" | "right" | "bottom"
    box: tuple[int, int, int, int]  # x, y, w, h of the chat area in the frame
    family: str
    font: str  # regular face (file path)
    bold_font: str
    name_bold: bool
    text_bold: bool
    font_px: int
    line_h: int
    msg_gap: int
    pad: int
    text_rgb: tuple[int, int, int]
    name_colors: str  # "user" (each viewer their own) | "one" (all names one colour)
    one_color: str
    badges: bool
    emote_images: bool
    mode: str  # "scroll" | "fade"
    fade_after_s: float
    rate_per_min: float
    scene_seed: int
    # drawn apart from the rest (round 4), so the other parts of a seed's look stay as they were
    stamp: str = ""  # "" | "clock" (HH:MM before the name) | "clock_s" (HH:MM:SS)
    name_above: bool = False  # the name on a line of its own, the text on the lines below it

    def describe(self) -> str:
        effect = "" if self.effect == "plain" else f" {self.effect}"
        panel = f"{self.panel}{'' if self.panel != 'translucent' else f' {self.panel_alpha / 255:.0%}'}{effect}"
        weight = "bold" if self.text_bold else "bold names" if self.name_bold else "regular"
        extras = ",".join(x for x, on in (("badges", self.badges), ("emote pics", self.emote_images),
                                          ("time stamps", bool(self.stamp)), ("name above text", self.name_above)) if on)
        return (f"{panel}, {self.side} {self.box[2]}px, {self.family} {self.font_px}px {weight}, "
                f"{self.mode}{f' {self.fade_after_s:.0f}s' if self.mode == 'fade' else ''}"
                f"{', ' + extras if extras else ''}")

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["describe"] = self.describe()
        return d


def draw_look(seed: int, size: tuple[int, int] = FRAME) -> Look:
    """The look for a seed (deterministic for one set of installed fonts)."""
    rng = np.random.default_rng([seed, 1201])
    W, H = size
    panel = str(rng.choice(["opaque", "translucent", "none"], p=[0.3, 0.4, 0.3]))
    light = panel == "opaque" and rng.random() < 0.2  # a light theme: dark text on a pale panel
    if light:
        panel_rgb = tuple(int(v) for v in rng.integers(225, 250, 3))
        text_rgb = tuple(int(v) for v in rng.integers(10, 50, 3))
    else:
        panel_rgb = tuple(int(v) for v in rng.integers(0, 45, 3))
        text_rgb = tuple(int(v) for v in rng.integers(215, 256, 3))
    alpha = 255 if panel == "opaque" else int(rng.integers(90, 190)) if panel == "translucent" else 0
    if panel == "none":
        effect = str(rng.choice(["outline", "shadow"]))
    elif panel == "translucent":
        effect = str(rng.choice(["plain", "shadow", "outline"], p=[0.5, 0.3, 0.2]))
    else:
        effect = "plain"
    side = str(rng.choice(["left", "right", "bottom"], p=[0.4, 0.4, 0.2]))
    scale = H / 720
    if side == "bottom":
        w = int(rng.integers(int(0.35 * W), int(0.6 * W)))
        h = int(rng.integers(int(0.22 * H), int(0.34 * H)))
        x = int(rng.integers(int(0.02 * W), W - w - int(0.02 * W)))
        y = H - h - int(rng.integers(int(0.02 * H), int(0.06 * H)))
    else:
        w = int(rng.integers(int(240 * scale), int(430 * scale)))
        y = int(rng.integers(0, int(0.25 * H)))
        h = int(rng.integers(int(0.5 * H), H - y + 1))
        margin = int(rng.integers(0, int(0.04 * W)))
        x = margin if side == "left" else W - w - margin
    families = installed_families()
    family, font, bold = families[int(rng.integers(len(families)))]
    font_px = int(rng.integers(12, 23))
    spacing = float(rng.uniform(1.15, 1.6))
    name_colors = "one" if rng.random() < 0.2 else "user"
    return Look(
        seed=seed, size=size, panel=panel, panel_rgb=panel_rgb, panel_alpha=alpha, effect=effect, side=side,
        box=(x, y, w, h), family=family, font=font, bold_font=bold, name_bold=bool(rng.random() < 0.7),
        text_bold=bool(rng.random() < 0.15), font_px=font_px, line_h=int(round(font_px * spacing)),
        msg_gap=int(rng.integers(0, 9)), pad=int(rng.integers(4, 13)), text_rgb=text_rgb,
        name_colors=name_colors, one_color=str(rng.choice(NAME_COLORS)), badges=bool(rng.random() < 0.6),
        emote_images=bool(rng.random() < 0.5), mode=str(rng.choice(["scroll", "fade"], p=[0.6, 0.4])),
        fade_after_s=float(rng.uniform(6, 20)), rate_per_min=float(rng.uniform(12, 45)),
        scene_seed=int(rng.integers(1 << 30)),
        **_layout_extras(seed),
    )


def _layout_extras(seed: int) -> dict[str, Any]:
    """What real chat layouts add: a time stamp before the name, the name above the text."""
    rng = np.random.default_rng([seed, 1202])
    u = rng.random()
    stamp = "clock" if u < 0.2 else "clock_s" if u < 0.28 else ""
    return {"stamp": stamp, "name_above": bool(rng.random() < 0.2)}
