"""Render one scene from a seed: frames, stereo audio and the truth.

Conventions (binding): azimuth is positive in the LEFT half of the picture; a source at horizontal
image position u (0 = left edge, 1 = right edge) has azimuth atan((0.5 - u) * 2 * tan(hfov / 2));
channel 0 is left, so a source on the left is louder and/or earlier in channel 0. Frame k is shown
at frame_times[k]; audio sample 0 is at t = 0.

The same (seed, split, keyword arguments) give the same scene bit for bit, given the same bank.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.signal import lfilter

from stereofix.synth import spatial, visuals
from stereofix.synth.codec import aac_round_trip
from stereofix.synth.material import Bank, get_bank
from stereofix.synth.splits import SPLITS, check_split

SCENE_TYPES = ("single", "moving", "distractors", "two_opposite", "centred", "offscreen", "dual_mono", "noise_only")
# How often each type is drawn when scene_type is None (sums to 1).
SCENE_WEIGHTS = (0.18, 0.16, 0.18, 0.12, 0.09, 0.09, 0.09, 0.09)
ASPECT_WEIGHTS = {"16:9": 0.45, "4:3": 0.2, "9:16": 0.25, "3:4": 0.1}
HFOV_RANGE_DEG = (50.0, 100.0)
LEVEL_RANGE_DBFS = (-41.0, -1.0)  # peak level of the scene's audio, a 40 dB spread
CODEC_SHARE = 0.15  # share of scenes that go through an AAC round trip
JPEG_SHARE = 0.3  # share of scenes whose frames go through JPEG
SIDE_MIN_DEG = 5.0  # an energy-weighted azimuth below this (or 15% of hfov/2) is "centred"
# Which sounds go with which drawn object.
SOUND_FOR_OBJECT = {
    "face": ("speech",), "photo_face": ("speech",), "instrument": ("instrument", "percussion"),
    "hands": ("asmr",), "speaker": ("speech", "instrument", "percussion", "asmr"),
    "patch": ("asmr", "instrument", "percussion", "speech"),
}


@dataclass
class Scene:
    """One rendered scene.

    Attributes:
        frames: [T, H, W, 3] uint8 RGB.
        frame_times: [T] float64 seconds from scene start.
        audio: [2, N] float32, channel 0 = left, peak <= 1.
        sample_rate: Hz.
        mono: [N] float32, (L + R) / 2 of `audio`.
        truth: JSON-serialisable description (see render_scene).
    """

    frames: np.ndarray
    frame_times: np.ndarray
    audio: np.ndarray
    sample_rate: int
    mono: np.ndarray
    truth: dict


def type_probabilities(weights: dict[str, float] | None = None) -> list[float]:
    """SCENE_WEIGHTS with some types' weights replaced, normalised to sum to 1."""
    weights = weights or {}
    unknown = set(weights) - set(SCENE_TYPES)
    if unknown:
        raise ValueError(f"unknown scene types {sorted(unknown)}; expected some of {SCENE_TYPES}")
    w = np.array([float(weights.get(t, d)) for t, d in zip(SCENE_TYPES, SCENE_WEIGHTS)])
    if (w < 0).any() or w.sum() <= 0:
        raise ValueError("scene weights must be >= 0 and not all 0")
    return (w / w.sum()).tolist()


def azimuth_deg(u: np.ndarray | float, hfov_deg: float) -> np.ndarray:
    """Azimuth (degrees, + = left) of horizontal image position u (0 = left edge)."""
    return np.rad2deg(np.arctan((0.5 - np.asarray(u, np.float64)) * 2 * np.tan(np.deg2rad(hfov_deg) / 2)))


def _source_signal(rng, bank: Bank, split: str, kinds: tuple[str, ...], n: int, rate: int):
    """A mono dry signal [n] from one voice/instrument/sound group, with pauses; and its identity."""
    groups = bank.sound_groups(split, kinds) or bank.sound_groups(split, ("asmr", "speech", "instrument", "percussion"))
    kind, group = groups[int(rng.integers(len(groups)))]
    items = bank.group_items(split, kind, group)
    parts, total = [], 0
    while total < n + rate:
        x = bank.clip(items[int(rng.integers(len(items)))], rate)
        gap = np.zeros(int(rng.uniform(0.05, 0.5) * rate), np.float32)
        parts += [x, gap]
        total += x.size + gap.size
    y = np.concatenate(parts)
    start = int(rng.integers(0, max(1, y.size - n)))
    y = y[start:start + n].copy()
    if rng.random() < 0.3:  # a pause: the source is silent for part of the window
        p0 = int(rng.uniform(0, 0.7) * n)
        y[p0:p0 + int(rng.uniform(0.15, 0.4) * n)] = 0
    if rng.random() < 0.5:  # vary the spectrum: a gentle first-order tilt
        c = rng.uniform(-0.6, 0.6)
        y = lfilter([1.0, -c], [1.0], y).astype(np.float32)
    rms = np.sqrt(np.mean(y ** 2)) + 1e-9
    return (y / rms).astype(np.float32), {"kind": kind, "group": group}


ENVELOPE_WINDOW_S = 0.04  # a mouth or a string reacts to the sound of the moment, whatever the frame rate


def _envelope(x: np.ndarray, frame_times: np.ndarray, rate: int, fps: float) -> np.ndarray:
    """RMS of x in a short window around each frame time, scaled to 0..1 (by its own maximum).

    The window is fixed in seconds, not one frame long: a scene rendered at 4 fps for training must
    animate like a 25 fps video sampled at 4 fps, which is what the model sees at run time.
    """
    half = max(1, int(rate * ENVELOPE_WINDOW_S / 2))
    c = np.concatenate([[0.0], np.cumsum(x.astype(np.float64) ** 2)])
    idx = (frame_times * rate).astype(int)
    lo, hi = np.clip(idx - half, 0, x.size), np.clip(idx + half, 0, x.size)
    e = np.sqrt((c[hi] - c[lo]) / np.maximum(hi - lo, 1))
    return e / (e.max() + 1e-9)


def _smooth_path(rng, t: np.ndarray, start: float, end: float) -> np.ndarray:
    """Eased motion from start to end over t (0..1)."""
    x = 0.5 - 0.5 * np.cos(np.pi * np.clip(t, 0, 1))
    return start + (end - start) * x


def _layout(rng, scene_type: str, tn: np.ndarray) -> list[dict]:
    """Objects of a scene: kind, sounding, visible, world u/v tracks over normalised time tn."""
    objs = []

    def obj(sounding, u, v=None, visible=True, kind=None):
        kind = kind or str(rng.choice(visuals.OBJECT_KINDS))
        v = rng.uniform(0.3, 0.7) if v is None else v
        u = np.full(tn.size, u) if np.isscalar(u) else u
        drift = rng.normal(0, 0.01) * tn if scene_type != "centred" else 0.0
        objs.append({"kind": kind, "sounding": sounding, "visible": visible,
                     "u": u + drift, "v": np.full(tn.size, v), "size": rng.uniform(0.25, 0.45)})

    def side_u():
        return rng.uniform(0.08, 0.36) if rng.random() < 0.5 else rng.uniform(0.64, 0.92)

    if scene_type in ("single", "dual_mono", "distractors"):
        obj(True, side_u())
    elif scene_type == "moving":
        u0 = side_u()
        u1 = float(np.clip(1.0 - u0 + rng.normal(0, 0.1), 0.08, 0.92))
        obj(True, _smooth_path(rng, (tn - rng.uniform(0, 0.2)) / rng.uniform(0.6, 0.8), u0, u1))
    elif scene_type == "two_opposite":
        obj(True, rng.uniform(0.08, 0.36))
        obj(True, rng.uniform(0.64, 0.92))
    elif scene_type == "centred":
        obj(True, 0.5 + rng.uniform(-0.03, 0.03))
    elif scene_type == "offscreen":
        u = rng.uniform(-0.9, -0.15) if rng.random() < 0.5 else rng.uniform(1.15, 1.9)
        obj(True, u, visible=False)
    n_distract = {"distractors": int(rng.integers(1, 4)), "offscreen": int(rng.integers(0, 3)),
                  "noise_only": int(rng.integers(0, 3)), "two_opposite": int(rng.integers(0, 2))}.get(scene_type, 0)
    for _ in range(n_distract):
        obj(False, rng.uniform(0.1, 0.9))
    return objs


def render_scene(seed: int, split: str = "train", *, duration_s: float = 2.0, sample_rate: int = 16000,
                 fps: float = 8.0, long_side: int = 128, scene_type: str | None = None,
                 mic_model: str | None = None, bank: Bank | str | None = None, frame_phase: float = 0.0,
                 scene_weights: dict[str, float] | None = None, mic_weights: dict[str, float] | None = None,
                 texture_share: float = 0.0) -> Scene:
    """Render the scene of `seed` from the material of `split`.

    Args:
        seed: any non-negative integer; (seed, split, arguments) fix the scene.
        split: "train", "val" or "test" (disjoint voices, instruments, images, HRTF directions).
        duration_s, sample_rate, fps, long_side: the scene's length (s), audio rate (Hz), frame
            rate and the picture's long side (px).
        scene_type: one of SCENE_TYPES, or None to draw one.
        mic_model: one of spatial.MIC_MODELS, or None to draw one (tests and per-model figures).
        bank: a Bank or its folder; default: the cached bank (built on first use).
        frame_phase: frame k is shown at (k + frame_phase) / fps. Videos use 0; training uses 0.5,
            the slot centres at which `check` samples a window's frames (windows.frame_times), so
            the picture meets the sound at the same instant in training as at run time.
        scene_weights: relative weights of the types drawn when scene_type is None (types left out
            keep their SCENE_WEIGHTS share); training uses it to see more of the hard types.
        mic_weights: relative weights of the microphone models drawn when mic_model is None (models
            left out weigh 1, as all do without it): more of the microphones where the sound is weak.
        texture_share: the share of the photographs (the background and each patch's source) replaced
            by a procedural picture (visuals.dead_leaves), drawn from a random stream of their own,
            so everything else in the scene, sound and truth included, is what it is without them.
            Training uses it for appearances the bank's few photographs do not have; 0 (the default,
            and every exported split) draws photographs only.

    Returns:
        A Scene. truth holds: seed, split, scene_type, mic (model and parameters), hfov_deg, aspect,
        frame_size [H, W], sample_rate, fps, duration_s, room (rt60_s, drr_db), noise_snr_db,
        level_dbfs, codec, jpeg_quality, camera, objects (kind, sound, sounding, size (the sprite's
        side over the frame's shorter side, before zoom), visible, u, v, azimuth_deg per frame, level_db), side (+1 sounding energy clearly left, -1 right, 0 none,
        centred, ambiguous, off-screen or dual-mono) and audio_side (the same from the audio alone,
        off-screen sources included; 0 for dual-mono).
    """
    check_split(split)
    bank = bank if isinstance(bank, Bank) else get_bank(bank)
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), SPLITS.index(split), 0x5CE4E]))
    if scene_type is None:
        scene_type = str(rng.choice(SCENE_TYPES, p=type_probabilities(scene_weights)))
    if scene_type not in SCENE_TYPES:
        raise ValueError(f"scene_type must be one of {SCENE_TYPES}")
    rate = int(sample_rate)
    n = int(round(duration_s * rate))
    n_frames = max(1, int(round(duration_s * fps)))
    frame_times = (np.arange(n_frames, dtype=np.float64) + float(frame_phase)) / fps
    tn = frame_times / max(duration_s, 1e-9)

    hfov = float(rng.uniform(*HFOV_RANGE_DEG))
    aspect = str(rng.choice(list(ASPECT_WEIGHTS), p=list(ASPECT_WEIGHTS.values())))
    h, w = visuals.frame_size(aspect, long_side)
    vfov = np.rad2deg(2 * np.arctan(np.tan(np.deg2rad(hfov) / 2) * h / w))
    mic = spatial.draw_mic(rng, round(hfov, 2), mic_model, mic_weights)
    objs = _layout(rng, scene_type, tn)

    # Camera: zoom and shake move the picture; the truth is measured in the picture.
    shake = float(rng.uniform(0, 0.02)) if rng.random() < 0.4 else 0.0
    zoom0, zoom1 = (1.0, 1.0) if rng.random() < 0.6 else tuple(rng.uniform(1.0, 1.15, 2))
    zoom = zoom0 + (zoom1 - zoom0) * tn
    # Hand-held wobble: a few tremor frequencies, fixed in seconds. (A random walk per frame grew with
    # the frame rate and the length, so 10 s exports at 25 fps swung a third of the picture, the crop
    # clamped at the canvas edge and the truth no longer matched the picture.)
    shake_xy = np.zeros((n_frames, 2))
    if shake:
        freq, phase = rng.uniform(0.5, 4.0, (3, 2)), rng.uniform(0, 2 * np.pi, (3, 2))
        shake_xy = shake * np.sin(2 * np.pi * freq[None] * frame_times[:, None, None] + phase[None]).sum(1) / np.sqrt(1.5)
    for o in objs:  # world u/v -> picture u/v under the camera
        o["u_img"] = 0.5 + (o["u"] - 0.5 - shake_xy[:, 0]) * zoom
        o["v_img"] = 0.5 + (o["v"] - 0.5 - shake_xy[:, 1]) * zoom
        o["az"] = azimuth_deg(o["u_img"], hfov)
        o["el"] = azimuth_deg(o["v_img"], vfov)

    # ---- audio
    hrtf = bank.hrtf(split, rate) if mic["model"] == "binaural_kemar" else None
    rt60 = 0.0 if rng.random() < 0.3 else float(rng.uniform(0.1, 1.0))
    drr = float(rng.uniform(-3.0, 15.0))
    room = spatial.room_response(rng, rt60, rate, drr)
    mix = np.zeros((2, n), np.float32)
    energies = []
    for o in objs:
        o["dry"] = None
        if not o["sounding"]:
            continue
        dry, o["sound"] = _source_signal(rng, bank, split, SOUND_FOR_OBJECT[o["kind"]], n, rate)
        o["level_db"] = float(rng.uniform(-6, 0))
        dry *= 10 ** (o["level_db"] / 20)
        moving = np.ptp(o["az"]) > 2.0
        k = 5 if moving else 1
        key_t = np.linspace(0, duration_s, k) if moving else np.array([duration_s / 2])
        key_az = np.interp(key_t, frame_times, o["az"]) if moving else np.array([np.mean(o["az"])])
        el = float(np.mean(o["el"]))
        y = spatial.render_source(dry, mic, key_az, key_t, rate, hrtf, room, el)
        mix += y
        o["dry"] = dry
        energies.append((float(np.mean(y ** 2)), float(np.mean(o["az"])), o["visible"]))

    src_rms = float(np.sqrt(np.mean(mix ** 2))) if energies else 0.0
    noise_snr = None
    if scene_type == "noise_only" or rng.random() < 0.7:
        noise = spatial.diffuse_noise(rng, n, rate, float(rng.uniform(0, 0.8)), float(rng.uniform(0, 2)))
        if src_rms > 0:
            noise_snr = float(rng.uniform(5, 40))
            mix += noise * src_rms * 10 ** (-noise_snr / 20)
        else:
            mix += noise
    if scene_type == "dual_mono":
        mix[:] = mix.mean(axis=0, keepdims=True)
    level = float(rng.uniform(*LEVEL_RANGE_DBFS))
    mix *= 10 ** (level / 20) / (np.abs(mix).max() + 1e-9)
    codec = None
    if rng.random() < CODEC_SHARE:
        codec = {"codec": "aac", "bit_rate": int(rng.choice([32000, 48000, 64000, 96000, 128000]))}
        mix = aac_round_trip(mix, rate, codec["bit_rate"])
        if scene_type == "dual_mono":
            mix[:] = mix.mean(axis=0, keepdims=True)
    mix = np.clip(mix, -1.0, 1.0).astype(np.float32)

    # ---- pictures
    photo_names = bank.image_names(split) or sorted(bank.images)
    textures = np.random.default_rng(np.random.SeedSequence([int(seed), SPLITS.index(split), 0x7E47])) if texture_share > 0 else None

    def picture(name: str) -> np.ndarray:
        if textures is not None and textures.random() < texture_share:
            return visuals.dead_leaves(textures)
        return bank.images[name]

    photo = picture(photo_names[int(rng.integers(len(photo_names)))])
    hc, wc = int(h * visuals.CANVAS_MARGIN), int(w * visuals.CANVAS_MARGIN)
    bg = visuals.background(rng, photo, hc, wc)
    faces = bank.face_indices(split)
    for o in objs:
        other = picture(photo_names[int(rng.integers(len(photo_names)))])
        face = bank.faces[faces[int(rng.integers(len(faces)))]] if faces else None
        o["sprite"] = visuals.Sprite(o["kind"], int(o["size"] * min(h, w)), rng, other, face)
        if o["dry"] is not None:
            env = _envelope(o["dry"], frame_times, rate, fps)
        elif rng.random() < 0.3:  # a distractor that moves, but not with anything heard
            env = np.abs(np.sin(2 * np.pi * rng.uniform(0.5, 3) * frame_times + rng.uniform(0, 6)))
        else:
            env = np.zeros(n_frames)
        o["env"] = env
    jpeg_q = int(rng.integers(15, 70)) if rng.random() < JPEG_SHARE else None
    frames = np.empty((n_frames, h, w, 3), np.uint8)
    order = sorted(range(len(objs)), key=lambda i: objs[i]["size"])
    for f in range(n_frames):
        canvas = bg.copy()
        for i in order:
            o = objs[i]
            if not o["visible"]:
                continue
            a = float(o["env"][f])
            level_i = int(round(np.sqrt(a) * (visuals.ANIM_LEVELS - 1)))
            bounce = 0.0 if o["kind"] in ("face", "photo_face") else -0.06 * a * o["size"] * h
            scale = 1.0 if o["kind"] in ("face", "photo_face") else 1.0 + 0.12 * a
            cx = wc / 2 + (o["u"][f] - 0.5) * w
            cy = hc / 2 + (o["v"][f] - 0.5) * h + bounce
            visuals.paste(canvas, o["sprite"].get(level_i), cx, cy, scale)
        cam_x = wc / 2 + shake_xy[f, 0] * w
        cam_y = hc / 2 + shake_xy[f, 1] * h
        frame = visuals.camera_crop(canvas, h, w, cam_x, cam_y, zoom[f])
        frames[f] = visuals.jpeg(frame, jpeg_q) if jpeg_q else frame

    # ---- truth
    def side_of(entries):
        if not entries:
            return 0
        e = np.array([x[0] for x in entries])
        az = np.array([x[1] for x in entries])
        if e.sum() <= 0:
            return 0
        mean_az = float(np.sum(e * az) / e.sum())
        return int(np.sign(mean_az)) if abs(mean_az) >= max(SIDE_MIN_DEG, 0.15 * hfov / 2) else 0

    audio_side = 0 if scene_type == "dual_mono" else side_of(energies)
    side = 0 if scene_type in ("dual_mono", "offscreen", "noise_only") else side_of([x for x in energies if x[2]])
    truth = {
        "seed": int(seed), "split": split, "scene_type": scene_type, "mic": mic,
        "hfov_deg": round(hfov, 3), "aspect": aspect, "frame_size": [h, w], "sample_rate": rate,
        "fps": float(fps), "duration_s": float(duration_s),
        "room": {"rt60_s": round(rt60, 3), "drr_db": round(drr, 2)},
        "noise_snr_db": None if noise_snr is None else round(noise_snr, 2),
        "level_dbfs": round(level, 2), "codec": codec, "jpeg_quality": jpeg_q,
        "camera": {"shake": round(shake, 4), "zoom": [round(float(zoom0), 3), round(float(zoom1), 3)]},
        "objects": [{
            "kind": o["kind"], "sound": o.get("sound"), "sounding": bool(o["sounding"]), "size": round(float(o["size"]), 4),
            "visible": bool(o["visible"]), "level_db": round(o.get("level_db", 0.0), 2) if o["sounding"] else None,
            "u": np.round(o["u_img"], 4).tolist(), "v": np.round(o["v_img"], 4).tolist(),
            "azimuth_deg": np.round(o["az"], 3).tolist(),
        } for o in objs],
        "side": side, "audio_side": audio_side,
    }
    return Scene(frames, frame_times, mix, rate, mix.mean(axis=0).astype(np.float32), truth)
