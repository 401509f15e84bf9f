"""The library behind the CLI: `check`, `repair` and `upmix` one file at a time.

Pipeline: probe -> windows -> decode (audio at 16 kHz, frames at the model's size) ->
audio diagnostics (those four in stereofix.inputs, which needs no torch) -> model -> verdict ->
rewrite. Nothing here prints; progress goes through an optional callback.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from stereofix import media
from stereofix.errors import InputError
from stereofix.inputs import Decoded, WindowInputs, prepare
from stereofix.models import FlipNet
from stereofix.sync import file_sync_and_map, whole_span
from stereofix.verdict import (
    EXIT_ERROR,
    EXIT_OK,
    EXIT_UNDETERMINED,
    Calibration,
    CheckResult,
    WindowScore,
    decide,
)
from stereofix.windows import MAX_WINDOWS

BATCH_SIZE = 16  # windows per forward pass


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


def check(
    path: str | Path,
    analyzer: Analyzer | None = None,
    *,
    max_windows: int = MAX_WINDOWS,
    audio_stream: int | None = None,
    exchange_channels: bool = False,
    progress: Callable[[float], None] | None = None,
    decoded: Decoded | None = None,
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
        decoded: this file's windows decoded ahead of time (stereofix.prefetch, default stream and
            orientation); used only if it was decoded for this model and `max_windows`, else the
            file is decoded again here.

    Raises:
        InputError: unreadable file, or a stream that cannot be decoded.
    """
    cfg = analyzer.model.cfg if analyzer is not None and analyzer.model is not None else None
    model_frames = None if cfg is None else (cfg.fps, cfg.n_samples, whole_span(analyzer.calibration.sync_reading))
    fits = (decoded is not None and decoded.model_frames == model_frames and decoded.max_windows == max_windows
            and audio_stream is None and not exchange_channels)
    if fits:
        got = decoded.outcome
    else:
        got = prepare(path, model_frames, max_windows=max_windows, audio_stream=audio_stream,
                      exchange_channels=exchange_channels, progress=progress)
    if isinstance(got, CheckResult):
        return got
    inputs, kw = got
    sync, prior = read_picture(inputs, analyzer.calibration)
    scores = score_windows(inputs, analyzer, prior=prior)
    if progress:
        progress(1.0)
    verdict = decide(scores, analyzer.calibration, sync)
    cut = None if inputs.cut is None else (inputs.cut.x, inputs.cut.y)
    return CheckResult(str(path), verdict, picture_cut=cut, picture_sync=sync, **kw)


def read_picture(inputs: WindowInputs, calibration: Calibration) -> tuple[float | None, np.ndarray | None]:
    """(the file's picture-sound synchrony as the calibration reads it; the [rows, columns] to add
    to every window's attention logits: `calibration.attention_prior` times the file's synchrony
    map, README "Design notes", session 33), from one reading of the frames' changes. The prior is
    None where the calibration steers nothing or the map cannot be measured (the network alone then)."""
    steer = bool(calibration.attention_prior) and len(inputs.live) > 0
    sync, m = file_sync_and_map(inputs, calibration.sync_reading, with_map=steer)
    return sync, None if m is None else calibration.attention_prior * m


def score_windows(inputs: WindowInputs, analyzer: Analyzer, prior: np.ndarray | None = None) -> list[WindowScore]:
    """The model's logit for each live window, BATCH_SIZE windows per forward pass.

    prior: [rows, columns] added to every window's attention logits (`FlipNet.attend`); None for
    the network alone. `read_picture` gives the prior `check` uses."""
    model = analyzer.model
    pr = None if prior is None else torch.from_numpy(np.asarray(prior, np.float32)).to(analyzer.device)
    scores = [WindowScore(w.start, w.end, None, None, skipped="silence") for w in inputs.windows]
    logits: list[float] = []
    with torch.inference_mode():
        for b in range(0, len(inputs.live), BATCH_SIZE):
            fr = torch.from_numpy(inputs.frames[b : b + BATCH_SIZE]).permute(0, 1, 4, 2, 3).to(analyzer.device)
            au = torch.from_numpy(inputs.audio[b : b + BATCH_SIZE]).to(analyzer.device)
            ft = torch.from_numpy(inputs.frame_offsets[b : b + BATCH_SIZE]).to(analyzer.device)
            batch_prior = None if pr is None else pr.expand(fr.shape[0], *pr.shape)
            logits += model.predict(fr, au, frame_times=ft, prior=batch_prior).float().cpu().tolist()
    for i, lg in zip(inputs.live, logits):
        scores[i].logit = lg
        scores[i].skipped = None
    return scores


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
