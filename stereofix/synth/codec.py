"""A lossy codec round trip for a share of scenes: encode with stereofix.media.encode.write_clip
(AAC in an .m4a) and decode back. This is the synthesizer's only decoder; it is small on purpose."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from stereofix.media.encode import write_clip


def aac_round_trip(audio: np.ndarray, sample_rate: int, bit_rate: int) -> np.ndarray:
    """Encode [2, N] float32 audio to AAC at `bit_rate` bit/s and decode it back, aligned to the
    input (the encoder's priming delay is removed by cross-correlation) and cut to N samples."""
    import av

    n = audio.shape[1]
    with tempfile.TemporaryDirectory(prefix="stereofix-codec-") as tmp:
        path = Path(tmp) / "a.m4a"
        write_clip(path, None, audio=audio, sample_rate=sample_rate, audio_codec="aac", audio_bit_rate=bit_rate)
        parts = []
        with av.open(str(path)) as f:
            for frame in f.decode(audio=0):
                parts.append(frame.to_ndarray().reshape(audio.shape[0], -1))
    y = np.concatenate(parts, axis=1).astype(np.float32) if parts else np.zeros_like(audio)
    # Align: the lag that best matches the mid signals (priming is at most a few thousand samples).
    m = min(n, 8192)
    ref, got = audio.mean(0)[:m], y.mean(0)[: m + 4096]
    if got.size >= m and np.any(ref):
        corr = np.correlate(got, ref, mode="valid")
        lag = int(np.argmax(corr))
    else:
        lag = 0
    y = y[:, lag: lag + n]
    if y.shape[1] < n:
        y = np.pad(y, ((0, 0), (0, n - y.shape[1])))
    return y
