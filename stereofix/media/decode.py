"""Decode audio and frames into arrays, honouring container timestamps.

Everything past this module sees `[C, N]` float32 audio at a chosen rate, or `[N, H, W, 3]` uint8
frames at chosen times. Times are seconds on the container's presentation timeline, so start
offsets, gaps, variable frame rate and edit lists stay aligned.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from stereofix.errors import InputError
from stereofix.media.probe import open_input

GAP_TOLERANCE_S = 0.002  # timestamp jitter below this is treated as contiguous audio
BLOCK_S = 10.0  # streaming block length: bounds memory for long files
_B_FRAME = 3  # AV_PICTURE_TYPE_B


def _audio_stream(c, stream_index: int | None):
    if stream_index is None:
        if not c.streams.audio:
            raise InputError(f"{c.name}: no audio stream")
        return c.streams.audio[0]
    s = c.streams[stream_index]
    if s.type != "audio":
        raise InputError(f"{c.name}: stream {stream_index} is not audio")
    return s


def _native_blocks(c, stream, start: float | None, end: float | None) -> Iterator[np.ndarray]:
    """Contiguous native-rate blocks [C, n] from `start` (or the first sample), gaps zero-filled."""
    sr = stream.codec_context.sample_rate
    if start is not None:
        try:
            c.seek(int(max(0.0, start - 0.1) / stream.time_base), stream=stream, backward=True)
        except av.error.FFmpegError as exc:
            if start > 0.1:  # at the very start, decoding from where the demuxer stands is right
                raise InputError(f"{c.name}: cannot seek to {start:.2f} s ({exc})") from None
    origin = start  # timeline time of sample 0 of the output
    written = 0  # native samples emitted so far
    try:
        for frame in c.decode(stream):
            data = frame.to_ndarray()
            if data.dtype != np.float32:
                data = _to_float(data, frame.format.name)
            if not frame.format.is_planar:
                data = data.reshape(-1, frame.layout.nb_channels).T
            if origin is None:
                origin = frame.time if frame.time is not None else 0.0
            if frame.time is not None:
                # Timestamps decide only where audio starts, where a gap is, or where pre-roll ends;
                # otherwise samples are counted, since some containers round timestamps to 1 ms.
                pos = int(round((frame.time - origin) * sr))
                tol = GAP_TOLERANCE_S * sr
                if pos > written + tol:
                    yield np.zeros((data.shape[0], pos - written), np.float32)
                    written = pos
                elif pos < written - tol or (written == 0 and pos < 0):  # pre-roll before `start`, or overlap
                    data = data[:, written - pos :]
            if end is not None:
                remain = int(round((end - origin) * sr)) - written
                if remain <= 0:
                    return
                data = data[:, :remain]
            if data.shape[1]:
                written += data.shape[1]
                yield np.ascontiguousarray(data, dtype=np.float32)
    except av.error.FFmpegError as exc:
        raise InputError(f"{c.name}: audio decode failed ({exc})") from None


def _to_float(data: np.ndarray, fmt: str) -> np.ndarray:
    if data.dtype.kind == "f":
        return data.astype(np.float32)
    if data.dtype == np.uint8:
        return (data.astype(np.float32) - 128.0) / 128.0
    return data.astype(np.float32) / float(np.iinfo(data.dtype).max + 1)


def iter_audio(
    path: str | Path,
    stream_index: int | None = None,
    sample_rate: int | None = 16000,
    start: float | None = None,
    duration: float | None = None,
    block_s: float = BLOCK_S,
) -> Iterator[np.ndarray]:
    """Stream audio as float32 blocks [C, n] at `sample_rate` (None keeps the native rate).

    Memory stays flat in the file's length: each block holds at most about `block_s` seconds.
    Sample 0 of the first block is at timeline time `start` (or the stream's first sample).
    """
    with open_input(path) as c:
        stream = _audio_stream(c, stream_index)
        stream.thread_type = "AUTO"
        yield from _iter_open(c, stream, sample_rate, start, duration, block_s)


def _iter_open(c, stream, sample_rate, start, duration, block_s=BLOCK_S) -> Iterator[np.ndarray]:
    native = stream.codec_context.sample_rate
    layout = stream.codec_context.layout
    end = None if duration is None or start is None else start + duration
    if end is None and duration is not None:
        first = stream.start_time * stream.time_base if stream.start_time is not None else 0.0
        start, end = float(first), float(first) + duration
    resampler = None
    if sample_rate and sample_rate != native:
        resampler = av.AudioResampler(format="fltp", layout=layout, rate=sample_rate)
    pending: list[np.ndarray] = []
    pending_n = 0
    block_n = int(block_s * native)
    for block in _native_blocks(c, stream, start, end):
        pending.append(block)
        pending_n += block.shape[1]
        if pending_n >= block_n:
            yield _resample(resampler, np.concatenate(pending, axis=1), native, layout)
            pending, pending_n = [], 0
    if pending:
        yield _resample(resampler, np.concatenate(pending, axis=1), native, layout)
    if resampler is not None:
        tail = resampler.resample(None)
        if tail:
            yield np.concatenate([f.to_ndarray() for f in tail], axis=1)


def _resample(resampler, block: np.ndarray, rate: int, layout) -> np.ndarray:
    if resampler is None:
        return block
    frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(block), format="fltp", layout=layout)
    frame.sample_rate = rate
    frame.time_base = Fraction(1, rate)
    frame.pts = None
    out = resampler.resample(frame)
    if not out:
        return np.zeros((block.shape[0], 0), np.float32)
    return np.concatenate([f.to_ndarray() for f in out], axis=1)


def _collect(blocks: Iterator[np.ndarray], duration: float | None, sample_rate: int | None) -> np.ndarray:
    """Concatenate blocks; with `duration`, exactly round(duration * rate) samples (zero-padded)."""
    blocks = list(blocks)
    channels = blocks[0].shape[0] if blocks else 2
    audio = np.concatenate(blocks, axis=1) if blocks else np.zeros((channels, 0), np.float32)
    if duration is not None and sample_rate:
        n = int(round(duration * sample_rate))
        audio = audio[:, :n]
        if audio.shape[1] < n:
            audio = np.pad(audio, ((0, 0), (0, n - audio.shape[1])))
    return audio


def read_audio(
    path: str | Path,
    stream_index: int | None = None,
    sample_rate: int | None = 16000,
    start: float | None = None,
    duration: float | None = None,
) -> np.ndarray:
    """Decode audio to float32 [C, N]; with `duration`, exactly round(duration * rate) samples (zero-padded).

    Raises:
        InputError: no such audio stream, or the audio cannot be decoded.
    """
    return _collect(iter_audio(path, stream_index, sample_rate, start, duration), duration, sample_rate)


def read_audio_windows(
    path: str | Path, spans: Sequence[tuple[float, float]], stream_index: int | None = None, sample_rate: int = 16000
) -> list[np.ndarray]:
    """`read_audio` for many (start, duration) spans of one file, opening it once."""
    with open_input(path) as c:
        stream = _audio_stream(c, stream_index)
        stream.thread_type = "AUTO"
        return [_collect(_iter_open(c, stream, sample_rate, s, d), d, sample_rate) for s, d in spans]


def display_size(width: int, height: int, long_side: int) -> tuple[int, int]:
    """(width, height) scaled so the longer side is `long_side`, both even."""
    scale = long_side / max(width, height)
    return max(2, int(round(width * scale / 2)) * 2), max(2, int(round(height * scale / 2)) * 2)


def read_frames(
    path: str | Path,
    times: Sequence[float],
    stream_index: int | None = None,
    long_side: int = 128,
    size: tuple[int, int] | None = None,
    skip_b_frames: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Frames shown at each of `times` (seconds, timeline), scaled and rotated for display.

    Seeks to the keyframe before a time only when the decoder cannot reach it by decoding forward
    within the same stretch, so windowed access costs a few GOPs, not the whole file.

    With `skip_b_frames` the decoder skips B-frames (about half the decoding work for camera and
    web video); each time then gets the last I/P frame at or before it, a few frames early at most.

    Returns:
        frames: [N, H, W, 3] uint8 RGB in display orientation (`size` = (W, H) if given).
        shown: [N] float64 timestamps of the frames actually returned.
    """
    frames, shown, _ = read_frames_also(path, times, (), None, stream_index, long_side, size, skip_b_frames)
    return frames, shown


# Changes when the same file decodes to other frames, so caches of decoded inputs
# (train.calibrate.cached_inputs) are not mixed (2: session 34, repeated instants given without
# seeking back, every B-frame of a whole stretch as a full decode gives it).
DECODE_VERSION = 2
# How far past the frame asked for a stretch of WholeSpans turns B-frame decoding on (seconds), at
# least: more than the decoder's delay, which is its frame threads plus the B-frames' reordering
# (`whole_lookahead_s` scales it by the threads: a machine with many cores runs many more, and
# 16 threads on a 0.3 s look-ahead left 9 of 20145 whole frames of 60 validation clips decoded
# against a skipped B-frame, session 35). 1 s cost `check` about a second on the 10-minute 1080p
# file (benchmarks/bench_check.py, session 34).
WHOLE_LOOKAHEAD_S = 0.3
# Frames the decoder may hold beyond its threads' (x264's B-pyramid reorders up to about 3-4).
REORDER_FRAMES = 4
# FFmpeg's own choice of threads when left to it: one more than the cores, at most 16.
_AUTO_THREADS_MAX = 16


def frame_threads(stream) -> int:
    """The frame threads `stream`'s decoder runs (or will, once it opens with FFmpeg's choice)."""
    n = int(stream.codec_context.thread_count or 0)
    if n > 0:
        return n
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return min(cores + 1, _AUTO_THREADS_MAX)


def whole_lookahead_s(stream) -> float:
    """How far ahead B-frame decoding turns on before a whole stretch: the decoder's delay in
    frames (threads plus reordering) at the stream's rate, never less than WHOLE_LOOKAHEAD_S."""
    rate = stream.average_rate or stream.guessed_rate or 30
    return max(WHOLE_LOOKAHEAD_S, (frame_threads(stream) + REORDER_FRAMES) / float(rate))


class WholeSpans:
    """Every frame shown inside some stretches of the timeline, grey and small, gathered while
    `read_frames_also` decodes its way to the frames it was asked for.

    The picture-sound synchrony (stereofix.sync) wants every frame of a short stretch, B-frames
    included, where the model wants a few frames a window: the decoder passes through those
    stretches anyway, so keeping them costs their B-frames and a small grey copy of each frame,
    not another seek and decode. A frame inside overlapping stretches is kept in each.
    """

    def __init__(self, spans: Sequence[tuple[float, float]], size: tuple[int, int]):
        self.spans = [(float(a), float(b)) for a, b in spans]
        self.size = size
        self.frames: list[dict[float, np.ndarray]] = [{} for _ in self.spans]

    def wanted(self, after: float, until: float) -> bool:
        """Whether decoding from just after `after` up to `until` passes through a stretch."""
        return any(a <= until and b > after for a, b in self.spans)

    def take(self, t: float, frame) -> None:
        img = None
        for k, (a, b) in enumerate(self.spans):
            if a <= t < b and t not in self.frames[k]:
                if img is None:
                    img = frame.reformat(width=self.size[0], height=self.size[1], format="gray",
                                         interpolation="FAST_BILINEAR").to_ndarray()
                self.frames[k][t] = img

    def gathered(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per stretch: the frames' times [n] and the frames [n, H, W] uint8, in time order."""
        out = []
        for got in self.frames:
            ts = sorted(got)
            out.append((np.array(ts, np.float64), np.stack([got[t] for t in ts]) if ts
                        else np.zeros((0, self.size[1], self.size[0]), np.uint8)))
        return out


def read_frames_also(
    path: str | Path,
    times: Sequence[float],
    also_at: Sequence[int],
    also_size: tuple[int, int] | None,
    stream_index: int | None = None,
    long_side: int = 128,
    size: tuple[int, int] | None = None,
    skip_b_frames: bool = False,
    whole: WholeSpans | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """`read_frames`, and the frames at the indices `also_at` of `times` once more at `also_size`
    ([len(also_at), H, W, 3] in that order; None when there are none): one decode, two sizes, for
    a caller that may want a closer look at a few frames without decoding them again.

    whole: stretches in which every frame is kept as well (B-frames are decoded there even with
    `skip_b_frames`), gathered into it.
    """
    order = np.argsort(np.asarray(times, dtype=np.float64), kind="stable")
    out: list[np.ndarray | None] = [None] * len(times)
    also = {i: k for k, i in enumerate(also_at)}
    also_out: list[np.ndarray | None] = [None] * len(also)
    shown = np.zeros(len(times))

    given: tuple | None = None  # (time, frame) given for the previous time asked

    def store(i: int, chosen: tuple) -> None:
        nonlocal given
        out[i] = _image(chosen[1], long_side, size)
        shown[i] = chosen[0]
        given = chosen
        if i in also:
            also_out[also[i]] = _image(chosen[1], long_side, also_size)

    with open_input(path) as c:
        if not c.streams.video:
            raise InputError(f"{c.name}: no video stream")
        stream = c.streams.video[0] if stream_index is None else c.streams[stream_index]
        stream.thread_type = "AUTO"
        if skip_b_frames:
            stream.codec_context.skip_frame = "BIDIR"
        decoder = None
        last = None  # (time, frame) most recently decoded
        lookahead = whole_lookahead_s(stream)
        for i in order:
            t = float(times[i])
            if given is not None and last is not None and given[0] <= t < last[0]:
                # Shown by the frame given last (no frame the decoder gives lies between it and `last`):
                # overlapping windows ask for one time again and again, and a seek back to a keyframe
                # seconds earlier to find the same frame made short files' decoding quadratic.
                store(i, given)
                continue
            if decoder is None or last is None or t < last[0] or t - last[0] > 2.0:
                # Seek: cheaper than decoding forward through more than a couple of seconds.
                c.seek(int(max(t, 0.0) / stream.time_base) if stream.time_base else 0, stream=stream, backward=True)
                decoder, last = c.decode(stream), None
            if whole is not None and skip_b_frames:
                # The decoder reads this setting frame by frame: B-frames only inside the stretches.
                # Looking ahead (whole_lookahead_s): the threaded decoder takes in a stretch's first
                # packets while still giving the frames before it, and a B-frame skipped then is lost.
                dense = whole.wanted(-np.inf if last is None else last[0], t + lookahead)
                stream.codec_context.skip_frame = "DEFAULT" if dense else "BIDIR"
            chosen = last
            try:
                for frame in decoder:
                    ft = frame.time if frame.time is not None else 0.0
                    if whole is not None:
                        whole.take(ft, frame)
                        if skip_b_frames and int(frame.pict_type) == _B_FRAME:
                            continue  # decoded for `whole` only: the frames asked for stay those a B-skipping pass gives
                    if ft > t + 1e-6 and chosen is not None:
                        last = (ft, frame)
                        store(i, chosen)
                        chosen = None
                        break
                    chosen = (ft, frame)
                    last = chosen
                else:
                    decoder = None
            except av.error.FFmpegError as exc:
                raise InputError(f"{c.name}: video decode failed ({exc})") from None
            if chosen is not None:
                store(i, chosen)
            if out[i] is None:
                raise InputError(f"{c.name}: no video frame at {t:.3f} s")
    return np.stack(out), shown, (np.stack(also_out) if also_out else None)


def _image(frame, long_side: int, size: tuple[int, int] | None) -> np.ndarray:
    rot = int(round(getattr(frame, "rotation", 0) or 0)) % 360
    w, h = frame.width, frame.height
    if rot in (90, 270):
        w, h = h, w
    dw, dh = size if size is not None else display_size(w, h, long_side)
    if rot in (90, 270):
        dw, dh = dh, dw
    img = frame.reformat(width=dw, height=dh, format="rgb24", interpolation="AREA").to_ndarray()
    if rot:
        img = np.ascontiguousarray(np.rot90(img, k=rot // 90))
    return img
