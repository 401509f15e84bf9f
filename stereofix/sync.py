"""Whether anything in view changes with the sound, measured over the whole file.

Every confident mistake on a must-abstain clip has had the same cause since the third revision: a
sound made outside the frame credited to a silent face, speaker or instrument in view (README
"Known limits"). The network judges 2 s windows of 8 frames, too few instants to tell a thing that
moves with the sound from one that merely sits on its side, and the fine-tunes that tried to teach
it that (range gate, 'where' objective, more off-screen scenes) each moved the leak, not removed it.

Across a whole file the question is easy to ask directly: something that makes the sound changes
when the sound's level changes (a mouth opens, a hand strikes, a lamp on a speaker pulses), so
somewhere in the picture the frame-to-frame change follows the change of the sound's level. This
module measures exactly that, with no learning, over every frame of each judged window's first
second (`windows.SYNC_SPAN_S`; 16 windows at 25 fps give about 380 frame pairs), which `inputs`
keeps while it decodes the model's frames. Two readings, the larger kept: the largest Pearson
correlation, over 16 x 16-pixel cells of 72 x 128 grey frames (8-pixel stride), between how much
the cell changed from one frame to the next (after the camera's own motion is taken out,
`motion.aligned_previous`) and how much the sound's level (RMS of both channels over 40 ms, each
file scaled by its loudest instant) changed between the same two instants; and the correlation of
that level change with how much the most changing cell changed (a thing crossing the picture,
which no one cell follows for long). Each less what chance gives it: the same reading with the
sound shifted by whole windows against the picture, averaged over the shifts. A busy picture (a
test pattern, a crowd, foliage in wind) has some cell that follows any sound by chance, as well
shifted as aligned, while a thing that makes the sound follows it only when they are aligned.

Until session 32 the model's own frames served, a quarter second apart: too coarse for a sound's
level, so a sounding thing read weakly and chance strongly (an off-screen sound reached 0.45 on 2%
of the validation clips, against 0.16 over every frame; README "Design notes"). Files whose whole
frames could not be gathered (fewer than three a window) still use the model's frames.

The verdict withholds ok / swapped / mixed below a threshold fitted on validation
(`Calibration.min_sync`); a real source that barely moves with its sound (a loudspeaker's cone, a
harp's strings at this size) is then `uncertain`, which is what the product promises where no
visible thing can be seen making the sound. The same cells' correlations, as a map
(`file_sync_map`), also steer where the network looks (`Calibration.attention_prior`, session 33):
a thing that follows the sound over the whole file is more likely the one making it than a silent
thing beside it, which 8 frames of one window cannot tell apart.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from stereofix import windows
from stereofix.motion import aligned_previous

CELL = 16  # pixels of the model's 72 x 128 frame
STRIDE = 8
LEVEL_WINDOW_S = 0.04  # the sound's level around each frame's instant (the synthesizer animates on the same)
SAMPLE_RATE = 16000
MIN_PAIRS = 7  # frame pairs needed (one window's worth) before a correlation means anything


def picture_sync(frames: np.ndarray, audio: np.ndarray, frame_offsets: np.ndarray, peak: bool = True) -> float | None:
    """The file's picture-sound synchrony above chance (0: no more than chance, at most 1); None
    where it cannot be measured (fewer than MIN_PAIRS frame pairs, one window, or neither the
    picture nor the sound's level changes at all: a still image, a steady tone).

    The larger of two readings, each less what chance gives it: the best cell's correlation (a
    thing that stays put) and the correlation with how much the most changing cell changes at each
    instant (a thing that moves across the picture, which no one cell follows for long).

    frames: [L, T, H, W, 3] (or [L, T, H, W], grey) uint8 of the L judged windows; audio: [L, 2, N]
    float at 16 kHz from each window's start; frame_offsets: [L, T] seconds from each window's
    start at which each frame is shown. peak: False keeps the best cell's reading alone (as
    files calibrated before session 32 were).
    """
    return _sync_of(_cells_and_step(frames, audio, frame_offsets), peak)


def _sync_of(got, peak: bool) -> float | None:
    """`picture_sync` from `_cells_and_step`'s result."""
    if got is None:
        return None
    m, step, pairs, change_peak = got
    shifts = null_shifts(len(step) // pairs)
    if not shifts:
        return None

    def above_chance(read) -> float | None:
        """`read`(sound's level change) aligned, less its mean with the sound shifted by whole windows."""
        aligned = read(step)
        if aligned is None:
            return None
        return aligned - float(np.mean([read(np.roll(step, k * pairs)) or 0.0 for k in shifts]))

    readings = [above_chance(lambda a: _best_cell(a, m))]
    if peak:
        readings.append(above_chance(lambda a: _correlation(a, change_peak)))
    readings = [r for r in readings if r is not None]
    return max(readings) if readings else None


READINGS = ("model", "whole")


def whole_span(reading: str) -> float:
    """Seconds of each window `inputs.prepare` must decode whole for `file_sync(..., reading)`."""
    return windows.SYNC_SPAN_S if reading == "whole" else 0.0


def file_sync(inputs, reading: str = "whole") -> float | None:
    """`picture_sync` of a file's `inputs.WindowInputs`, read as a calibration was fitted
    (`verdict.Calibration.sync_reading`): "whole", over every frame of each window's first
    `windows.SYNC_SPAN_S` where those were decoded, else over the model's frames, both readings;
    "model", over the model's frames, the best cell alone (files calibrated before session 32)."""
    return file_sync_and_map(inputs, reading, with_map=False)[0]


def file_sync_map(inputs, reading: str = "whole") -> np.ndarray | None:
    """`sync_map` of a file's `inputs.WindowInputs`, over the frames `file_sync(inputs, reading)`
    reads (every frame of each window's first second where those were decoded and the reading asks
    for them, else the model's frames)."""
    return file_sync_and_map(inputs, reading, with_sync=False)[1]


def file_sync_and_map(inputs, reading: str = "whole", with_sync: bool = True,
                      with_map: bool = True) -> tuple[float | None, np.ndarray | None]:
    """(`file_sync`, `file_sync_map`) of a file's inputs from one reading of its frames' changes
    (most of the cost: about 0.15 s for 16 windows of whole frames on one core); None for what is
    not asked."""
    if reading not in READINGS:
        raise ValueError(f"unknown synchrony reading {reading!r}")
    if reading == "whole" and inputs.sync_frames is not None:
        got = _cells_and_step(inputs.sync_frames, inputs.audio, inputs.sync_offsets)
    else:
        got = _cells_and_step(inputs.frames, inputs.audio, inputs.frame_offsets)
    return (_sync_of(got, reading == "whole") if with_sync else None), (_map_of(got) if with_map else None)


def sync_map(frames: np.ndarray, audio: np.ndarray, frame_offsets: np.ndarray) -> np.ndarray | None:
    """[rows, columns]: each cell's correlation with the sound's level change over the whole file,
    clipped at 0 (where the picture follows the sound; `FlipNet.attend`'s prior); None where
    `picture_sync` cannot be measured. Same arguments as `picture_sync`."""
    return _map_of(_cells_and_step(frames, audio, frame_offsets))


def _map_of(got) -> np.ndarray | None:
    """`sync_map` from `_cells_and_step`'s result."""
    if got is None:
        return None
    m, step, _, _ = got
    return np.clip(np.nan_to_num(cell_correlations(step, m), nan=0.0), 0.0, None)


def _cells_and_step(frames: np.ndarray, audio: np.ndarray, frame_offsets: np.ndarray):
    """(the cells' change, centred, [P, rows, columns]; the sound's level change [P]; frame pairs
    per window; the most changing cell's change [P]), or None with too little to correlate."""
    if frames.ndim == 4:
        frames = frames[..., None]
    if frames.ndim != 5 or frames.shape[0] == 0 or frames.shape[1] < 2:
        return None
    m = cell_changes(frames)
    peak = m.reshape(m.shape[0], -1).max(1)
    m = m - m.mean(0)
    level = _level(audio.mean(1), frame_offsets)
    step = np.abs(np.diff(level, axis=1)).reshape(-1)
    if step.size < MIN_PAIRS:
        return None
    return m, step, level.shape[1] - 1, peak


def null_shifts(n_windows: int, apart: int | None = None) -> list[int]:
    """Whole-window shifts of the sound against the picture, far enough that the shifted windows
    share no sound with the ones they are laid against (all shifts where there are too few).
    apart: default one window's worth of the short-file hop (4 at a quarter-window hop)."""
    if apart is None:
        apart = math.ceil(1 / windows.SHORT_HOP - 1e-9)
    far = list(range(apart, n_windows - apart + 1))
    return far or list(range(1, n_windows))


def frame_changes(frames: np.ndarray) -> torch.Tensor:
    """How much each pixel changes between consecutive frames, camera motion taken out:
    [L * (T-1), 1, H, W] for frames [L, T, H, W, 3] uint8 (kept apart from the pooling so that
    `benchmarks/sync_choice.py` can pool one computation at several cell sizes)."""
    x = torch.from_numpy(np.ascontiguousarray(frames)).float().div(255).permute(0, 1, 4, 2, 3)  # C = 3 or 1 (grey)
    with torch.no_grad():
        return (x - aligned_previous(x)).abs().mean(2)[:, 1:].flatten(0, 1)[:, None]


def pool_cells(change: torch.Tensor, cell: int = CELL, stride: int = STRIDE) -> np.ndarray:
    """The mean of `change` [P, 1, H, W] over each cell: [P, rows, columns] (cells `cell` pixels,
    `stride` apart)."""
    with torch.no_grad():
        return F.avg_pool2d(change, cell, stride=stride)[:, 0].double().numpy()


def cell_changes(frames: np.ndarray) -> np.ndarray:
    """How much each cell changes between consecutive frames, camera motion taken out:
    [L * (T-1), rows, columns] for frames [L, T, H, W, 3] uint8 (cells CELL pixels, STRIDE apart)."""
    return pool_cells(frame_changes(frames))


def cell_correlations(step: np.ndarray, m: np.ndarray) -> np.ndarray:
    """The correlation of `step` [P] with each cell of `m` [P, ...] (centred cells), shaped as a
    cell of `m` ([rows, columns] for `cell_changes`); NaN where a cell or `step` does not change."""
    cells = m.reshape(m.shape[0], -1)
    a = step - step.mean()
    denom = np.sqrt((a**2).sum() * (cells**2).sum(0))
    valid = denom > 1e-12
    return np.where(valid, (a @ cells) / np.where(valid, denom, 1.0), np.nan).reshape(m.shape[1:])


def _correlation(a: np.ndarray, b: np.ndarray) -> float | None:
    """Pearson correlation of two series; None where either does not change."""
    a, b = a - a.mean(), b - b.mean()
    d = float(np.sqrt((a**2).sum() * (b**2).sum()))
    return float(a @ b) / d if d > 1e-12 else None


def _best_cell(step: np.ndarray, m: np.ndarray) -> float | None:
    """The largest correlation of `step` [P] with a cell of `m` [P, ...] (centred cells)."""
    r = cell_correlations(step, m)
    return float(np.nanmax(r)) if np.isfinite(r).any() else None


def _level(mono: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """RMS of `mono` [L, N] over LEVEL_WINDOW_S around each offset [L, T], scaled by the largest."""
    n = mono.shape[1]
    half = max(1, int(SAMPLE_RATE * LEVEL_WINDOW_S / 2))
    idx = np.clip((np.asarray(offsets) * SAMPLE_RATE).astype(np.int64), 0, max(0, n - 1))
    c = np.concatenate([np.zeros((mono.shape[0], 1)), np.cumsum(mono.astype(np.float64) ** 2, axis=1)], axis=1)
    lo, hi = np.clip(idx - half, 0, n), np.clip(idx + half, 0, n)
    rms = np.sqrt(np.maximum(np.take_along_axis(c, hi, 1) - np.take_along_axis(c, lo, 1), 0) / np.maximum(hi - lo, 1))
    return rms / (rms.max() + 1e-12)
