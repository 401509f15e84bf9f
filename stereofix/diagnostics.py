"""Audio-only diagnostics: is there anything spatial to judge, and is one channel inverted?

These verdicts need no model and never guess: they look only at level, correlation and
coherence between the two channels. They run on the same windows `check` decodes for the model,
so their cost does not grow with the file's length.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

SAMPLE_RATE = 16000  # Hz, the rate the windows are decoded at
SILENCE_PEAK_DBFS = -60.0  # peak below this on both channels: silence (peak, not RMS: sparse taps are quiet on average)
SILENCE_DBFS = -90.0  # RMS below this on both channels: silence (dither, codec noise)
ONE_SILENT_DB = 40.0  # one channel this much quieter than the other: one channel silent
DUAL_MONO_DB = -30.0  # side (L-R) energy this far below mid (L+R): dual mono, codec noise included
POLARITY_CORR = -0.5  # dominant correlation peak within MAX_LAG_S below this: one channel is inverted
POLARITY_DOMINANCE = 2.0  # the negative peak must be this many times the largest positive one
MAX_LAG_S = 0.002  # the widest spaced pair (about 60 cm) delays one channel by 1.75 ms
UNRELATED_COHERENCE = 0.05  # mean coherence below this: two unrelated mono signals
NFFT = 512  # samples per coherence segment (32 ms)
LOW_BAND_HZ = (60.0, 2000.0)  # where both ears/mics of one scene stay coherent
COHERENCE_BAND_HZ = (100.0, 4000.0)


@dataclass(frozen=True)
class AudioDiagnosis:
    """What the audio alone says. `reason` is None when the file has spatial content to judge."""

    reason: str | None  # "mono" | "silence" | "one-channel-silent" | "dual-mono" | "unrelated" | "polarity" | None
    rms_dbfs: tuple[float, ...]
    side_to_mid_db: float
    low_band_correlation: float  # signed correlation below 2 kHz at the lag (within 2 ms) where it is strongest
    coherence: float

    @property
    def verdict(self) -> str | None:
        """The product verdict this diagnosis forces, or None if the audio-visual model must decide."""
        if self.reason is None:
            return None
        return "polarity" if self.reason == "polarity" else "not-spatial"


class _Accumulator:
    """Running sums so arbitrarily many windows cost constant memory."""

    def __init__(self, sample_rate: int) -> None:
        self.sr = sample_rate
        self.n = 0
        self.energy = np.zeros(2)
        self.peak = 0.0
        self.cross = 0.0
        freqs = np.fft.rfftfreq(NFFT, 1.0 / sample_rate)
        self.low = (freqs >= LOW_BAND_HZ[0]) & (freqs <= LOW_BAND_HZ[1])
        self.band = (freqs >= COHERENCE_BAND_HZ[0]) & (freqs <= COHERENCE_BAND_HZ[1])
        self.sxx = np.zeros(len(freqs))
        self.syy = np.zeros(len(freqs))
        self.sxy = np.zeros(len(freqs), complex)

    def add(self, audio: np.ndarray) -> None:
        x, y = audio[0].astype(np.float64), audio[1].astype(np.float64)
        self.n += x.size
        self.energy += (np.dot(x, x), np.dot(y, y))
        self.cross += float(np.dot(x, y))
        if x.size:
            self.peak = max(self.peak, float(np.abs(x).max()), float(np.abs(y).max()))
        segs = x.size // NFFT
        if segs == 0:
            return
        win = np.hanning(NFFT)
        fx = np.fft.rfft(x[: segs * NFFT].reshape(segs, NFFT) * win, axis=1)
        fy = np.fft.rfft(y[: segs * NFFT].reshape(segs, NFFT) * win, axis=1)
        self.sxx += (np.abs(fx) ** 2).sum(0)
        self.syy += (np.abs(fy) ** 2).sum(0)
        self.sxy += (fx * np.conj(fy)).sum(0)


def diagnose(windows: Iterable[np.ndarray], sample_rate: int = SAMPLE_RATE) -> AudioDiagnosis:
    """Classify audio from one or more `[C, N]` float32 windows of the same stream.

    A single channel is `mono`. Two channels are tested in order: silence, one channel silent,
    dual mono (L == R within codec noise), polarity (L == -R, or low band anti-correlated),
    unrelated signals (no coherence); otherwise the content is spatial (reason None).
    """
    acc = _Accumulator(sample_rate)
    channels = None
    for w in windows:
        channels = w.shape[0]
        if channels == 1:
            break
        acc.add(w)
    if channels == 1:
        return AudioDiagnosis("mono", (), float("-inf"), float("nan"), float("nan"))
    n = max(acc.n, 1)
    rms_db = tuple(float(10 * np.log10(e / n + 1e-20)) for e in acc.energy)
    ex, ey = acc.energy
    mid = ex + ey + 2 * acc.cross
    side = ex + ey - 2 * acc.cross
    side_to_mid = float(10 * np.log10((side + 1e-20) / (mid + 1e-20)))
    low_corr = _band_correlation(acc, acc.low)
    # Per-bin coherence, averaged with weights sqrt(Sxx * Syy): bins where neither channel has
    # signal hold only codec noise, which joint-stereo coding makes coherent by itself.
    denom = acc.sxx[acc.band] * acc.syy[acc.band]
    per_bin = np.abs(acc.sxy[acc.band]) ** 2 / np.maximum(denom, 1e-30)
    weight = np.sqrt(denom)
    coherence = float((per_bin * weight).sum() / weight.sum()) if weight.sum() > 0 else 0.0

    def result(reason: str | None) -> AudioDiagnosis:
        return AudioDiagnosis(reason, rms_db, side_to_mid, low_corr, coherence)

    if acc.n == 0 or max(rms_db) < SILENCE_DBFS or 20 * np.log10(acc.peak + 1e-20) < SILENCE_PEAK_DBFS:
        return result("silence")
    if abs(rms_db[0] - rms_db[1]) > ONE_SILENT_DB or min(rms_db) < SILENCE_DBFS:
        return result("one-channel-silent")
    if side_to_mid < DUAL_MONO_DB:
        return result("dual-mono")
    if -side_to_mid < DUAL_MONO_DB or low_corr < POLARITY_CORR:
        return result("polarity")
    if coherence < UNRELATED_COHERENCE:
        return result("unrelated")
    return result(None)


def _band_correlation(acc: _Accumulator, band: np.ndarray) -> float:
    """The dominant correlation peak of the two channels in `band`, within MAX_LAG_S, with its sign.

    A delay (a spaced pair, a source off to one side) moves the peak to a non-zero lag but keeps it
    positive; an inverted channel makes it negative. Weakly coherent, reverberant recordings show
    negative lobes next to positive ones, so the negative peak counts only when it dominates the
    positive one POLARITY_DOMINANCE times; otherwise the positive peak is returned.
    """
    den = float(np.sqrt(acc.sxx[band].sum() * acc.syy[band].sum()))
    if den <= 0:
        return 0.0
    corr = np.fft.irfft(np.where(band, acc.sxy, 0), NFFT) * NFFT / 2 / den
    lag = int(MAX_LAG_S * acc.sr)
    window = np.concatenate([corr[-lag:], corr[: lag + 1]])
    pos, neg = float(window.max()), float(window.min())
    return neg if -neg > POLARITY_DOMINANCE * max(pos, 0.0) else pos
