"""Encode arrays into a media file: examples, tests and the synthesizer's mp4 export use this."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np

# PyAV layout names for channel counts we write.
_LAYOUTS = {1: "mono", 2: "stereo", 6: "5.1"}


def write_clip(
    path: str | Path,
    frames: np.ndarray | None = None,
    fps: float = 25.0,
    audio: np.ndarray | None = None,
    sample_rate: int = 48000,
    *,
    video_codec: str = "libx264",
    audio_codec: str = "aac",
    audio_bit_rate: int | None = 128_000,
    video_options: dict[str, str] | None = None,
    container_format: str | None = None,
) -> Path:
    """Write frames and/or audio to `path` (container chosen from the suffix).

    Args:
        frames: [T, H, W, 3] uint8 RGB, or None for an audio-only file.
        fps: frame rate of `frames`.
        audio: [C, N] float32 in [-1, 1], or None for a video-only file.
        sample_rate: rate of `audio` in Hz.
        video_codec / audio_codec: FFmpeg encoder names.
        video_options: extra encoder options (e.g. {"preset": "veryfast"}).

    Returns:
        The path written.
    """
    path = Path(path)
    with av.open(str(path), "w", format=container_format) as out:
        vstream = astream = None
        if frames is not None:
            rate = Fraction(fps).limit_denominator(1001)
            vstream = out.add_stream(video_codec, rate=rate)
            vstream.height, vstream.width = frames.shape[1] // 2 * 2, frames.shape[2] // 2 * 2
            vstream.pix_fmt = "yuv420p"
            if video_options:
                vstream.options = dict(video_options)
        if audio is not None:
            channels = audio.shape[0]
            astream = out.add_stream(audio_codec, rate=sample_rate, layout=_LAYOUTS.get(channels, f"{channels}c"))
            if audio_bit_rate and audio_codec not in ("flac", "pcm_s16le", "pcm_s24le", "pcm_f32le"):
                astream.bit_rate = audio_bit_rate
        if vstream is not None:
            for i, img in enumerate(frames):
                img = np.ascontiguousarray(img[: vstream.height, : vstream.width])
                vf = av.VideoFrame.from_ndarray(img, format="rgb24")
                vf.pts = i
                vf.time_base = 1 / Fraction(fps).limit_denominator(1001)
                for packet in vstream.encode(vf):
                    out.mux(packet)
            for packet in vstream.encode():
                out.mux(packet)
        if astream is not None:
            _encode_audio(out, astream, audio, sample_rate)
    return path


def _encode_audio(out: av.container.OutputContainer, stream, audio: np.ndarray, sample_rate: int) -> None:
    """Feed planar float frames; the encoder's frame size is enforced by an AudioFifo."""
    audio = np.ascontiguousarray(np.clip(audio, -1.0, 1.0).astype(np.float32))
    layout = _LAYOUTS.get(audio.shape[0], f"{audio.shape[0]}c")
    fifo = av.AudioFifo()
    resampler = av.AudioResampler(format=stream.codec_context.format or "fltp", layout=layout, rate=sample_rate)
    block = 4096
    for start in range(0, audio.shape[1], block):
        chunk = np.ascontiguousarray(audio[:, start : start + block])
        frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout=layout)
        frame.sample_rate = sample_rate
        frame.pts = start
        frame.time_base = Fraction(1, sample_rate)
        for converted in resampler.resample(frame):
            fifo.write(converted)
    frame_size = stream.codec_context.frame_size or 1024
    while fifo.samples >= frame_size:
        for packet in stream.encode(fifo.read(frame_size)):
            out.mux(packet)
    rest = fifo.read()
    if rest is not None and rest.samples:
        for packet in stream.encode(rest):
            out.mux(packet)
    for packet in stream.encode():
        out.mux(packet)
