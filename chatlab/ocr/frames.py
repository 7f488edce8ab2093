"""Frame sampling of the chat region with PyAV.

Every frame must be decoded (H.264 P-frames depend on their predecessors), but only the chat
region is ever converted to RGB: for planar YUV 4:2:0 the three planes are cropped first and only
that small block goes through the colour conversion, so a 1080p source costs little more than the
decode itself. Frames between two samples are kept (cropped, at most ``max_between`` of them) so the
reader can find the exact frame where a message first showed without a second pass.

A packet that fails to decode becomes a ``Sample`` with ``error`` set; the run goes on.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from chatlab.ocr.region import Region


@dataclass(frozen=True)
class VideoInfo:
    path: Path
    width: int
    height: int
    fps: float
    duration_s: float
    codec: str


@dataclass
class Sample:
    """One sampled frame's chat region (RGB uint8, h x w x 3), or the reason it could not be read."""

    t_s: float
    image: np.ndarray | None
    error: str | None = None
    # (t_s, image) of decoded frames after the previous sample and before this one, oldest first
    between: list[tuple[float, np.ndarray]] = field(default_factory=list)


class VideoError(ValueError):
    """The file cannot be opened as a video; the message names the file and why."""


def probe(path: str | Path) -> VideoInfo:
    """Size, frame rate and duration of the first video stream; VideoError when there is none."""
    import av

    path = Path(path)
    try:
        with av.open(str(path)) as c:
            if not c.streams.video:
                raise VideoError(f"{path}: no video stream (audio only?); OCR needs the picture")
            s = c.streams.video[0]
            fps = float(s.average_rate or s.guessed_rate or 0) or 30.0
            if s.duration is not None and s.time_base is not None:
                dur = float(s.duration * s.time_base)
            elif c.duration is not None:
                dur = c.duration / 1_000_000
            else:
                dur = float("nan")
            return VideoInfo(path, s.codec_context.width, s.codec_context.height, fps, dur, s.codec_context.name)
    except VideoError:
        raise
    except (av.error.FFmpegError, OSError) as e:  # type: ignore[attr-defined]
        raise VideoError(f"{path}: cannot open as video ({e})") from e


def _crop_rgb(frame, region: Region) -> np.ndarray:
    """The region of an av.VideoFrame as RGB, converting only the region where the layout allows."""
    import cv2

    x, y, w, h = region.x, region.y, region.w, region.h
    if frame.format.name in ("yuv420p", "yuvj420p") and x % 2 == 0 and y % 2 == 0 and w % 2 == 0 and h % 2 == 0:
        planes = []
        for i, (px, py, pw, ph) in enumerate(((x, y, w, h), (x // 2, y // 2, w // 2, h // 2), (x // 2, y // 2, w // 2, h // 2))):
            p = frame.planes[i]
            full_h = frame.height if i == 0 else (frame.height + 1) // 2
            a = np.frombuffer(p, np.uint8).reshape(full_h, p.line_size)
            planes.append(a[py:py + ph, px:px + pw])
        i420 = np.concatenate([planes[0], planes[1].reshape(h // 4, w), planes[2].reshape(h // 4, w)]) if h % 4 == 0 else None
        if i420 is not None:
            return cv2.cvtColor(i420, cv2.COLOR_YUV2RGB_I420)
        # odd chroma row count: upsample chroma by hand
        u = np.repeat(np.repeat(planes[1], 2, 0), 2, 1)
        v = np.repeat(np.repeat(planes[2], 2, 0), 2, 1)
        return cv2.cvtColor(np.dstack([planes[0], u, v]), cv2.COLOR_YUV2RGB)
    return np.ascontiguousarray(frame.to_ndarray(format="rgb24")[y:y + h, x:x + w])


def _origin_s(container) -> float:
    """Seconds on the container's clock of the first audio sample (DESIGN.md: every time counts from
    it); the container start when there is no audio. MPEG-TS clocks rarely start at 0."""
    for s in container.streams.audio[:1]:
        if s.start_time is not None and s.time_base is not None:
            return float(s.start_time * s.time_base)
    return container.start_time / 1_000_000 if container.start_time is not None else 0.0


def sample_region(path: str | Path, region: Region, fps: float = 1.0, *, start_s: float = 0.0,
                  end_s: float | None = None, max_between: int = 32) -> Iterator[Sample]:
    """Samples of the region at ``fps`` (the first decoded frame at or after each k/fps), from start_s
    up to end_s. Undecodable packets yield a Sample with ``error`` (at the time of the failure)."""
    import av

    if fps <= 0:
        raise ValueError(f"fps must be > 0, got {fps}")
    path = Path(path)
    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, OSError) as e:  # type: ignore[attr-defined]
        raise VideoError(f"{path}: cannot open as video ({e})") from e
    with container:
        if not container.streams.video:
            raise VideoError(f"{path}: no video stream (audio only?); OCR needs the picture")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"  # frame threads: decoding is most of the cost left
        tb = float(stream.time_base or 0) or 1 / 90000
        origin = _origin_s(container)
        if start_s > 0:
            container.seek(int((start_s + origin) / tb), stream=stream, backward=True)
        step = 1.0 / fps
        next_t = start_s
        between: list[tuple[float, np.ndarray]] = []
        last_t = start_s
        packets = container.demux(stream)
        while True:
            try:
                packet = next(packets)
            except StopIteration:
                break
            except av.error.FFmpegError as e:  # type: ignore[attr-defined]  # a broken container: stop, keep what we have
                yield Sample(last_t, None, f"demux failed after {last_t:.2f} s: {e}")
                break
            try:
                frames = packet.decode()
            except av.error.FFmpegError as e:  # type: ignore[attr-defined]
                t = float(packet.pts * tb) - origin if packet.pts is not None else last_t
                yield Sample(t, None, f"frame at {t:.2f} s failed to decode: {e}")
                continue
            for frame in frames:
                t = float(frame.pts * tb) - origin if frame.pts is not None else last_t + 1e-3
                last_t = t
                if t < start_s - 1e-6:
                    continue
                if end_s is not None and t > end_s:
                    return
                try:
                    img = _crop_rgb(frame, region)
                except (ValueError, av.error.FFmpegError) as e:  # type: ignore[attr-defined]
                    yield Sample(t, None, f"frame at {t:.2f} s could not be converted: {e}")
                    continue
                if t + 1e-6 < next_t:
                    between.append((t, img))
                    if len(between) > 2 * max_between:  # a high frame rate: keep every other one
                        between = between[1::2]
                    continue
                yield Sample(t, img, None, between)
                between = []
                next_t = (math.floor(t / step + 1e-6) + 1) * step
        if between:  # the video ended between two samples: its last frame is a sample too
            yield Sample(between[-1][0], between[-1][1], None, between[:-1])
