"""Stream inventory of a media file: what `check`, `repair` and `upmix` decide from before decoding."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import av

from stereofix.errors import InputError


@dataclass(frozen=True)
class StreamInfo:
    """One stream of a container. Times are seconds on the container's presentation timeline."""

    index: int
    kind: str  # "audio" | "video" | "subtitle" | "data" | "attachment"
    codec: str
    start_time: float | None
    duration: float | None
    bit_rate: int | None
    language: str | None
    tags: dict[str, str] = field(default_factory=dict)
    default: bool = False
    # audio
    sample_rate: int | None = None
    channels: int | None = None
    layout: str | None = None
    # video
    width: int | None = None
    height: int | None = None
    fps: float | None = None  # average frame rate
    variable_frame_rate: bool = False
    rotation: int = 0  # degrees counter-clockwise to apply for display


@dataclass(frozen=True)
class MediaInfo:
    path: Path
    format_name: str
    duration: float | None
    start_time: float
    bit_rate: int | None
    streams: tuple[StreamInfo, ...]
    tags: dict[str, str] = field(default_factory=dict)
    chapters: int = 0

    @property
    def audio(self) -> list[StreamInfo]:
        return [s for s in self.streams if s.kind == "audio"]

    @property
    def video(self) -> list[StreamInfo]:
        # Cover art is a single attached picture, not a picture track.
        return [s for s in self.streams if s.kind == "video" and not s.tags.get("_attached_pic")]

    def default_audio(self) -> StreamInfo | None:
        return next((s for s in self.audio if s.default), self.audio[0] if self.audio else None)

    def default_video(self) -> StreamInfo | None:
        return next((s for s in self.video if s.default), self.video[0] if self.video else None)


def open_input(path: str | Path) -> av.container.InputContainer:
    """Open a file for reading, turning every failure into one InputError line."""
    p = Path(path)
    if not p.exists():
        raise InputError(f"{p}: no such file")
    if p.is_dir():
        raise InputError(f"{p}: is a directory, not a media file")
    try:
        return av.open(str(p), "r")
    except PermissionError:
        raise InputError(f"{p}: permission denied") from None
    except (av.error.FFmpegError, OSError, ValueError) as exc:
        raise InputError(f"{p}: not a readable media file ({_reason(exc)})") from None


def _reason(exc: Exception) -> str:
    text = getattr(exc, "strerror", None) or str(exc)
    return text.split(":")[-1].strip() or type(exc).__name__


def _seconds(value: int | None, time_base) -> float | None:
    if value is None or time_base is None:
        return None
    return float(value * time_base)


def _stream_info(s: av.stream.Stream) -> StreamInfo:
    disp = int(s.disposition) if s.disposition is not None else 0
    tags = dict(s.metadata)
    attached_pic = bool(disp & 0x400)  # AV_DISPOSITION_ATTACHED_PIC
    if attached_pic:
        tags["_attached_pic"] = "1"
    common = dict(
        index=s.index,
        kind=s.type,
        codec=s.codec_context.name if s.codec_context is not None else "unknown",
        start_time=_seconds(s.start_time, s.time_base),
        duration=_seconds(s.duration, s.time_base),
        bit_rate=(s.codec_context.bit_rate or None) if s.codec_context is not None else None,
        language=s.language,
        tags=tags,
        default=bool(disp & 0x1),
    )
    if s.type == "audio":
        cc = s.codec_context
        return StreamInfo(**common, sample_rate=cc.sample_rate, channels=cc.channels, layout=cc.layout.name)
    if s.type == "video":
        avg = float(s.average_rate) if s.average_rate else None
        base = float(s.base_rate) if s.base_rate else None
        vfr = bool(avg and base and abs(avg - base) / base > 0.01)
        return StreamInfo(
            **common,
            width=s.codec_context.width,
            height=s.codec_context.height,
            fps=avg or base,
            variable_frame_rate=vfr,
        )
    return StreamInfo(**common)


def probe(path: str | Path) -> MediaInfo:
    """Read the container header and stream table (no decoding beyond one video frame for rotation).

    Raises:
        InputError: the file is missing, a directory, unreadable, or not media.
    """
    with open_input(path) as c:
        streams = [_stream_info(s) for s in c.streams]
        streams = [_with_frame_rotation(c, s) for s in streams]
        duration = c.duration / av.time_base if c.duration else None
        if duration is None and any(s.duration is None for s in streams if s.kind in ("audio", "video")):
            streams, duration = _durations_from_packets(c, streams)
        return MediaInfo(
            path=Path(path),
            format_name=c.format.name,
            duration=duration,
            start_time=(c.start_time or 0) / av.time_base,
            bit_rate=c.bit_rate or None,
            streams=tuple(streams),
            tags=dict(c.metadata),
            chapters=len(c.chapters()) if hasattr(c, "chapters") else 0,
        )


def _with_frame_rotation(c, s: StreamInfo) -> StreamInfo:
    """Rotation lives in the display matrix, which PyAV exposes on decoded frames only."""
    if s.kind != "video" or s.tags.get("_attached_pic"):
        return s
    try:
        c.seek(0)
        for frame in c.decode(c.streams[s.index]):
            rot = int(round(getattr(frame, "rotation", 0) or 0)) % 360
            if rot:
                return replace(s, rotation=rot)
            break
    except (av.error.FFmpegError, StopIteration):
        pass
    return s


def _durations_from_packets(c, streams: list[StreamInfo]) -> tuple[list[StreamInfo], float | None]:
    """Durations by reading packet timestamps (no decoding): streamed files (Matroska written to a
    pipe, MPEG-TS) carry none in their header."""
    ends: dict[int, float] = {}
    try:
        c.seek(0)
        for packet in c.demux():
            if packet.pts is None or packet.time_base is None:
                continue
            end = float((packet.pts + (packet.duration or 0)) * packet.time_base)
            ends[packet.stream.index] = max(ends.get(packet.stream.index, end), end)
    except av.error.FFmpegError:
        pass  # a truncated tail: what was read still counts
    out = [
        replace(s, duration=ends[s.index] - (s.start_time or 0.0)) if s.duration is None and s.index in ends else s
        for s in streams
    ]
    return out, (max(ends.values()) if ends else None)


def keyframe_times(path: str | Path, stream_index: int) -> list[float] | None:
    """Keyframe timestamps from the container's index (cheap for MP4/MOV); None when there is no index."""
    with open_input(path) as c:
        s = c.streams[stream_index]
        entries = s.index_entries
        if not entries:
            return None
        return [float(e.timestamp * s.time_base) for e in entries if e.is_keyframe and not e.is_discard]
