"""The demo stream's picture: a small side-scrolling "game" with a live clock, encoded with the
ffmpeg binary from the imageio-ffmpeg wheel together with the soundtrack.

A frame is built by layers, each ``draw(frame, index, t)`` on a Pillow image, bottom first: the
game scene, then optionally the chat overlay (overlay.py). Frames are generated one at a time and
piped to ffmpeg as raw RGB, so memory stays flat however long the stream is.
"""

from __future__ import annotations

import functools
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from chatlab.media.audio import ffmpeg_exe

from .files import replacing

WIDTH, HEIGHT, FPS = 640, 360, 10
AUDIO_RATE, AUDIO_CHANNELS = 48_000, 2  # what a Twitch VOD carries (AAC, 48 kHz stereo)
_VIDEO_CODECS = ("libx264", "libopenh264", "mpeg4")  # first one the ffmpeg build has


class Layer(Protocol):
    def draw(self, frame: Image.Image, index: int, t: float) -> None: ...


@functools.cache
def video_codec() -> str:
    out = subprocess.run([ffmpeg_exe(), "-hide_banner", "-encoders"], capture_output=True, text=True, check=True).stdout
    names = {line.split()[1] for line in out.splitlines() if len(line.split()) > 1 and line.startswith(" V")}
    for codec in _VIDEO_CODECS:
        if codec in names:
            return codec
    raise RuntimeError(f"ffmpeg at {ffmpeg_exe()} has none of the video encoders {', '.join(_VIDEO_CODECS)}")


class GameScene:
    """Hills, trees and a castle scrolling past a bobbing hero, with a LIVE clock in the corner."""

    SCROLL_PX_S = 24.0

    def __init__(self, rng: np.random.Generator, width: int = WIDTH, height: int = HEIGHT) -> None:
        self.width, self.height = width, height
        self.background = self._background(rng, 2 * width, height)  # repeats every `width` px
        self.font = ImageFont.load_default(size=14)

    @staticmethod
    def _background(rng: np.random.Generator, w: int, h: int) -> Image.Image:
        """Sky, hills, trees and a castle on a strip twice the screen wide whose picture repeats every
        w/2 pixels (each shape is drawn at x - p, x, x + p), so scrolling can wrap without a seam."""
        top, bottom = np.array([70, 110, 190]), np.array([170, 200, 235])
        sky = top + (bottom - top) * np.linspace(0, 1, h)[:, None]
        img = Image.fromarray(np.repeat(sky[:, None, :], w, axis=1).astype(np.uint8), "RGB")
        d = ImageDraw.Draw(img)
        period = w // 2
        ground = int(h * 0.72)
        shapes: list[tuple[str, list, tuple[int, int, int]]] = []
        for x0 in range(0, period, 160):
            x = x0 + int(rng.integers(0, 60))
            shapes.append(("ellipse", [x, ground - int(rng.integers(60, 140)), x + 260, ground + 120], (80, 140, 90)))
        cx = int(rng.integers(period // 4, 3 * period // 4))
        shapes.append(("rect", [cx, ground - 110, cx + 120, ground], (150, 150, 160)))
        for tx in (cx - 10, cx + 90):
            shapes.append(("rect", [tx, ground - 150, tx + 40, ground], (130, 130, 145)))
            shapes.append(("poly", [(tx - 6, ground - 150), (tx + 46, ground - 150), (tx + 20, ground - 190)], (170, 60, 60)))
        shapes.append(("rect", [cx + 45, ground - 45, cx + 75, ground], (70, 50, 40)))
        for _ in range(8):
            tx = int(rng.integers(0, period))
            if cx - 60 < tx < cx + 160:
                continue
            shapes.append(("rect", [tx + 12, ground - 20, tx + 18, ground], (100, 70, 40)))
            shapes.append(("poly", [(tx, ground - 18), (tx + 30, ground - 18), (tx + 15, ground - 70)], (40, 110, 50)))
        for shift in (-period, 0, period, 2 * period):
            for kind, pts, color in shapes:
                if kind == "poly":
                    d.polygon([(x + shift, y) for x, y in pts], fill=color)
                else:
                    box = [pts[0] + shift, pts[1], pts[2] + shift, pts[3]]
                    (d.ellipse if kind == "ellipse" else d.rectangle)(box, fill=color)
        d.rectangle([0, ground, w, h], fill=(90, 160, 70))  # over the hills' lower halves
        d.rectangle([0, ground + 40, w, h], fill=(120, 95, 60))
        return img

    def draw(self, frame: Image.Image, index: int, t: float) -> None:
        x = int(t * self.SCROLL_PX_S) % self.width
        frame.paste(self.background.crop((x, 0, x + self.width, self.height)), (0, 0))
        d = ImageDraw.Draw(frame)
        ground = int(self.height * 0.72)
        bob = int(4 * abs(np.sin(t * 4.0)))
        hx = self.width // 4
        d.rectangle([hx, ground - 44 - bob, hx + 26, ground - bob], fill=(230, 190, 60), outline=(40, 30, 20))
        d.rectangle([hx + 15, ground - 36 - bob, hx + 20, ground - 30 - bob], fill=(20, 20, 20))
        clock = f"LIVE  {int(t // 3600):d}:{int(t // 60) % 60:02d}:{int(t) % 60:02d}"
        d.rectangle([8, 8, 20 + int(self.font.getlength(clock)), 30], fill=(200, 30, 30))
        d.text((14, 11), clock, font=self.font, fill=(255, 255, 255))


def encode_mp4(path: Path, audio_wav: Path, duration_s: float, layers: Sequence[Layer], fps: int = FPS,
               size: tuple[int, int] = (WIDTH, HEIGHT)) -> None:
    """Render the layers frame by frame and encode them with the soundtrack into `path` (MP4:
    H.264 + AAC 48 kHz stereo), under a hidden temporary name until complete."""
    n_frames = int(np.ceil(duration_s * fps - 1e-9))
    codec = video_codec()
    quality = ["-preset", "veryfast", "-crf", "28"] if codec == "libx264" else ["-q:v", "5"] if codec == "mpeg4" else []
    with replacing(path) as tmp, tempfile.TemporaryFile() as log:
        cmd = [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y",
               "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{size[0]}x{size[1]}", "-r", str(fps), "-i", "pipe:0",
               "-i", str(audio_wav), "-map", "0:v:0", "-map", "1:a:0",
               "-c:v", codec, *quality, "-pix_fmt", "yuv420p", "-g", str(fps * 2),
               "-c:a", "aac", "-b:a", "128k", "-ar", str(AUDIO_RATE), "-ac", str(AUDIO_CHANNELS),
               "-movflags", "+faststart", "-f", "mp4", str(tmp)]
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stderr=log)
        assert proc.stdin is not None
        frame = Image.new("RGB", size)
        try:
            for i in range(n_frames):
                t = i / fps
                for layer in layers:
                    layer.draw(frame, i, t)
                proc.stdin.write(frame.tobytes())
            proc.stdin.close()
        except BrokenPipeError:
            pass  # ffmpeg died; its exit code and log say why
        if proc.wait() != 0:
            log.seek(0)
            raise RuntimeError(f"ffmpeg failed writing {path.name}: {log.read().decode(errors='replace').strip()[-2000:]}")
