"""The library behind the CLI: `check`, `repair` and `upmix` one file at a time.

Pipeline: probe -> windows -> decode (audio at 16 kHz, frames at the model's size) ->
audio diagnostics -> model -> verdict -> rewrite. Nothing here prints; progress goes through
an optional callback.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from stereofix import diagnostics, media
from stereofix.diagnostics import AudioDiagnosis
from stereofix.errors import InputError
from stereofix.models import FRAME_HEIGHT, FRAME_WIDTH, FlipNet
from stereofix.verdict import Calibration, Verdict, WindowScore, decide
from stereofix.windows import MAX_WINDOWS, WINDOW_S, Window, frame_times, plan_windows

SILENT_WINDOW_PEAK_DBFS = -60.0  # a window whose peak is below this is skipped, not judged
BATCH_SIZE = 16  # windows per forward pass

EXIT_OK, EXIT_SWAP, EXIT_ERROR, EXIT_UNDETERMINED = 0, 1, 2, 3
VERDICT_EXIT = {
    "ok": EXIT_OK,
    "swapped": EXIT_SWAP,
    "mixed": EXIT_SWAP,
    "polarity": EXIT_SWAP,
    "uncertain": EXIT_UNDETERMINED,
    "not-spatial": EXIT_UNDETERMINED,
    "no-audio": EXIT_ERROR,
    "no-video": EXIT_ERROR,
}


@dataclass
class Analyzer:
    """A loaded model (or none: audio diagnostics only) and where it runs."""

    model: FlipNet | None = None
    calibration: Calibration = field(default_factory=Calibration)
    device: str = "cpu"
    weights_path: Path | None = None

    @classmethod
    def load(cls, weights: str | Path | None = None, device: str = "auto") -> "Analyzer":
        from stereofix.weights import load_flip_model

        dev = resolve_device(device)
        model, cal, path = load_flip_model(weights, dev)
        return cls(model, cal, dev, path)


def resolve_device(device: str) -> str:
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise InputError("--device cuda: no CUDA device is available (use --device cpu)")
    if device not in ("cpu", "cuda") and not device.startswith("cuda:"):
        raise InputError(f"--device {device}: expected auto, cpu or cuda")
    return device


@dataclass
class CheckResult:
    path: str
    verdict: Verdict
    audio_stream: int | None = None
    diagnosis: AudioDiagnosis | None = None
    duration: float | None = None

    @property
    def exit_code(self) -> int:
        return VERDICT_EXIT[self.verdict.verdict]

    def to_dict(self) -> dict:
        d = {"file": self.path, **self.verdict.to_dict(), "audio_stream": self.audio_stream, "duration": self.duration}
        if self.diagnosis is not None:
            d["audio"] = {
                "reason": self.diagnosis.reason,
                "rms_dbfs": [round(x, 2) for x in self.diagnosis.rms_dbfs],
                "side_to_mid_db": round(self.diagnosis.side_to_mid_db, 2),
                "low_band_correlation": round(self.diagnosis.low_band_correlation, 4),
                "coherence": round(self.diagnosis.coherence, 4),
            }
        return d


def _final(path, verdict: str, reason: str, **kw) -> CheckResult:
    return CheckResult(str(path), Verdict(verdict, None, None, reason=reason), **kw)


def check(
    path: str | Path,
    analyzer: Analyzer | None = None,
    *,
    max_windows: int = MAX_WINDOWS,
    audio_stream: int | None = None,
    exchange_channels: bool = False,
    progress: Callable[[float], None] | None = None,
) -> CheckResult:
    """Judge whether a file's stereo channels agree with its picture.

    Args:
        path: a media file.
        analyzer: the loaded model; None gives the audio-only diagnostics, and `uncertain` where
            the audio is spatial and only the audio-visual model could decide.
        max_windows: windows read from the file (cost is flat in the file's length beyond them).
        audio_stream: absolute stream index; default is the default audio stream.
        exchange_channels: judge the file as if left and right were exchanged (what `repair` would
            produce); calibration uses it to score both orientations of a clip without rewriting it.
        progress: called with a fraction in [0, 1].

    Raises:
        InputError: unreadable file, or a stream that cannot be decoded.
    """
    cfg = analyzer.model.cfg if analyzer is not None and analyzer.model is not None else None
    got = prepare(path, None if cfg is None else (cfg.fps, cfg.n_samples), max_windows=max_windows,
                  audio_stream=audio_stream, exchange_channels=exchange_channels, progress=progress)
    if isinstance(got, CheckResult):
        return got
    inputs, kw = got
    scores = score_windows(inputs, analyzer)
    if progress:
        progress(1.0)
    verdict = decide(scores, analyzer.calibration)
    return CheckResult(str(path), verdict, **kw)


def prepare(
    path: str | Path,
    model_frames: tuple[float, int] | None,
    *,
    max_windows: int = MAX_WINDOWS,
    audio_stream: int | None = None,
    exchange_channels: bool = False,
    progress: Callable[[float], None] | None = None,
) -> CheckResult | tuple[WindowInputs, dict]:
    """Everything `check` does before the model: a final result where the audio alone settles it
    (or there is no model: `model_frames` None), else the model's inputs and the result's fields.

    model_frames: the model's frame rate and samples per window (FlipConfig.fps, n_samples).
    """
    info = media.probe(path)
    stream = _pick_audio(info, audio_stream)
    if stream is None:
        return _final(path, "no-audio", "the file has no audio stream")
    start = stream.start_time or 0.0
    duration = stream.duration or info.duration or 0.0
    if stream.channels == 1:
        diag = diagnostics.diagnose([np.zeros((1, 1), np.float32)])
        return _final(path, "not-spatial", "mono", audio_stream=stream.index, diagnosis=diag, duration=duration)
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
        return _final(path, "no-audio", "the audio stream has no samples", audio_stream=stream.index, duration=duration)
    diag = diagnostics.diagnose(audio)
    kw = dict(audio_stream=stream.index, diagnosis=diag, duration=duration)
    if diag.verdict is not None:
        return _final(path, diag.verdict, diag.reason, **kw)
    if video is None:
        return _final(path, "no-video", "stereo audio but no picture to compare it with", **kw)
    if model_frames is None:
        return _final(path, "uncertain", "spatial audio: the audio-visual model is needed to decide", **kw)
    inputs = window_inputs(path, video.index, windows, audio, *model_frames)
    if progress:
        progress(0.7)
    return inputs, kw


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


@dataclass
class WindowInputs:
    """What the model is given for one file: the windows, which of them are loud enough to judge,
    and for those the frames [L, T, H, W, 3] uint8, the audio [L, 2, N] float32 at 16 kHz and the
    times the frames are shown [L, T] (seconds from each window's start).

    Kept apart from running the model so calibration can decode a validation clip once and score
    it with many candidate models (train/calibrate.py, `--cache`)."""

    windows: list[Window]
    live: list[int]
    frames: np.ndarray
    audio: np.ndarray
    frame_offsets: np.ndarray

    @classmethod
    def none_live(cls, windows: list[Window]) -> "WindowInputs":
        """Inputs where no window is judged (all silent, or the audio alone settled the file)."""
        empty = np.zeros((0,), np.float32)
        return cls(list(windows), [], empty, empty, empty)


def window_inputs(path, video_index: int, windows: list[Window], audio: list[np.ndarray], fps: float, n_samples: int) -> WindowInputs:
    """Decode the frames of the windows worth judging (silent ones are skipped, not judged)."""
    live = [i for i, a in enumerate(audio) if _peak_dbfs(a) > SILENT_WINDOW_PEAK_DBFS]
    if not live:
        return WindowInputs.none_live(windows)
    times = [frame_times(windows[i], fps) for i in live]
    flat = [t for ts in times for t in ts]
    frames, shown = media.read_frames(path, flat, video_index, size=(FRAME_WIDTH, FRAME_HEIGHT), skip_b_frames=True)
    frames = frames.reshape(len(live), len(times[0]), FRAME_HEIGHT, FRAME_WIDTH, 3)
    # Skipping B-frames returns frames up to a few frames early: the model hears each frame's own instant.
    starts = np.array([windows[i].start for i in live])[:, None]
    offsets = (shown.reshape(len(live), -1) - starts).astype(np.float32)
    sound = np.stack([_fit(audio[i], n_samples) for i in live])
    return WindowInputs(list(windows), live, frames, sound, offsets)


def score_windows(inputs: WindowInputs, analyzer: Analyzer) -> list[WindowScore]:
    """The model's logit for each live window, BATCH_SIZE windows per forward pass."""
    model = analyzer.model
    scores = [WindowScore(w.start, w.end, None, None, skipped="silence") for w in inputs.windows]
    logits: list[float] = []
    with torch.inference_mode():
        for b in range(0, len(inputs.live), BATCH_SIZE):
            fr = torch.from_numpy(inputs.frames[b : b + BATCH_SIZE]).permute(0, 1, 4, 2, 3).to(analyzer.device)
            au = torch.from_numpy(inputs.audio[b : b + BATCH_SIZE]).to(analyzer.device)
            ft = torch.from_numpy(inputs.frame_offsets[b : b + BATCH_SIZE]).to(analyzer.device)
            logits += model.predict(fr, au, frame_times=ft).float().cpu().tolist()
    for i, lg in zip(inputs.live, logits):
        scores[i].logit = lg
        scores[i].skipped = None
    return scores


def _fit(a: np.ndarray, n: int) -> np.ndarray:
    a = a[:, :n]
    return np.pad(a, ((0, 0), (0, n - a.shape[1]))) if a.shape[1] < n else a


@dataclass
class RepairReport:
    path: str
    action: str  # "repaired" | "left-alone" | "would-repair" | "would-leave"
    verdict: str | None  # check's verdict; None with --force
    output: str | None = None
    ranges: list[tuple[float, float]] | None = None  # swapped stretches (segment repair)
    reason: str | None = None
    exit_code: int = EXIT_OK

    def to_dict(self) -> dict:
        return {
            "file": self.path,
            "action": self.action,
            "verdict": self.verdict,
            "output": self.output,
            "ranges": [list(r) for r in self.ranges] if self.ranges else None,
            "reason": self.reason,
        }

    def describe(self) -> str:
        text = f"{self.path}: {self.action}"
        if self.verdict:
            text += f" ({self.verdict})"
        if self.ranges:
            text += " stretches " + ", ".join(f"{a:.1f}-{b:.1f}s" for a, b in self.ranges)
        if self.output and self.action in ("repaired", "would-repair"):
            text += f" -> {self.output}"
        if self.reason:
            text += f" - {self.reason}"
        return text


def repair(
    path: str | Path,
    dst: str | Path | None,
    *,
    analyzer: Analyzer | None = None,
    inplace: bool = False,
    force: bool = False,
    segments: bool = False,
    dry_run: bool = False,
    overwrite: bool = False,
    keep_mtime: bool = False,
    container: str | None = None,
    progress: Callable[[float], None] | None = None,
) -> RepairReport:
    """Exchange left/right in the files `check` calls swapped (or always with `force`).

    `mixed` files are repaired only with `segments`, and then only inside their flipped stretches.
    Anything else is left alone, with the reason. The rewrite itself is
    `stereofix.media.rewrite.rewrite`: every other stream copied, atomic in place.

    Raises:
        InputError / OutputError: unreadable input, unwritable or existing output.
    """
    from stereofix.media.rewrite import SwapChannels, rewrite

    target = str(path) if inplace else (str(dst) if dst is not None else None)
    ranges = None
    verdict = None
    stream = None
    if not force:
        if analyzer is None:
            raise InputError("repair without --force needs the flip model")
        result = check(path, analyzer)
        verdict, stream = result.verdict.verdict, result.audio_stream
        if verdict == "mixed" and segments:
            ranges = result.verdict.stretches
        elif verdict != "swapped":
            why = {
                "ok": "channels already agree with the picture",
                "mixed": "only some stretches are flipped (use --segments to repair those)",
            }.get(verdict, result.verdict.reason or "not a swap")
            code = EXIT_OK if verdict == "ok" else EXIT_ERROR if result.exit_code == EXIT_ERROR else EXIT_UNDETERMINED
            return RepairReport(str(path), "would-leave" if dry_run else "left-alone", verdict, reason=why, exit_code=code)
    else:
        info = media.probe(path)
        s = info.default_audio()
        if s is None:
            raise InputError(f"{path}: no audio stream to repair")
        if (s.channels or 0) < 2:
            raise InputError(f"{path}: mono audio has no channels to exchange")
        stream = s.index
    if dry_run:
        return RepairReport(str(path), "would-repair", verdict, target, ranges)
    op = SwapChannels(ranges=tuple(tuple(r) for r in ranges) if ranges else None)
    res = rewrite(
        path,
        None if inplace else dst,
        op,
        audio_stream=stream,
        inplace=inplace,
        keep_mtime=keep_mtime,
        overwrite=overwrite,
        container=container,
        progress=progress,
    )
    out = str(res.output) if res.output is not None else "-"
    return RepairReport(str(path), "repaired", verdict, out, ranges)
