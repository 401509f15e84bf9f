"""Tests of the scene synthesizer (stereofix.synth) on a quick bank built into a temporary folder."""

from __future__ import annotations

import json

import numpy as np
import pytest

from stereofix.synth import MIC_MODELS, SCENE_TYPES, SPLITS, SceneStream, build_bank, export_scenes, render_scene
from stereofix.synth import spatial
from stereofix.synth.material import Bank
from stereofix.synth.scene import azimuth_deg
from stereofix.synth.splits import assign_splits

RATE = 16000


@pytest.fixture(scope="module")
def bank(tmp_path_factory) -> Bank:
    path = build_bank(tmp_path_factory.mktemp("bank"), quick=True)
    return Bank(path)


def ild_db(audio: np.ndarray) -> float:
    """Channel 0 energy over channel 1 energy, dB (> 0: louder on the left)."""
    return float(10 * np.log10((np.sum(audio[0].astype(np.float64) ** 2) + 1e-20) / (np.sum(audio[1].astype(np.float64) ** 2) + 1e-20)))


def gcc_phat_lag(audio: np.ndarray, max_lag: int = 40) -> int:
    """GCC-PHAT lag in samples of channel 1 behind channel 0 (> 0: channel 0 earlier)."""
    n = 2 * audio.shape[1]
    x0, x1 = np.fft.rfft(audio[0], n), np.fft.rfft(audio[1], n)
    cross = x1 * np.conj(x0)
    r = np.fft.irfft(cross / (np.abs(cross) + 1e-12), n)
    r = np.concatenate([r[-max_lag:], r[: max_lag + 1]])
    return int(np.argmax(r)) - max_lag


def cues_point_to(audio: np.ndarray, side: int) -> bool:
    """Level and/or time cues agree with `side` and neither contradicts it."""
    ild, lag = ild_db(audio), gcc_phat_lag(audio)
    level_ok, time_ok = side * ild > 0.5, side * lag >= 1
    # With one channel (nearly) silent, as for a hard pan, the time difference is undefined.
    contradicts = side * ild < -0.5 or (side * lag <= -1 and abs(ild) < 20)
    return (level_ok or time_ok) and not contradicts


# ---------------------------------------------------------------- conventions


def test_azimuth_formula():
    assert azimuth_deg(0.0, 90.0) == pytest.approx(45.0)
    assert azimuth_deg(1.0, 90.0) == pytest.approx(-45.0)
    assert azimuth_deg(0.5, 70.0) == pytest.approx(0.0)


@pytest.mark.parametrize("model", MIC_MODELS)
@pytest.mark.parametrize("split", SPLITS)
def test_mic_convention_direct(bank, model, split):
    """A dry source on the left (azimuth +30) is louder and/or earlier in channel 0; on the right, in channel 1."""
    rng = np.random.default_rng(0)
    dry = rng.standard_normal(RATE).astype(np.float32)
    mic = spatial.draw_mic(rng, 80.0, model)
    hrtf = bank.hrtf(split, RATE)
    for az, side in ((30.0, 1), (-30.0, -1), (60.0, 1), (-60.0, -1)):
        y = spatial.render_source(dry, mic, np.array([az]), np.array([0.5]), RATE, hrtf, None)
        assert cues_point_to(y, side), (model, az, ild_db(y), gcc_phat_lag(y))
    centre = spatial.render_source(dry, mic, np.array([0.0]), np.array([0.5]), RATE, hrtf, None)
    # (the val/test HRTF grids are 10 degrees apart, so "centre" may be rendered 5 degrees off)
    assert abs(ild_db(centre)) < 2.5 and abs(gcc_phat_lag(centre)) <= 1


@pytest.mark.parametrize("model", MIC_MODELS)
def test_mic_convention_in_scenes(bank, model):
    """Whole single-source scenes (rooms, noise, codec included): measured cues follow the truth's side."""
    checked = 0
    for seed in range(6):
        s = render_scene(seed, "train", scene_type="single", mic_model=model, bank=bank)
        assert s.truth["mic"]["model"] == model
        side = s.truth["side"]
        if side == 0:
            continue
        obj = s.truth["objects"][0]
        assert np.sign(np.mean(obj["azimuth_deg"])) == side
        assert side == (1 if np.mean(obj["u"]) < 0.5 else -1)  # left of picture <=> side +1
        assert cues_point_to(s.audio, side), (seed, ild_db(s.audio), gcc_phat_lag(s.audio), s.truth["room"])
        checked += 1
    assert checked >= 3


def test_moving_source_is_smooth(bank):
    rng = np.random.default_rng(1)
    dry = rng.standard_normal(2 * RATE).astype(np.float32)
    mic = spatial.draw_mic(rng, 80.0, "panpot")
    y = spatial.render_source(dry, mic, np.array([35.0, 0.0, -35.0]), np.array([0.0, 1.0, 2.0]), RATE, None, None)
    first, last = y[:, : RATE // 2], y[:, -RATE // 2:]
    assert ild_db(first) > 3 and ild_db(last) < -3
    w = spatial.crossfade_weights(2 * RATE, np.array([0.0, 1.0, 2.0]), RATE)
    assert np.allclose(w.sum(0), 1) and np.max(np.abs(np.diff(w, axis=1))) < 1e-3


# ---------------------------------------------------------------- scenes


def test_determinism(bank):
    a = render_scene(123, "train", bank=bank)
    b = render_scene(123, "train", bank=bank)
    assert np.array_equal(a.frames, b.frames) and np.array_equal(a.audio, b.audio)
    assert a.truth == b.truth
    c = render_scene(124, "train", bank=bank)
    assert not np.array_equal(a.audio, c.audio)


def test_texture_share_changes_the_pictures_only(bank):
    """Training's --texture-share: procedural pictures replace photographs; the sound, the truth and
    every other draw are the scene's own, and without it the scene is the same as before."""
    a = render_scene(7, "train", bank=bank, long_side=64)
    assert np.array_equal(a.frames, render_scene(7, "train", bank=bank, long_side=64, texture_share=0.0).frames)
    b = render_scene(7, "train", bank=bank, long_side=64, texture_share=1.0)
    assert np.array_equal(a.audio, b.audio) and a.truth == b.truth
    assert np.abs(a.frames.astype(int) - b.frames).mean() > 10  # another background
    again = render_scene(7, "train", bank=bank, long_side=64, texture_share=1.0)
    assert np.array_equal(b.frames, again.frames)


def test_camera_shake_is_bounded_whatever_the_frame_rate(bank):
    """Shake is a wobble in seconds: a long 25 fps scene swings no more than a short 4 fps one."""
    swings = {}
    for fps, dur in ((4.0, 2.0), (25.0, 10.0)):
        for seed in range(40):
            t = render_scene(seed, "train", scene_type="single", bank=bank, fps=fps, duration_s=dur, long_side=32).truth
            if t["camera"]["shake"] > 0 and t["camera"]["zoom"] == [1.0, 1.0]:
                u = np.array(t["objects"][0]["u"])
                swings.setdefault(fps, []).append(np.ptp(u))
    assert swings[4.0] and swings[25.0]
    assert max(swings[25.0]) < 0.2 and max(swings[4.0]) < 0.2  # was up to 0.7 of the picture at 25 fps


def test_frame_phase_shows_frames_at_slot_centres(bank):
    """Training renders frames where check samples them: half a frame into each slot."""
    a = render_scene(5, "train", bank=bank, fps=4.0, long_side=64)
    b = render_scene(5, "train", bank=bank, fps=4.0, long_side=64, frame_phase=0.5)
    assert np.allclose(b.frame_times - a.frame_times, 0.125)
    # The same scene (its drift is sampled at the new instants, so the sound moves a hair).
    assert [o["kind"] for o in a.truth["objects"]] == [o["kind"] for o in b.truth["objects"]]
    assert np.corrcoef(a.audio.ravel(), b.audio.ravel())[0, 1] > 0.99
    assert not np.array_equal(a.frames, b.frames) or not any(o["sounding"] for o in a.truth["objects"])


def test_scene_weights_change_the_mixture_only():
    """Training's --focus: more of one type, the rest in their default proportions; typos are errors."""
    from stereofix.synth.scene import SCENE_WEIGHTS, type_probabilities

    assert np.allclose(type_probabilities(), SCENE_WEIGHTS)
    p = type_probabilities({"distractors": 1.0})
    i = SCENE_TYPES.index("distractors")
    assert p[i] > 0.5 and np.isclose(sum(p), 1)
    rest = [x for j, x in enumerate(p) if j != i]
    assert np.allclose(np.array(rest) / sum(rest), np.delete(SCENE_WEIGHTS, i) / np.delete(SCENE_WEIGHTS, i).sum())
    assert type_probabilities({"single": 0, "moving": 0})[0] == 0
    with pytest.raises(ValueError, match="unknown scene types"):
        type_probabilities({"distractor": 1})
    with pytest.raises(ValueError):
        type_probabilities({t: 0 for t in SCENE_TYPES})


def test_scene_weights_pick_the_drawn_type(bank):
    only = {t: 0.0 for t in SCENE_TYPES} | {"offscreen": 1.0}
    for seed in range(3):
        assert render_scene(seed, "train", bank=bank, long_side=32, scene_weights=only).truth["scene_type"] == "offscreen"


def test_mic_weights_pick_the_microphone(bank):
    from stereofix.synth.spatial import MIC_MODELS, mic_probabilities

    assert np.allclose(mic_probabilities({}), 1 / len(MIC_MODELS))
    assert mic_probabilities({"spaced_omni": 3})[MIC_MODELS.index("spaced_omni")] == pytest.approx(3 / 8)
    with pytest.raises(ValueError, match="unknown microphone"):
        mic_probabilities({"spaced": 1})
    only = {m: 0.0 for m in MIC_MODELS} | {"spaced_omni": 1.0}
    for seed in range(3):
        assert render_scene(seed, "val", bank=bank, long_side=32, mic_weights=only).truth["mic"]["model"] == "spaced_omni"


@pytest.mark.parametrize("scene_type", SCENE_TYPES)
def test_scene_types(bank, scene_type):
    s = render_scene(7, "train", scene_type=scene_type, bank=bank, duration_s=2.0, fps=8.0, long_side=128)
    t = s.truth
    json.dumps(t)
    assert t["scene_type"] == scene_type and t["split"] == "train"
    # Shapes and alignment.
    assert s.frames.dtype == np.uint8 and s.frames.shape[0] == 16 and s.frames.shape[3] == 3
    assert max(s.frames.shape[1:3]) == 128 and s.frames.shape[1] % 2 == 0 and s.frames.shape[2] % 2 == 0
    assert list(s.frames.shape[1:3]) == t["frame_size"]
    assert np.allclose(s.frame_times, np.arange(16) / 8.0)
    assert s.audio.shape == (2, 32000) and s.audio.dtype == np.float32 and s.sample_rate == RATE
    assert np.abs(s.audio).max() <= 1.0 and np.abs(s.audio).max() > 0
    assert np.allclose(s.mono, s.audio.mean(0))
    for o in t["objects"]:
        assert len(o["u"]) == len(o["v"]) == len(o["azimuth_deg"]) == 16
        assert np.allclose(o["azimuth_deg"], azimuth_deg(np.array(o["u"]), t["hfov_deg"]), atol=1e-2)
    sounding = [o for o in t["objects"] if o["sounding"]]
    silent = [o for o in t["objects"] if not o["sounding"]]
    if scene_type in ("single", "dual_mono"):
        assert len(sounding) == 1 and not silent and sounding[0]["visible"]
    if scene_type == "moving":
        assert np.ptp(sounding[0]["azimuth_deg"]) > 10
    if scene_type == "distractors":
        assert len(sounding) == 1 and silent and all(o["visible"] for o in silent)
    if scene_type == "two_opposite":
        assert len(sounding) == 2
        assert np.sign(np.mean(sounding[0]["azimuth_deg"])) == -np.sign(np.mean(sounding[1]["azimuth_deg"]))
    if scene_type == "centred":
        assert abs(np.mean(sounding[0]["azimuth_deg"])) < 5 and t["side"] == 0
    if scene_type == "offscreen":
        assert not sounding[0]["visible"] and t["side"] == 0
        assert all(u < 0 or u > 1 for u in sounding[0]["u"])
    if scene_type == "dual_mono":
        assert np.array_equal(s.audio[0], s.audio[1]) and t["side"] == 0
    if scene_type == "noise_only":
        assert not sounding and t["side"] == 0


def test_other_sizes(bank):
    s = render_scene(3, "val", duration_s=1.0, sample_rate=48000, fps=25.0, long_side=320, bank=bank)
    assert s.audio.shape == (2, 48000) and s.frames.shape[0] == 25 and max(s.frames.shape[1:3]) == 320


def test_level_range(bank):
    levels = [render_scene(i, "train", bank=bank, long_side=32).truth["level_dbfs"] for i in range(20)]
    assert max(levels) - min(levels) > 20


# ---------------------------------------------------------------- material split


def test_split_rule():
    m = assign_splits([f"k{i:02d}" for i in range(12)])
    assert [m[f"k{i:02d}"] for i in range(6)] == ["train"] * 4 + ["val", "test"]


def test_material_disjoint(bank):
    for kind in ("speech", "instrument", "percussion", "asmr"):
        groups = {sp: set(bank.groups.get(sp, {}).get(kind, {})) for sp in SPLITS}
        assert not groups["train"] & groups["val"] and not groups["train"] & groups["test"] and not groups["val"] & groups["test"]
    assert {sp: len(bank.groups[sp]["speech"]) > 0 for sp in SPLITS} == {sp: True for sp in SPLITS}
    images = {sp: set(bank.image_names(sp)) for sp in SPLITS}
    assert all(images[sp] for sp in SPLITS)
    assert not images["train"] & images["test"] and not images["train"] & images["val"] and not images["val"] & images["test"]
    faces = {sp: set(bank.face_indices(sp)) for sp in SPLITS}
    assert not faces["train"] & faces["test"] and not faces["val"] & faces["test"]
    dirs = {sp: {(a, e) for a, e in zip(bank.hrtf(sp, RATE).az, bank.hrtf(sp, RATE).el)} for sp in SPLITS}
    assert all(dirs.values())
    assert not dirs["train"] & dirs["val"] and not dirs["train"] & dirs["test"] and not dirs["val"] & dirs["test"]
    # A test scene only uses test material.
    for seed in range(4):
        t = render_scene(seed, "test", scene_type="two_opposite", bank=bank, long_side=32).truth
        for o in t["objects"]:
            if o["sounding"]:
                assert o["sound"]["group"] in bank.groups["test"][o["sound"]["kind"]]


# ---------------------------------------------------------------- stream and export


def test_stream_workers(bank):
    import torch

    ds = SceneStream("train", base_seed=100, bank=bank.path, long_side=32, duration_s=0.5,
                     transform=lambda s: (s.truth["seed"], torch.from_numpy(s.audio)))
    loader = torch.utils.data.DataLoader(ds, batch_size=None, num_workers=2)
    seeds = []
    for seed, audio in loader:
        seeds.append(seed)
        assert audio.shape == (2, 8000)
        if len(seeds) == 6:
            break
    assert len(set(seeds)) == 6 and set(seeds) <= set(range(100, 112))


def test_export_scenes(bank, tmp_path):
    av = pytest.importorskip("av")
    manifest = export_scenes(tmp_path / "out", n=2, seed=5, split="test", duration_s=1.0, fps=10.0,
                             long_side=160, scene_types=("single", "offscreen"), bank=bank)
    m = json.loads(manifest.read_text())
    assert [e["scene_type"] for e in m["scenes"]] == ["single", "offscreen"]
    for e in m["scenes"]:
        with av.open(str(tmp_path / "out" / e["file"])) as f:
            v, a = f.streams.video[0], f.streams.audio[0]
            assert v.codec_context.name == "h264" and a.codec_context.name == "aac"
            assert a.channels == 2 and a.sample_rate == 48000
            assert max(v.width, v.height) == 160
            assert sum(1 for _ in f.decode(video=0)) == 10
