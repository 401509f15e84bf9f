"""Letterbox and pillarbox bars: found in a file's frames and cut off before the model looks.

A phone's portrait video published in a landscape frame, or a 4:3 film in a 16:9 one, carries black
bars that the synthesizer never draws. Stretched to the model's 72x128 with its bars, a portrait
picture fills a third of the width and every source sits near the centre: measured on the
validation clips padded that way, the clear-sided abstention went from 11% to 41% (README "Design
notes"). Cutting the bars restores the picture the model was trained on.

The cut is always the same on both sides (the smaller of the two bars), so the picture's centre never
moves and nothing left of centre can end up right of it: a dark picture with one dark edge is left
as it is. A bar is a run of edge columns (or rows) darker than BLACK_LIMIT in every frame read from
the file, which a real scene almost never is.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

BLACK_LIMIT = 24  # luma (0-255) a bar's pixels stay under in every frame (ffmpeg cropdetect's default)
MIN_BAR = 0.015  # bars narrower than this share of the side are left alone (a codec's edge, a few pixels)
MIN_KEPT = 0.25  # a picture narrower than this share is not trusted to be a picture: nothing is cut
_LUMA = np.array([0.299, 0.587, 0.114], np.float32)


@dataclass(frozen=True)
class Bars:
    """Share of the width cut on each side, share of the height cut at top and bottom."""

    x: float
    y: float

    @property
    def kept(self) -> tuple[float, float]:
        """Share of (width, height) that is picture."""
        return 1 - 2 * self.x, 1 - 2 * self.y


def find_bars(frames: np.ndarray) -> Bars | None:
    """The bars of frames [N, H, W, 3] uint8 (all taken from one file), or None when there are none."""
    if frames.size == 0:
        return None
    luma = frames.reshape(-1, *frames.shape[-3:]) @ _LUMA  # [N, H, W]
    x = _bar(luma.max(axis=(0, 1)))
    y = _bar(luma.max(axis=(0, 2)))
    return Bars(x, y) if x or y else None


def _bar(profile: np.ndarray) -> float:
    """Share cut on each side of a max-luma profile along one axis: the shorter dark run at its ends."""
    n = profile.size
    bright = np.flatnonzero(profile > BLACK_LIMIT)
    if bright.size == 0:
        return 0.0  # black throughout: no picture to find
    cut = min(int(bright[0]), n - 1 - int(bright[-1]))
    share = cut / n
    if share < MIN_BAR or 1 - 2 * share < MIN_KEPT:
        return 0.0
    return share


def crop(frames: np.ndarray, bars: Bars) -> np.ndarray:
    """frames [..., H, W, 3] with the bars cut off (same cut on opposite sides)."""
    h, w = frames.shape[-3:-1]
    dx, dy = int(round(bars.x * w)), int(round(bars.y * h))
    return frames[..., dy : h - dy, dx : w - dx, :]


def area_resize(frames: np.ndarray, height: int, width: int) -> np.ndarray:
    """frames [..., H, W, 3] uint8 resized to (height, width) by pixel-area averaging (FFmpeg's
    AREA, which decodes the model's frames, does the same for downscaling)."""
    h, w = frames.shape[-3:-1]
    if (h, w) == (height, width):
        return frames
    x = np.moveaxis(frames.astype(np.float32), -1, -3)  # [..., 3, H, W]
    out = np.moveaxis(_area(h, height) @ x @ _area(w, width).T, -3, -1)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def _area(n_in: int, n_out: int) -> np.ndarray:
    """[n_out, n_in] weights: each output pixel averages the input pixels it covers, by overlap."""
    edges = np.arange(n_out + 1) * (n_in / n_out)
    lo, hi = edges[:-1, None], edges[1:, None]
    px = np.arange(n_in)[None, :]
    overlap = np.clip(np.minimum(hi, px + 1) - np.maximum(lo, px), 0, None)
    return (overlap / overlap.sum(1, keepdims=True)).astype(np.float32)
