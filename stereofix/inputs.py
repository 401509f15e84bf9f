"""decode -> windows: what the model is given for one file, without the model.

Kept free of torch so a worker process can decode a file's windows while the main process is
still importing torch and loading the weights (stereofix.prefetch), and so calibration can decode a
validation clip once and score it with many candidate models (train/calibrate.py, `--cache`).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from stereofix import borders, diagnostics, media
from stereofix.errors import InputError
from stereofix.verdict import CheckResult, Verdict
from stereofix.windows import (
    FRAME_HEIGHT,
    FRAME_WIDTH,
    MAX_WINDOWS,
    MODEL_FPS,
    SYNC_SPAN_S,
    WINDOW_S,
    Window,
    frame_times,
    plan_windows,
)

SILENT_WINDOW_PEAK_DBFS = -60.0  # a window whose peak is below this is skipped, not judged
# Decoders run at once on one file's windows, each on its own run of consecutive windows. PyAV lets
# go of the GIL while FFmpeg decodes: on 2 cores two threads took 1.6 s where one took 2.3 s
# (16 windows of a 1080p x264 file).
DECODE_THREADS = min(os.cpu_count() or 1, 4)

# What FlipConfig's defaults and the shipped calibration ask for (fps, samples per window, seconds
# of each window decoded whole for the synchrony: 0 where the calibration reads the model's frames;
# the shipped one reads the whole frames since session 33): a file can be decoded before the
# weights are loaded; a model that differs is given a fresh decode.
DEFAULT_MODEL_FRAMES = (MODEL_FPS, int(round(WINDOW_S * diagnostics.SAMPLE_RATE)), SYNC_SPAN_S)

Prepared = CheckResult | tuple["WindowInputs", dict]


@dataclass
class WindowInputs:
    """What the model is given for one file: the windows, which of them are loud enough to judge,
    and for those the frames [L, T, H, W, 3] uint8, the audio [L, 2, N] float32 at 16 kHz and the
    times the frames are shown [L, T] (seconds from each window's start)."""

    windows: list[Window]
    live: list[int]
    frames: np.ndarray
    audio: np.ndarray
    frame_offsets: np.ndarray
    cut: borders.Bars | None = None  # letterbox, pillarbox or blurred-copy sides cut off the frames
    # Every frame of each judged window's first seconds (window_inputs' `whole_s`), grey, [L, S, H, W]
    # uint8, and when each was shown [L, S] (seconds from the window's start), for the synchrony
    # (stereofix.sync); None where none were asked for or too few decoded (the model's frames serve).
    sync_frames: np.ndarray | None = None
    sync_offsets: np.ndarray | None = None

    @classmethod
    def none_live(cls, windows: list[Window]) -> "WindowInputs":
        """Inputs where no window is judged (all silent, or the audio alone settled the file)."""
        empty = np.zeros((0,), np.float32)
        return cls(list(windows), [], empty, empty, empty)


@dataclass
class Decoded:
    """`prepare`'s outcome for a file and what it was asked for, so a consumer can tell whether a
    decode made ahead of time (stereofix.prefetch) fits the model it ends up with."""

    model_frames: tuple[float, int, float] | None
    max_windows: int
    outcome: Prepared


def final(path, verdict: str, reason: str, **kw) -> CheckResult:
    return CheckResult(str(path), Verdict(verdict, None, None, reason=reason), **kw)


def prepare(
    path: str | Path,
    model_frames: tuple[float, int, float] | None,
    *,
    max_windows: int = MAX_WINDOWS,
    audio_stream: int | None = None,
    exchange_channels: bool = False,
    progress: Callable[[float], None] | None = None,
) -> Prepared:
    """Everything `check` does before the model: a final result where the audio alone settles it
    (or there is no model: `model_frames` None), else the model's inputs and the result's fields.

    model_frames: the model's frame rate and samples per window (FlipConfig.fps, n_samples), and
    how much of each window to decode whole for the synchrony (`windows.SYNC_SPAN_S` where the
    calibration reads those frames, `Calibration.sync_reading` "whole"; else 0).
    """
    info = media.probe(path)
    stream = _pick_audio(info, audio_stream)
    if stream is None:
        return final(path, "no-audio", "the file has no audio stream")
    start = stream.start_time or 0.0
    duration = stream.duration or info.duration or 0.0
    if stream.channels == 1:
        diag = diagnostics.diagnose([np.zeros((1, 1), np.float32)])
        return final(path, "not-spatial", "mono", audio_stream=stream.index, diagnosis=diag, duration=duration)
    video = info.default_video()
    keyframes = media.keyframe_times(path, video.index) if video is not None else None
    windows = plan_windows(start, duration, WINDOW_S, max_windows, keyframes)
    spans = [(w.start, w.end - w.start) for w in windows]
    # The first two channels: FL/FR of a surround track.
    audio = [a[:2] for a in media.read_audio_windows(path, spans, stream.index, diagnostics.SAMPLE_RATE)]
    if exchange_channels:
        audio = [a[::-1].copy() for a in audio]
    if progress:
        progress(0.2)
    if not windows or not any(a.shape[1] and np.any(a) for a in audio) and _is_empty(path, stream.index):
        return final(path, "no-audio", "the audio stream has no samples", audio_stream=stream.index, duration=duration)
    diag = diagnostics.diagnose(audio)
    kw = dict(audio_stream=stream.index, diagnosis=diag, duration=duration)
    if diag.verdict is not None:
        return final(path, diag.verdict, diag.reason, **kw)
    if video is None:
        return final(path, "no-video", "stereo audio but no picture to compare it with", **kw)
    if model_frames is None:
        return final(path, "uncertain", "spatial audio: the audio-visual model is needed to decide", **kw)
    inputs = window_inputs(path, video.index, windows, audio, *model_frames)
    if progress:
        progress(0.7)
    return inputs, kw


def window_inputs(path, video_index: int, windows: list[Window], audio: list[np.ndarray], fps: float, n_samples: int,
                  whole_s: float = 0.0) -> WindowInputs:
    """Decode the frames of the windows worth judging (silent ones are skipped, not judged), and
    with `whole_s` every frame of each one's first `whole_s` seconds as well (B-frames there too:
    about half again the decoding, so only for a calibration that reads them)."""
    live = [i for i, a in enumerate(audio) if _peak_dbfs(a) > SILENT_WINDOW_PEAK_DBFS]
    if not live:
        return WindowInputs.none_live(windows)
    times = [frame_times(windows[i], fps) for i in live]
    whole = media.WholeSpans([(windows[i].start, min(windows[i].end, windows[i].start + whole_s)) for i in live],
                             (FRAME_WIDTH, FRAME_HEIGHT)) if whole_s > 0 else None
    frames, shown, cut = read_model_frames(path, video_index, times, whole=whole)
    frames = frames.reshape(len(live), len(times[0]), FRAME_HEIGHT, FRAME_WIDTH, 3)
    # Skipping B-frames returns frames up to a few frames early: the model hears each frame's own instant.
    starts = np.array([windows[i].start for i in live])[:, None]
    offsets = (shown.reshape(len(live), -1) - starts).astype(np.float32)
    sound = np.stack([_fit(audio[i], n_samples) for i in live])
    sync_frames, sync_offsets = _regular(whole, starts[:, 0]) if whole is not None else (None, None)
    return WindowInputs(list(windows), live, frames, sound, offsets, cut, sync_frames, sync_offsets)


MIN_SYNC_FRAMES = 3  # a window's whole frames needed before they, not the model's, serve the synchrony


def _regular(whole: media.WholeSpans, starts: np.ndarray) -> tuple[np.ndarray | None, np.ndarray | None]:
    """The windows' whole frames as one array, each window cut to the fewest any has (a frame
    rate that varies, a B-frame the threaded decoder skipped as the setting changed), with their
    times from the window's start; (None, None) where a window has fewer than MIN_SYNC_FRAMES."""
    got = whole.gathered()
    n = min((len(ts) for ts, _ in got), default=0)
    if n < MIN_SYNC_FRAMES:
        return None, None
    frames = np.stack([f[:n] for _, f in got])
    offsets = np.stack([ts[:n] - s for (ts, _), s in zip(got, starts)]).astype(np.float32)
    return frames, offsets


_COPY_SIZE = (borders.COPY_SCALE * FRAME_WIDTH, borders.COPY_SCALE * FRAME_HEIGHT)  # where a copy is looked for


def read_model_frames(path, video_index: int | None, times: list[list[float]], skip_b_frames: bool = True,
                      whole: media.WholeSpans | None = None) -> tuple[np.ndarray, np.ndarray, borders.Bars | None]:
    """The frames the model sees at `times` (per window), [N, 72, 128, 3], when each was shown, and
    the letterbox or pillarbox bars (black or another plain colour, or a blurred copy of the
    picture) cut off them (None: none).

    A file with bars (`borders`) is decoded larger too, so that the picture inside the bars comes
    out at about twice the model's size; the bars are found again there, more finely, cut off, and
    the picture is scaled down to the model's size. One frame is looked at first (the middle
    window's first): where it shows bars, the one decode gives both sizes; where bars show only
    in all the frames together, the file is decoded again. A file whose
    outer tenths are much plainer than its middle is tested for a blurred copy of the picture
    (`borders.find_copy_sides`) at four times the model's size: first, loosely
    (`borders.PROBE_SLACK`), on the windows' first frames (`copy_probe_per`), which the first
    decode also gives at that size; then, only where those may show a copy, strictly on all the
    frames decoded again at that size, which places the cut (with one window, as `--plot` and
    training read, the first frames would be all of them, so the file is simply decoded again).
    Files with neither bars nor plain edges (most) cost one decode and get the frames they always
    got, and so does every file where no cut is found.

    whole: one stretch per window whose every frame the first decode keeps as well (uncut: the
    synchrony is a largest correlation over cells, which a plain bar never wins).
    """
    per = copy_probe_per(times)
    one = per >= max(map(len, times))  # one window (`--plot`, training): a probe would be every frame
    large = lookout = None
    if len(times) > 2:
        # One frame first, the middle window's first: where it shows a bar (dark or flat), all frames
        # are decoded once at both sizes, not once and then again. (The middle: a file's first
        # window is often a fade from black.) Elsewhere the cost is one frame.
        look, _, _ = _read_frames(path, video_index, [times[len(times) // 2][:1]], skip_b_frames=skip_b_frames)
        lookout = borders.find_bars(look)
    if lookout is not None:
        frames, shown, large = _read_frames(path, video_index, times, skip_b_frames=skip_b_frames,
                                            probe=(max(map(len, times)), _bar_size(lookout)), whole=whole)
        probe = None
    else:
        frames, shown, probe = _read_frames(path, video_index, times, skip_b_frames=skip_b_frames,
                                            probe=(0 if one else per, _COPY_SIZE), whole=whole)
    bars = borders.find_bars(frames)
    if bars is None:
        return _copy_test(path, video_index, times, skip_b_frames, frames, shown, probe)
    if large is None:  # the one frame did not show them (or there was none to look at)
        large, shown, _ = _read_frames(path, video_index, times, _bar_size(bars), skip_b_frames)
    bars = borders.find_bars(large) or bars
    return _cut(large, bars), shown, bars


def _bar_size(bars: borders.Bars) -> tuple[int, int]:
    """The decode size that gives the picture inside `bars` about twice the model's size."""
    kw, kh = bars.kept
    return 2 * int(round(FRAME_WIDTH / kw)), 2 * int(round(FRAME_HEIGHT / kh))


def _cut(large: np.ndarray, bars: borders.Bars) -> np.ndarray:
    """Frames decoded larger, with `bars` cut off, at the model's size."""
    return borders.area_resize(borders.crop(large, bars), FRAME_HEIGHT, FRAME_WIDTH)


def _copy_test(path, video_index, times, skip_b_frames, frames, shown, probe) -> tuple:
    """The blurred-copy test on a file without bars: the model's frames, when shown, and the cut.
    `probe`: the windows' first frames at the copy test's size, or None (then all are decoded)."""
    if not borders.might_have_copy(frames):
        return frames, shown, None
    if probe is not None and borders.find_copy_sides(probe, borders.PROBE_SLACK) is None:
        return frames, shown, None  # most plain edges stop here, decoded once
    large, large_shown, _ = _read_frames(path, video_index, times, _COPY_SIZE, skip_b_frames)
    bars = borders.find_copy_sides(large)
    if bars is None:
        return frames, shown, None
    return _cut(large, bars), large_shown, bars


def copy_probe_per(times: list[list[float]]) -> int:
    """How many of each window's first frames the copy test looks at first: `borders.COPY_PROBE_FRAMES`
    in all, at least one a window. A plain-edged picture that is no copy (a studio backdrop, a sky)
    is turned down on these alone."""
    return max(1, -(-borders.COPY_PROBE_FRAMES // max(1, len(times))))


def _read_frames(path, video_index: int | None, times: list[list[float]],
                 size: tuple[int, int] = (FRAME_WIDTH, FRAME_HEIGHT), skip_b_frames: bool = True,
                 probe: tuple[int, tuple[int, int]] = (0, (0, 0)),
                 whole: media.WholeSpans | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """The frames at `times` (per window, windows in time order), runs of consecutive windows
    decoded at once, and each window's first `probe[0]` frames once more at the size `probe[1]`
    (None when none). Each run seeks to its own first keyframe; with B-frames skipped no frame
    depends on one before its keyframe, so the frames are the ones a single pass decodes.
    whole: one stretch per window (as `times`) whose every frame is gathered into it."""
    n = max(1, min(DECODE_THREADS, len(times)))
    bounds = [round(k * len(times) / n) for k in range(n + 1)]
    per, probe_size = probe

    def read(a: int, b: int) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        run = [t for ts in times[a:b] for t in ts]
        starts = np.cumsum([0] + [len(ts) for ts in times[a:b]])[:-1]
        at = [int(s) + q for s, ts in zip(starts, times[a:b]) for q in range(min(per, len(ts)))]
        mine = None if whole is None else media.WholeSpans(whole.spans[a:b], whole.size)  # one per thread
        got = media.read_frames_also(path, run, at, probe_size, video_index, size=size, skip_b_frames=skip_b_frames, whole=mine)
        if mine is not None:
            whole.frames[a:b] = mine.frames
        return got

    if n == 1:
        return read(0, len(times))
    with ThreadPoolExecutor(n) as pool:
        parts = list(pool.map(read, bounds[:-1], bounds[1:]))
    probes = [p for _, _, p in parts if p is not None]
    return (np.concatenate([f for f, _, _ in parts]), np.concatenate([s for _, s, _ in parts]),
            np.concatenate(probes) if probes else None)


def _pick_audio(info: media.MediaInfo, index: int | None) -> media.StreamInfo | None:
    if index is None:
        return info.default_audio()
    for s in info.audio:
        if s.index == index:
            return s
    raise InputError(f"{info.path}: stream {index} is not an audio stream")


def _is_empty(path, stream_index: int) -> bool:
    return next(iter(media.iter_audio(path, stream_index, None)), None) is None


def _peak_dbfs(a: np.ndarray) -> float:
    return float(20 * np.log10(np.abs(a).max() + 1e-20)) if a.size else -400.0


def _fit(a: np.ndarray, n: int) -> np.ndarray:
    a = a[:, :n]
    return np.pad(a, ((0, 0), (0, n - a.shape[1]))) if a.shape[1] < n else a
