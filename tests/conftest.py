"""Shared fixtures: tiny clips encoded on the fly with PyAV (no media is committed for tests)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from stereofix.media import write_clip

SR = 48000  # Hz
FPS = 25


def noise(seed: int, seconds: float, sr: int = SR, cutoff_bins: int = 4000) -> np.ndarray:
    """Band-limited noise: survives AAC well and is different for every seed."""
    rng = np.random.default_rng(seed)
    n = int(seconds * sr)
    spec = np.fft.rfft(rng.standard_normal(n))
    spec[cutoff_bins * n // sr * 2 :] = 0
    x = np.fft.irfft(spec, n)
    return (0.25 * x / np.max(np.abs(x))).astype(np.float32)


def frames_with_index(n: int, h: int = 72, w: int = 128, asymmetric: bool = False) -> np.ndarray:
    """Frame k has brightness 4k in its left half, so its index can be read back after decoding."""
    f = np.zeros((n, h, w, 3), np.uint8)
    for k in range(n):
        f[k, :, : w // 2] = min(255, 4 * k)
        if asymmetric:
            f[k, : h // 4, : w // 4] = (255, 0, 0)  # red in the top-left corner
    return f


def stereo_clip(path: Path, audio: np.ndarray | None, seconds: float = 2.0, video: bool = True, **kw) -> Path:
    frames = frames_with_index(int(seconds * FPS)) if video else None
    return write_clip(path, frames, FPS, audio, SR, **kw)


@pytest.fixture
def make_stereo(tmp_path):
    """make_stereo(name, left, right) -> path of an mp4 with that audio and a short picture."""

    def make(name: str, left: np.ndarray, right: np.ndarray | None = None, **kw) -> Path:
        audio = left[None] if right is None else np.stack([left, right])
        return stereo_clip(tmp_path / name, audio, seconds=left.size / SR, **kw)

    return make
