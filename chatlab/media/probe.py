"""What a media file holds, read with PyAV (the wheel has no ffprobe)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import av


class MediaError(ValueError):
    """A media file that cannot be used; the message names the file and the reason."""


@dataclass
class StreamInfo:
    index: int
    type: str  # video | audio | subtitle | data
    codec: str | None
    duration_s: float | None = None
    # video
    width: int | None = None
    height: int | None = None
    fps: float | None = None
    # audio
    sample_rate: int | None = None
    channels: int | None = None


@dataclass
class MediaInfo:
    path: Path
    container: str
    duration_s: float
    start_time_s: float
    bit_rate: int | None
    started_at: datetime | None  # from the container's creation_time tag, when the recorder wrote one
    streams: list[StreamInfo] = field(default_factory=list)

    @property
    def video(self) -> StreamInfo | None:
        return next((s for s in self.streams if s.type == "video"), None)

    @property
    def audio(self) -> StreamInfo | None:
        return next((s for s in self.streams if s.type == "audio"), None)

    def streams_dict(self) -> list[dict[str, Any]]:
        return [{k: v for k, v in asdict(s).items() if v is not None} for s in self.streams]


def _seconds(value: int | None, time_base) -> float | None:
    if value is None or time_base is None:
        return None
    return float(value * time_base)


def _creation_time(tags: dict[str, str]) -> datetime | None:
    raw = tags.get("creation_time") or tags.get("DATE") or tags.get("date")
    if not raw:
        return None
    try:
        t = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return None
    return t if t.tzinfo else t.replace(tzinfo=timezone.utc)


def probe(path: Path) -> MediaInfo:
    """Container and streams of a media file; MediaError when it cannot be opened or holds no media."""
    path = Path(path)
    if not path.is_file():
        raise MediaError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise MediaError(f"{path}: empty file (0 bytes)")
    try:
        container = av.open(str(path), metadata_errors="ignore")
    except av.FFmpegError as e:
        raise MediaError(f"{path}: not a readable media file ({e})") from e
    with container:
        streams: list[StreamInfo] = []
        for s in container.streams:
            info = StreamInfo(
                index=s.index,
                type=s.type,
                codec=s.codec_context.name if s.codec_context is not None else None,
                duration_s=_seconds(s.duration, s.time_base),
            )
            if s.type == "video":
                info.width = s.codec_context.width or None
                info.height = s.codec_context.height or None
                rate = s.average_rate or s.guessed_rate
                info.fps = round(float(rate), 3) if rate else None
            elif s.type == "audio":
                info.sample_rate = s.codec_context.sample_rate or None
                info.channels = s.codec_context.channels or None
            streams.append(info)
        if not any(s.type in ("audio", "video") for s in streams):
            raise MediaError(f"{path}: no audio or video stream (streams: {[s.type for s in streams] or 'none'})")
        duration = container.duration / av.time_base if container.duration else None
        if duration is None:
            duration = max((s.duration_s or 0.0 for s in streams), default=0.0)
        return MediaInfo(
            path=path,
            container=container.format.name,
            duration_s=float(duration),
            start_time_s=(container.start_time or 0) / av.time_base,
            bit_rate=container.bit_rate or None,
            started_at=_creation_time(dict(container.metadata)),
            streams=streams,
        )
