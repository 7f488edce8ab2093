"""A frame of the video with the chat region and the other candidates drawn on it: what a person
looks at to see why a region was (or was not) found, and to pick one by hand
(``chatlab ocr VIDEO --frame 60 --picture out.png``; the chat_ocr check's metadata)."""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from chatlab.ocr.region import Candidate, Region


def frame_at(video: str | Path, t_s: float) -> np.ndarray:
    """The first decodable frame at or after t_s (the last one when the video is shorter), RGB."""
    import av

    from chatlab.ocr.frames import VideoError

    last = None
    try:
        with av.open(str(video)) as c:
            s = c.streams.video[0]
            tb = float(s.time_base)
            if t_s > 0:
                c.seek(int(t_s / tb), stream=s, backward=True)
            for packet in c.demux(s):
                try:
                    frames = packet.decode()
                except av.error.FFmpegError:  # type: ignore[attr-defined]
                    continue
                for f in frames:
                    last = f
                    if f.pts is not None and f.pts * tb >= t_s - 1e-6:
                        return f.to_ndarray(format="rgb24")
    except (av.error.FFmpegError, OSError, IndexError) as e:  # type: ignore[attr-defined]
        raise VideoError(f"{video}: cannot read a frame at {t_s:.1f} s ({e})") from e
    if last is None:
        raise VideoError(f"{video}: no decodable frame")
    return last.to_ndarray(format="rgb24")


def draw(frame: np.ndarray, chosen: Region | None, candidates: Sequence[Candidate] = (), title: str = "") -> bytes:
    """PNG of the frame (shrunk to at most 1280 px wide): candidates in orange with their rank and
    share of the evidence, the chosen region in green."""
    from PIL import Image, ImageDraw

    img = Image.fromarray(frame)
    k = min(1.0, 1280 / img.width)
    if k < 1:
        img = img.resize((int(img.width * k), int(img.height * k)))
    d = ImageDraw.Draw(img)

    def box(r: Region, color: tuple[int, int, int], label: str, width: int) -> None:
        x0, y0, x1, y1 = r.x * k, r.y * k, (r.x + r.w) * k, (r.y + r.h) * k
        d.rectangle([x0, y0, x1, y1], outline=color, width=width)
        d.rectangle([x0, y0, x0 + 7 * len(label) + 6, y0 + 14], fill=color)
        d.text((x0 + 3, y0 + 1), label, fill=(0, 0, 0))

    for i, c in enumerate(candidates):
        box(c.region, (255, 160, 0), f"#{i + 1} {c.evidence:.0%} {c.region}", 2)
    if chosen is not None:
        box(chosen, (0, 230, 60), f"chat {chosen}", 3)
    if title:
        d.rectangle([0, img.height - 18, img.width, img.height], fill=(0, 0, 0))
        d.text((4, img.height - 16), title[:180], fill=(255, 255, 255))
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()
