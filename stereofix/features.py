"""Stereo audio features that keep interaural level AND time/phase differences.

Real binaural time differences are 40-140 us, one or two samples at 16 kHz, so magnitude
spectrograms alone cannot see them: the cross-spectrum's phase (per band) and an upsampled
GCC-PHAT (per time step) resolve them. Every feature has an exact mirror under a channel swap
(`swap_features`), which is what makes the classifier's logit exactly antisymmetric.
"""

from __future__ import annotations

import math

import torch

SAMPLE_RATE = 16000  # Hz
N_FFT = 512  # samples (32 ms)
HOP = 256  # samples (16 ms)
N_BANDS = 48  # frequency bands, mel-like spacing
TIME_POOL = 4  # STFT frames per feature step (64 ms)
GCC_MAX_LAG = 24  # samples (1.5 ms: spaced pairs up to ~50 cm)
GCC_UPSAMPLE = 4  # sub-sample lag resolution (1/4 sample = 16 us)
N_LAGS = 2 * GCC_MAX_LAG * GCC_UPSAMPLE + 1
BAND_FEATURES = 4  # mid level, ILD, coherent phase cos, coherent phase sin
ONSET_FEATURES = 4  # onset strength, onset-weighted ILD, phase cos, phase sin (`stereo_features(onset=True)`)
ONSET_MIN_RISE = 0.3  # log10 power rise (3 dB) below which a frame is no onset: noise flickers that much
ONSET_MAX_RISE = 2.0  # rise counted at most (20 dB), so one click does not rule
EPS = 1e-8


def _band_matrix() -> torch.Tensor:
    """[N_BANDS, F] triangular filters on a mel scale from 50 Hz to Nyquist."""
    n_freq = N_FFT // 2 + 1
    freqs = torch.linspace(0, SAMPLE_RATE / 2, n_freq)
    mel = lambda f: 2595 * math.log10(1 + f / 700)  # noqa: E731
    edges_mel = torch.linspace(mel(50.0), mel(SAMPLE_RATE / 2), N_BANDS + 2)
    edges = 700 * (10 ** (edges_mel / 2595) - 1)
    m = torch.zeros(N_BANDS, n_freq)
    for b in range(N_BANDS):
        lo, c, hi = edges[b], edges[b + 1], edges[b + 2]
        up = (freqs - lo) / (c - lo)
        down = (hi - freqs) / (hi - c)
        m[b] = torch.clamp(torch.minimum(up, down), min=0)
        if m[b].sum() == 0:  # narrow low band: take the nearest bin
            m[b, int(torch.argmin((freqs - c).abs()))] = 1.0
    return m / m.sum(1, keepdim=True)


_BANDS = _band_matrix()
_WINDOW = torch.hann_window(N_FFT)


def n_steps(n_samples: int) -> int:
    """Feature time steps for a window of `n_samples`."""
    return (n_samples // HOP + 1) // TIME_POOL


def stereo_features(audio: torch.Tensor, onset: bool = False, onset_gcc: bool = False) -> dict[str, torch.Tensor]:
    """Features of a batch of stereo windows.

    Args:
        audio: [B, 2, N] float32 at SAMPLE_RATE, channel 0 = left.
        onset: also return the onset-weighted cues (`onset_cues`).
        onset_gcc: also return the onset-weighted GCC-PHAT (`onset_correlation`).

    Returns:
        bands: [B, BAND_FEATURES, N_BANDS, S]: mid log level, ILD (dB/10), coherent phase cos and sin.
        gcc: [B, N_LAGS, S]: GCC-PHAT over lags -GCC_MAX_LAG..+GCC_MAX_LAG samples (positive = left earlier).
        onset (if asked): [B, ONSET_FEATURES, N_BANDS, S], see `onset_cues`.
        onset_gcc (if asked): [B, N_LAGS, S], see `onset_correlation`.
        S = n_steps(N).
    """
    b, _, n = audio.shape
    spec = torch.stft(audio.reshape(b * 2, n), N_FFT, HOP, window=_WINDOW.to(audio.device), return_complex=True)
    spec = spec.reshape(b, 2, spec.shape[-2], spec.shape[-1])
    steps = spec.shape[-1] // TIME_POOL
    spec = spec[..., : steps * TIME_POOL]
    left, right = spec[:, 0], spec[:, 1]  # [B, F, T]
    cross = left * right.conj()
    pl, pr = left.abs() ** 2, right.abs() ** 2

    def pool(x: torch.Tensor) -> torch.Tensor:  # [B, F, T] -> [B, F, S]
        return x.reshape(*x.shape[:-1], steps, TIME_POOL).mean(-1)

    bands = _BANDS.to(audio.device)
    extra = {}
    if onset or onset_gcc:
        # Per 16 ms frame, before the pooling below: both onset features read the same rises.
        bl = torch.einsum("kf,bft->bkt", bands, pl)
        br = torch.einsum("kf,bft->bkt", bands, pr)
        w, ref = _onset_weights(bl, br)
        if onset:
            extra["onset"] = onset_cues(bl, br, w, ref, cross, bands, steps)
        if onset_gcc:
            extra["onset_gcc"] = onset_correlation(w, cross, bands, steps)
    pl, pr = pool(pl), pool(pr)
    cross = torch.complex(pool(cross.real), pool(cross.imag))
    bl = torch.einsum("kf,bfs->bks", bands, pl)
    br = torch.einsum("kf,bfs->bks", bands, pr)
    bc_re = torch.einsum("kf,bfs->bks", bands, cross.real)
    bc_im = torch.einsum("kf,bfs->bks", bands, cross.imag)
    # Levels relative to the window's loudest band: the model sees spectra, not absolute gain, and
    # a floor 60 dB down keeps silent bands from producing random ILDs.
    ref = torch.amax(bl + br, dim=(1, 2), keepdim=True) + EPS
    floor = ref * 1e-6
    mid = torch.log10((bl + br) / ref + 1e-6)
    ild = torch.log10((bl + floor) / (br + floor))
    norm = torch.sqrt(bl * br) + floor
    feats = torch.stack([mid, ild, bc_re / norm, bc_im / norm], dim=1)
    # GCC-PHAT: whitened cross-spectrum -> correlation over lags; upsampled by zero-padding the spectrum.
    phat = cross / (cross.abs() + EPS * ref.squeeze(-1).unsqueeze(-1) * 1e-3 + 1e-12)
    return {"bands": feats, "gcc": _gcc_lags(phat), **extra}


def _gcc_lags(phat: torch.Tensor) -> torch.Tensor:
    """Whitened cross-spectra [B, F, S] -> correlation [B, N_LAGS, S] over lags -GCC_MAX_LAG..+GCC_MAX_LAG.

    Upsampled by zero-padding the spectrum. irfft of L * conj(R) peaks at minus the delay of R behind
    L; the lags are flipped so that positive lags mean the left channel is earlier.
    """
    corr = torch.fft.irfft(phat.transpose(1, 2), n=N_FFT * GCC_UPSAMPLE)  # [B, S, N_FFT*UP]
    lag = GCC_MAX_LAG * GCC_UPSAMPLE
    return torch.cat([corr[..., -lag:], corr[..., : lag + 1]], dim=-1).flip(-1).transpose(1, 2) * GCC_UPSAMPLE


def _onset_weights(bl: torch.Tensor, br: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per band and 16 ms frame [B, K, T]: how far the level (both channels) rose over the louder of
    the two frames before it, beyond ONSET_MIN_RISE and capped at ONSET_MAX_RISE; and the level reference."""
    mid = bl + br
    ref = torch.amax(mid, dim=(1, 2), keepdim=True) + EPS
    level = torch.log10(mid / ref + 1e-6)
    before = torch.maximum(_delayed(level, 1), _delayed(level, 2))
    return (level - before - ONSET_MIN_RISE).clamp(0, ONSET_MAX_RISE), ref


def onset_cues(bl: torch.Tensor, br: torch.Tensor, w: torch.Tensor, ref: torch.Tensor, cross: torch.Tensor,
               bands: torch.Tensor, steps: int) -> torch.Tensor:
    """ILD and phase per band, weighted towards the frames where the band's sound rises.

    In a room the direct sound arrives first and the reflections pile up after it, so cues read at
    onsets point at the source while the sustained part of a note reads the room (the precedence
    effect: how listeners localize in reverberation). Each 16 ms frame is weighted by how much the
    band's level (both channels) rose over the loudest of the two frames before it, beyond 3 dB; the
    cues are pooled per 64 ms step with those weights, and the step's total weight comes with them so
    the model knows how much onset there was. A step without an onset gives zeros (no opinion).

    Args: per-band powers bl, br [B, K, T] (T = steps * TIME_POOL frames), their onset weights and
        level reference (`_onset_weights`), the per-bin cross-spectrum [B, F, T], band filters.
    Returns: [B, ONSET_FEATURES, N_BANDS, steps]; exchanging the channels negates ILD and sin exactly.
    """
    bc_re = torch.einsum("kf,bft->bkt", bands, cross.real)
    bc_im = torch.einsum("kf,bft->bkt", bands, cross.imag)

    def pool(x: torch.Tensor) -> torch.Tensor:  # weighted sum over each step's frames
        return (w * x).reshape(*x.shape[:-1], steps, TIME_POOL).sum(-1)

    floor = ref * 1e-6
    wl, wr = pool(bl), pool(br)
    norm = pool(torch.sqrt(bl * br)) + floor
    ild = torch.log10((wl + floor) / (wr + floor))
    strength = w.reshape(*w.shape[:-1], steps, TIME_POOL).mean(-1)
    return torch.stack([strength, ild, pool(bc_re) / norm, pool(bc_im) / norm], dim=1)


def onset_correlation(w: torch.Tensor, cross: torch.Tensor, bands: torch.Tensor, steps: int) -> torch.Tensor:
    """GCC-PHAT over the frames where the sound rises, per 64 ms step.

    The time difference at onsets, read across all frequencies at once: unlike a band's phase
    (`onset_cues`), a correlation peak does not wrap when a spaced pair's delay exceeds half a period,
    and unlike the window's GCC it is not pulled towards a strong reflection that arrives later (the
    precedence effect). Each bin's whitened cross-spectrum is weighted by its bands' onset weights
    (`_onset_weights`); a step without an onset gives zeros.

    Args: per-band onset weights w [B, K, T] (`_onset_weights`; T = steps * TIME_POOL frames), the
        per-bin cross-spectrum [B, F, T], band filters.
    Returns: [B, N_LAGS, steps]; exchanging the channels reverses the lags exactly.
    """
    share = bands / bands.sum(0, keepdim=True).clamp_min(EPS)  # each bin's weight from the bands over it
    wf = torch.einsum("kf,bkt->bft", share, w)
    g = wf * cross / (cross.abs() + 1e-12)
    g = g.reshape(*g.shape[:-1], steps, TIME_POOL).mean(-1)
    return _gcc_lags(g)


def _delayed(x: torch.Tensor, k: int) -> torch.Tensor:
    """x [..., T] delayed by k frames along time (the first frames repeat the first value)."""
    return torch.cat([x[..., :1].expand(*x.shape[:-1], k), x[..., :-k]], dim=-1)


def at_times(x: torch.Tensor, times: torch.Tensor) -> torch.Tensor:
    """Feature steps x [B, C, S] read at `times` [B, T] (seconds from the window start) -> [B, T, C].

    Step s pools STFT frames centred at (TIME_POOL * s + (TIME_POOL - 1) / 2) * HOP samples;
    between step centres the value is interpolated linearly, beyond the ends held.
    """
    s = x.shape[-1]
    pos = (times * SAMPLE_RATE - (TIME_POOL - 1) / 2 * HOP) / (TIME_POOL * HOP)
    pos = pos.clamp(0, s - 1)
    i0 = pos.floor().long().clamp(max=s - 1)
    i1 = (i0 + 1).clamp(max=s - 1)
    w = (pos - i0).unsqueeze(1)  # [B, 1, T]
    c = x.shape[1]
    g0 = x.gather(2, i0.unsqueeze(1).expand(-1, c, -1))
    g1 = x.gather(2, i1.unsqueeze(1).expand(-1, c, -1))
    return (g0 * (1 - w) + g1 * w).transpose(1, 2)


def swap_features(f: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The features of the same windows with channels exchanged, computed exactly from `f`."""
    sign = torch.tensor([1.0, -1.0, 1.0, -1.0], device=f["bands"].device).view(1, 4, 1, 1)
    out = {"bands": f["bands"] * sign, "gcc": f["gcc"].flip(1)}
    if "onset" in f:
        out["onset"] = f["onset"] * sign
    if "onset_gcc" in f:
        out["onset_gcc"] = f["onset_gcc"].flip(1)
    return out
