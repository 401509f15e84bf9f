"""Spatial rendering: microphone models, moving sources, rooms and diffuse noise.

Every model maps a source azimuth (degrees, counter-clockwise, +90 = left, i.e. positive = the left
half of the picture) to a pair of transfer functions [2, F] (channel 0 = left) on an rFFT grid:

- ``binaural_kemar``: the measured MIT KEMAR HRTF, nearest direction of the split's own set;
- ``spherical_head``: Brown and Duda (1998): ITD (a/c)(theta + sin theta) and a one-pole/one-zero
  head-shadow filter per ear, head radius 7.5 to 9.5 cm;
- ``spaced_omni``: two omnis 10 to 60 cm apart, a pure time difference;
- ``xy``: coincident cardioids at +-45 to +-67.5 degrees, a pure level difference;
- ``ortf``: cardioids at +-55 degrees, 17 cm apart: level and time;
- ``panpot``: constant-power pan-pot over the field of view (how mixed content is panned).

A moving source is rendered at a few keyframe positions and cross-faded with raised-cosine weights
that sum to one, so the cues vary smoothly. The room adds early reflections and a decorrelated
exponentially decaying tail (RT60 0 to 1 s) to each channel.
"""

from __future__ import annotations

import numpy as np
from scipy import fft as sfft

from stereofix.synth.splits import check_split

MIC_MODELS = ("binaural_kemar", "spherical_head", "spaced_omni", "xy", "ortf", "panpot")
SPEED_OF_SOUND = 343.0  # m/s


def mic_probabilities(weights: dict[str, float]) -> list[float]:
    """Each microphone model's share when some are weighted (the rest weigh 1, as when none is)."""
    unknown = set(weights) - set(MIC_MODELS)
    if unknown:
        raise ValueError(f"unknown microphone models {sorted(unknown)}; expected some of {MIC_MODELS}")
    w = np.array([float(weights.get(m, 1.0)) for m in MIC_MODELS])
    if (w < 0).any() or w.sum() <= 0:
        raise ValueError("microphone weights must be >= 0 and not all 0")
    return (w / w.sum()).tolist()


def draw_mic(rng: np.random.Generator, hfov_deg: float, model: str | None = None,
             weights: dict[str, float] | None = None) -> dict:
    """Draw a microphone model (uniformly, or by `weights`) and its parameters (JSON-serialisable)."""
    if model is None:
        # The unweighted draw stays as it was, so every split renders the same scenes as before.
        model = str(rng.choice(MIC_MODELS, p=mic_probabilities(weights)) if weights else rng.choice(MIC_MODELS))
    mic = {"model": model}
    if model == "spherical_head":
        mic["head_radius_m"] = round(float(rng.uniform(0.075, 0.095)), 4)
    elif model == "spaced_omni":
        mic["spacing_m"] = round(float(rng.uniform(0.10, 0.60)), 3)
    elif model == "xy":
        mic["half_angle_deg"] = round(float(rng.uniform(45.0, 67.5)), 1)
    elif model == "ortf":
        mic.update(half_angle_deg=55.0, spacing_m=0.17)
    elif model == "panpot":
        mic["hfov_deg"] = hfov_deg
    return mic


class Hrtf:
    """KEMAR HRIRs of one split at one rate, with their spectra cached per FFT size."""

    def __init__(self, positions: np.ndarray, irs: np.ndarray, split: str):
        check_split(split)
        az, el = positions[:, 0], positions[:, 1]
        if split == "train":
            keep = el != 0
        else:
            ring = np.flatnonzero(el == 0)
            step = np.round(az[ring] / 5.0).astype(int)  # index on the 5-degree grid
            keep = np.zeros(len(az), bool)
            keep[ring[step % 2 == (0 if split == "val" else 1)]] = True
        self.split = split
        self.az = az[keep].astype(np.float64)
        self.el = el[keep].astype(np.float64)
        self.irs = irs[keep]  # [M, 2, L]
        self._spec: dict[tuple[int, int], np.ndarray] = {}
        # A unit-energy reference so that HRTF renders sit at levels like the analytic models.
        self.norm = 1.0 / np.sqrt(np.mean(np.sum(self.irs ** 2, axis=(1, 2))) / 2)

    def nearest(self, az_deg: float, rng_el: float = 0.0) -> int:
        """Index of the measured direction closest to (az_deg, rng_el)."""
        d_az = np.abs((self.az - az_deg + 180.0) % 360.0 - 180.0)
        return int(np.argmin(d_az + 0.5 * np.abs(self.el - rng_el)))

    def spectrum(self, i: int, nfft: int) -> np.ndarray:
        key = (i, nfft)
        if key not in self._spec:
            self._spec[key] = (sfft.rfft(self.irs[i], nfft, axis=-1) * self.norm).astype(np.complex64)
        return self._spec[key]


def transfer(mic: dict, az_deg: float, freqs: np.ndarray, nfft: int, hrtf: Hrtf | None = None,
             elevation_deg: float = 0.0) -> np.ndarray:
    """Transfer functions [2, F] complex64 of `mic` for a source at `az_deg` (channel 0 = left)."""
    model = mic["model"]
    az = np.deg2rad(az_deg)
    w = 2 * np.pi * freqs
    if model == "binaural_kemar":
        return hrtf.spectrum(hrtf.nearest(az_deg, elevation_deg), nfft)
    if model == "spherical_head":
        a = mic["head_radius_m"]
        w0 = SPEED_OF_SOUND / a
        out = []
        for ear_az in (np.pi / 2, -np.pi / 2):
            theta = abs((az - ear_az + np.pi) % (2 * np.pi) - np.pi)  # angle from the ear's axis
            alpha = 1.05 + 0.95 * np.cos(theta / np.deg2rad(150.0) * np.pi)
            shadow = (1 + 1j * alpha * w / (2 * w0)) / (1 + 1j * w / (2 * w0))
            delay = -a / SPEED_OF_SOUND * np.cos(theta) if theta < np.pi / 2 else a / SPEED_OF_SOUND * (theta - np.pi / 2)
            delay += a / SPEED_OF_SOUND  # keep it causal
            out.append(shadow * np.exp(-1j * w * delay))
        return np.asarray(out, np.complex64)
    gains = np.ones(2)
    delays = np.zeros(2)
    if model in ("xy", "ortf"):
        phi = np.deg2rad(mic["half_angle_deg"])
        gains = np.array([0.5 * (1 + np.cos(az - phi)), 0.5 * (1 + np.cos(az + phi))])
    if model in ("spaced_omni", "ortf"):
        half = mic["spacing_m"] / (2 * SPEED_OF_SOUND)
        delays = np.array([half * (1 - np.sin(az)), half * (1 + np.sin(az))])
    if model == "panpot":
        pan = float(np.clip(az_deg / (mic["hfov_deg"] / 2), -1.0, 1.0))  # +1 = hard left
        ang = (1 - pan) * np.pi / 4
        gains = np.array([np.cos(ang), np.sin(ang)]) * np.sqrt(2)
    return (gains[:, None] * np.exp(-1j * w[None, :] * delays[:, None])).astype(np.complex64)


def crossfade_weights(n: int, key_times_s: np.ndarray, rate: int) -> np.ndarray:
    """Raised-cosine weights [K, n] that sum to 1; weight k peaks at key_times_s[k]."""
    k = len(key_times_s)
    if k == 1:
        return np.ones((1, n), np.float32)
    t = np.arange(n) / rate
    w = np.zeros((k, n), np.float32)
    for i in range(k - 1):
        t0, t1 = key_times_s[i], key_times_s[i + 1]
        x = np.clip((t - t0) / (t1 - t0), 0.0, 1.0)
        up = 0.5 - 0.5 * np.cos(np.pi * x)
        seg = (t >= t0) & (t < t1)
        w[i, seg] = 1 - up[seg]
        w[i + 1, seg] = up[seg]
    w[0, t < key_times_s[0]] = 1
    w[-1, t >= key_times_s[-1]] = 1
    return w


def render_source(dry: np.ndarray, mic: dict, key_az_deg: np.ndarray, key_times_s: np.ndarray, rate: int,
                  hrtf: Hrtf | None, room: np.ndarray | None, elevation_deg: float = 0.0) -> np.ndarray:
    """Render one mono source [n] to [2, n]: direct path through `mic` (moving: keyframes
    cross-faded) plus the room response [2, L] applied to the dry signal."""
    n = dry.size
    tail = 0 if room is None else room.shape[1]
    ir_len = hrtf.irs.shape[-1] if hrtf is not None and mic["model"] == "binaural_kemar" else 64
    nfft = sfft.next_fast_len(n + max(tail, ir_len), real=True)
    spec = sfft.rfft(dry, nfft)
    freqs = np.fft.rfftfreq(nfft, 1.0 / rate)
    weights = crossfade_weights(n, key_times_s, rate)
    out = np.zeros((2, n), np.float32)
    for k, az in enumerate(key_az_deg):
        h = transfer(mic, float(az), freqs, nfft, hrtf, elevation_deg)
        y = sfft.irfft(spec[None, :] * h, nfft, axis=-1)[:, :n]
        out += y * weights[k]
    if room is not None:
        out += sfft.irfft(spec[None, :] * sfft.rfft(room, nfft, axis=-1), nfft, axis=-1)[:, :n]
    return out


def room_response(rng: np.random.Generator, rt60_s: float, rate: int, drr_db: float) -> np.ndarray | None:
    """Early reflections plus a decorrelated diffuse tail, [2, L] float32, or None for a dry scene.

    Args:
        rt60_s: reverberation time (s); below 0.05 s the scene is dry.
        drr_db: direct-to-reverberant energy ratio (dB), relative to a unit direct path.
    """
    if rt60_s < 0.05:
        return None
    n = int(min(rt60_s, 1.0) * rate)
    t = np.arange(n) / rate
    h = np.zeros((2, n), np.float32)
    # Early reflections: the same walls reach both channels with slightly different delays and gains.
    for _ in range(int(rng.integers(4, 10))):
        d = rng.uniform(0.002, 0.04)
        g = rng.uniform(0.2, 0.7) * np.sign(rng.uniform(-0.3, 1.0))
        for c in range(2):
            i = int((d + rng.uniform(-0.0007, 0.0007)) * rate)
            if 0 < i < n:
                h[c, i] += g * rng.uniform(0.7, 1.0)
    tail = rng.standard_normal((2, n)).astype(np.float32) * np.exp(-6.91 * t / rt60_s)
    tail *= np.clip((t - 0.01) / 0.02, 0.0, 1.0)  # the diffuse tail builds up after ~10 ms
    # Darken the tail a little (air and walls absorb highs): a one-tap smoother.
    tail[:, 1:] = 0.6 * tail[:, 1:] + 0.4 * tail[:, :-1]
    h += tail
    energy = float(np.sum(h ** 2) / 2)
    h *= np.sqrt(10 ** (-drr_db / 10) / max(energy, 1e-12))
    return h


def diffuse_noise(rng: np.random.Generator, n: int, rate: int, coherence: float, slope: float) -> np.ndarray:
    """Two-channel coloured noise [2, n] with unit RMS; `slope` 0 = white, 1 = pink, 2 = brown;
    `coherence` in [0, 1] is the share common to both channels."""
    nfft = sfft.next_fast_len(n, real=True)
    f = np.fft.rfftfreq(nfft, 1.0 / rate)
    shape = 1.0 / np.maximum(f, 20.0) ** (slope / 2)
    z = rng.standard_normal((3, f.size)) + 1j * rng.standard_normal((3, f.size))
    x = sfft.irfft(z * shape, nfft, axis=-1)[:, :n]
    common, own = x[0], x[1:]
    y = np.sqrt(coherence) * common[None, :] + np.sqrt(1 - coherence) * own
    return (y / (np.sqrt(np.mean(y ** 2)) + 1e-12)).astype(np.float32)
