"""`stereofix train flip`: a few real steps on synthesized scenes, resume, and fine-tuning on videos."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from stereofix.cli import app
from stereofix.weights import load_flip_model
from tests.conftest import noise, stereo_clip

runner = CliRunner()


@pytest.fixture(scope="module")
def quick_bank(tmp_path_factory):
    from stereofix.synth import build_bank

    return build_bank(tmp_path_factory.mktemp("bank"), quick=True)


def _train(out, *extra):
    return runner.invoke(app, ["train", "flip", "--out", str(out), "--batch", "4", "--workers", "0",
                               "--val-scenes", "4", "--val-every", "2", "--warm-pool", "8", "--device", "cpu", *extra])


def test_train_resume_and_load(tmp_path, quick_bank, monkeypatch):
    monkeypatch.setenv("STEREOFIX_BANK", str(quick_bank))
    r = _train(tmp_path / "run", "--steps", "2", "--colour-jitter", "0.5")
    assert r.exit_code == 0, r.stderr
    assert json.loads((tmp_path / "run" / "config.json").read_text())["colour_jitter"] == 0.5
    final = tmp_path / "run" / "final.pt"
    model, cal, _ = load_flip_model(final)
    assert model.cfg.n_frames == 8
    records = [json.loads(x) for x in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert any("val_loss" in rec for rec in records)
    assert not any("where_gate" in rec for rec in records)  # the objective is off by default
    r = _train(tmp_path / "run", "--steps", "3")
    assert r.exit_code == 0
    assert "resumed from" in r.stderr and "at step 2" in r.stderr


@pytest.mark.parametrize("has, adds", [({"sync": 8}, "--sync-gate"), ({"sync": 8, "sync_gate": True}, "--stabilize"),
                                       ({"sync": 8, "sync_gate": True, "stabilize": True}, "--audio-gate"),
                                       ({"sync": 8, "sync_gate": True, "stabilize": True, "audio_gate": True}, "--attention-gate"),
                                       ({"sync": 8, "sync_gate": True, "stabilize": True, "audio_gate": True, "attention_gate": True}, "--range-gate")])
def test_resuming_a_fine_tune_keeps_the_init_weights_terms(tmp_path, quick_bank, monkeypatch, has, adds):
    """Terms the --init weights have need not be repeated (stages 8 and 9's commands name only the
    new term): a run resumed with the same command builds the same network, not one without them."""
    monkeypatch.setenv("STEREOFIX_BANK", str(quick_bank))
    from stereofix.models import FlipConfig, FlipNet
    from stereofix.weights import save_checkpoint

    init = save_checkpoint(tmp_path / "init.pt", FlipNet(FlipConfig(**has)))
    args = ("--init", str(init), adds)
    r = _train(tmp_path / "run", "--steps", "2", *args)
    assert r.exit_code == 0, r.stderr
    r = _train(tmp_path / "run", "--steps", "3", *args)
    assert r.exit_code == 0, r.stderr
    assert "resumed from" in r.stderr and "at step 2" in r.stderr
    cfg = load_flip_model(tmp_path / "run" / "final.pt")[0].cfg
    assert cfg.sync == 8 and cfg.sync_gate and cfg.stabilize == (adds != "--sync-gate")
    assert cfg.audio_gate == (adds in ("--audio-gate", "--attention-gate", "--range-gate"))
    assert cfg.attention_gate == (adds in ("--attention-gate", "--range-gate"))
    assert cfg.range_gate == (adds == "--range-gate")


def test_no_side_weight_scales_only_the_windows_that_must_abstain():
    from stereofix.train.flip import window_loss

    logits = torch.tensor([3.0, -2.0, 4.0])
    labels = torch.tensor([0.0, 1.0, 0.5])
    plain = torch.nn.functional.binary_cross_entropy_with_logits(logits, labels)
    assert torch.allclose(window_loss(logits, labels), plain)
    per = torch.nn.functional.binary_cross_entropy_with_logits(logits, labels, reduction="none")
    assert torch.allclose(window_loss(logits, labels, 3.0), (per[0] + per[1] + 3 * per[2]) / 5)
    grads = []
    for w in (1.0, 3.0):
        x = logits.clone().requires_grad_(True)
        window_loss(x, labels, w).backward()
        grads.append(x.grad.abs())
    share = [g[2] / g.sum() for g in grads]
    assert share[1] > share[0]  # the confident guess on the no-side window pulls harder


def test_fine_tune_on_own_videos(tmp_path, quick_bank):
    videos = tmp_path / "videos"
    videos.mkdir()
    src = noise(1, 3.0)
    right = 0.6 * np.concatenate([np.zeros(4, np.float32), src[:-4]])
    stereo_clip(videos / "mine.mp4", np.stack([src, right]), seconds=3.0)
    init = tmp_path / "run"
    from stereofix.models import FlipNet
    from stereofix.weights import save_checkpoint

    save_checkpoint(tmp_path / "init.pt", FlipNet())
    r = _train(init, "--steps", "2", "--videos", str(videos), "--init", str(tmp_path / "init.pt"), "--instant")
    assert r.exit_code == 0, r.stderr
    assert "initialised from" in r.stderr and "new terms from zero: film_instant" in r.stderr
    assert load_flip_model(init / "final.pt")[0].cfg.instant
    assert (init / "final.pt").exists()


def test_videos_folder_without_videos_is_an_error(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    r = _train(tmp_path / "run", "--steps", "1", "--videos", str(empty))
    assert r.exit_code == 2
    assert "no video files" in r.stderr


def test_focus_reweights_training_scenes_and_rejects_typos(tmp_path, quick_bank, monkeypatch):
    monkeypatch.setenv("STEREOFIX_BANK", str(quick_bank))
    r = _train(tmp_path / "run", "--steps", "1", "--focus", "distractors=0.5", "--focus", "noise_only=0",
               "--focus", "spaced_omni=3")
    assert r.exit_code == 0, r.stderr
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["focus"] == {"distractors": 0.5, "noise_only": 0.0}
    assert config["mic_focus"] == {"spaced_omni": 3.0}
    for bad in ("distractor=0.5", "distractors", "distractors=lots", "spaced_omni=-1"):
        r = _train(tmp_path / "bad", "--steps", "1", "--focus", bad)
        assert r.exit_code == 2 and "--focus" in r.stderr and "Traceback" not in r.output


def test_long_scenes_are_cut_into_windows_with_their_own_side(quick_bank):
    """--scene-seconds 10: five 2 s windows per scene, the audio in order, the side of each window's frames."""
    from stereofix.models import FlipConfig
    from stereofix.synth import render_scene
    from stereofix.train.data import scene_windows
    from stereofix.train.flip import _render_kwargs

    kw = _render_kwargs(FlipConfig(), 10.0) | {"bank": str(quick_bank)}
    sides = set()
    for seed in range(4):
        scene = render_scene(seed, "train", scene_type="moving", **kw)
        ws = scene_windows(scene, 2.0)
        assert len(ws) == 5 and all(w["frames"].shape[0] == 8 and w["audio"].shape[-1] == 32000 for w in ws)
        assert np.array_equal(np.concatenate([w["audio"].numpy() for w in ws], axis=1), scene.audio[:2, :160000])
        sides.add(tuple(w["side"] for w in ws))
        assert all(w["no_side"] == (w["side"] == 0) for w in ws)
    assert any(-1 in s and 1 in s for s in sides)  # a moving source changes side between windows
    scene = render_scene(0, "train", scene_type="offscreen", **kw)
    assert all(w["side"] == 0 and w["no_side"] for w in scene_windows(scene, 2.0))
    scene = render_scene(0, "train", scene_type="single", **kw)
    assert [w["side"] for w in scene_windows(scene, 2.0)] == [scene.truth["side"]] * 5


def test_scene_seconds_must_be_whole_windows(tmp_path):
    r = _train(tmp_path / "run", "--steps", "1", "--scene-seconds", "3")
    assert r.exit_code == 2 and "--scene-seconds 3" in r.stderr


def test_pool_labels_flips_and_keeps_no_side_at_half():
    import torch

    from stereofix.train.data import ReplayPool

    pool = ReplayPool(8, seed=0)
    frames = torch.zeros(8, 3, 72, 128, dtype=torch.uint8)
    frames[..., :10] = 255  # something on the left edge, so a mirror is visible
    left = torch.randn(32000)
    pool.add({"frames": frames, "audio": torch.stack([left, 0.5 * left]), "no_side": False})
    b = pool.batch(64)
    for fr, au, lb in zip(b["frames"], b["audio"], b["label"]):
        mirrored = bool(fr[..., -1].float().mean() > 100)
        louder_right = bool(au[1].abs().sum() > au[0].abs().sum())
        # label 1 exactly when the audio's side disagrees with the picture's side
        assert lb.item() == float(mirrored != louder_right)
    assert 0 < b["label"].mean() < 1
    quiet = ReplayPool(4, seed=1)
    quiet.add({"frames": frames, "audio": torch.stack([left, left]), "no_side": True})
    assert torch.all(quiet.batch(16)["label"] == 0.5)


def test_colour_jitter_changes_looks_not_what_moves_or_where():
    import random

    import torch

    from stereofix.train.data import ReplayPool, jitter_colours

    frames = torch.full((8, 3, 72, 128), 90, dtype=torch.uint8)
    frames[:, 0, 20:40, 10:30] = 200  # a red thing on the left ...
    frames[4:, :, 20:40, 10:30] = 250  # ... that flashes in the second half
    rng = random.Random(3)
    changed = 0
    for _ in range(40):
        out = jitter_colours(frames, rng)
        assert out.shape == frames.shape and out.dtype == torch.uint8
        changed += not torch.equal(out, frames)
        # One change for the whole window: frames that were equal stay equal, and the picture only
        # changes between frames where it changed before (in the flashing thing).
        assert torch.equal(out[0], out[3]) and torch.equal(out[4], out[7])
        moved = (out[4].int() - out[3].int()).abs().sum(0) > 0
        assert not moved[:, 30:].any() and not moved[:20].any()
    assert changed >= 35
    # Off by default: the pool hands the frames back as they were (up to the mirror).
    pool = ReplayPool(2, seed=0)
    pool.add({"frames": frames, "audio": torch.randn(2, 32000), "no_side": False})
    for fr in pool.batch(16)["frames"]:
        assert torch.equal(fr, frames) or torch.equal(fr, frames.flip(-1))
    jittered = ReplayPool(2, seed=0, colour_jitter=1.0)
    jittered.add({"frames": frames, "audio": torch.randn(2, 32000), "no_side": False})
    assert not any(torch.equal(fr, frames) or torch.equal(fr, frames.flip(-1)) for fr in jittered.batch(16)["frames"])


def test_fit_picks_thresholds_from_validation_scores():
    """Confident right answers on clear clips and near-zero logits elsewhere: decide, and abstain on the rest."""
    from stereofix.train.calibrate import ClipScore, fit

    rng = np.random.default_rng(0)
    scores = []
    for i in range(40):
        for flipped in (False, True):
            sign = 1 if flipped else -1
            times = {"starts": [float(k) for k in range(9)], "ends": [k + 2.0 for k in range(9)], "duration": 10.0}
            scores.append(ClipScore(f"c{i}", "single", 1, flipped, list(sign * rng.uniform(2, 6, 9)), **times))
            scores.append(ClipScore(f"o{i}", "offscreen", 0, flipped, list(rng.normal(0, 0.3, 9)), **times))
    cal, figures = fit(scores)
    assert figures["val_clear_decided_accuracy"] == 1.0 and figures["val_clear_abstention"] == 0.0
    assert figures["val_abstain_types_decided"] <= 0.05
    assert 0.5 < cal.decide < 1 and cal.window_temperature > 0
    assert figures["decide_found"] and figures["segment_decide_found"] and figures["val_clear_called_mixed"] == 0.0
    # Exchanging the channels from 5 s on: 4 windows before, 4 after (the one across 5 s left out),
    # each half as sure as the clip was, so every half-swapped copy is `mixed`.
    assert figures["val_half_swapped_clips"] == 40 and figures["val_half_swapped_mixed"] == 1.0
    # Every clear clip is right, so accuracy alone allows the lowest threshold; the off-screen
    # clips' budget is what sets it.
    assert figures["decide_for_accuracy"] == 0.55 and figures["decide_for_leak"] == cal.decide


def test_fit_says_when_no_threshold_meets_the_rule():
    """The most confident clear clips are wrong: only deciding nothing keeps decided clips 99% right."""
    from stereofix.train.calibrate import ClipScore, fit

    rng = np.random.default_rng(1)
    scores = []
    for i in range(40):
        for flipped in (False, True):
            sign = 1 if flipped else -1
            logits = list(sign * rng.uniform(2, 6, 9))
            if i % 5 == 0:  # a fifth of the scenes wrong, and the most confident of all
                logits = list(-sign * rng.uniform(10, 14, 9))
            scores.append(ClipScore(f"c{i}", "single", 1, flipped, logits))
    cal, figures = fit(scores)
    assert figures["val_clear_abstention"] == 1.0


def _clear_scenes(seed: int, spread: tuple[float, float], change, **times) -> list:
    """40 clear-sided scenes in both orientations, 10 windows each, all sure of the right side, but
    every fourth scene's windows altered by change(logits, sign, rng)."""
    from stereofix.train.calibrate import ClipScore

    rng = np.random.default_rng(seed)
    scores = []
    for i in range(40):
        for flipped in (False, True):
            sign = 1 if flipped else -1
            logits = sign * rng.uniform(*spread, 10)
            if i % 4 == 0:
                change(logits, sign, rng)
            scores.append(ClipScore(f"c{i}", "single", 1, flipped, list(logits), **times))
    return scores


def test_fit_says_when_no_stretch_threshold_keeps_clear_clips_whole():
    """A quarter of the clear clips change sides half-way, surely: any stretch threshold calls more
    than MIXED_BUDGET of them `mixed`, so fit says none was found and uses the grid's top."""
    from stereofix.train.calibrate import fit

    def change(logits, sign, rng):
        logits[:5], logits[5:] = sign * rng.uniform(8, 12, 5), -sign * rng.uniform(8, 12, 5)

    cal, figures = fit(_clear_scenes(2, (2, 6), change))
    assert not figures["segment_decide_found"] and cal.segment_decide == 0.995
    assert figures["val_clear_called_mixed"] > 0.2
    assert figures["val_half_swapped_clips"] == 0  # no window times: nothing to simulate


def test_fit_maps_how_sure_a_split_is_to_how_often_mixed_is_right():
    """A quarter of the clear scenes change sides surely half-way though nothing was exchanged (so
    `mixed` is wrong there); the half-swapped copies of the rest are `mixed` rightly. The probability
    given with `mixed` then says how often that was right, not how sure the split looked."""
    from stereofix.train.calibrate import fit, half_swapped, windows_of
    from stereofix.verdict import decide

    def change(logits, sign, rng):
        logits[5:] = -sign * rng.uniform(3, 6, 5)

    times = {"starts": [float(k) for k in range(10)], "ends": [k + 1.0 for k in range(10)], "duration": 10.0}
    scores = _clear_scenes(3, (3, 6), change, **times)
    cal, figures = fit(scores)
    assert figures["val_mixed_called"] == 20 + 30 and figures["val_mixed_right"] == pytest.approx(0.6)
    assert figures["mixed_scale"] is not None and cal.mixed_scale > 0
    given = [v.probability for v in (decide(windows_of(s), cal) for s in scores) if v.verdict == "mixed"]
    given += [v.probability for v in (decide(half_swapped(s), cal) for s in scores if not s.flipped) if v.verdict == "mixed"]
    assert np.mean(given) == pytest.approx(0.6, abs=0.1)  # the surest splits were right only 60% of the time


def test_mixed_probability_map_is_not_sure_of_few_cases():
    """Twenty wrong `mixed` verdicts at low sureness, thirty right ones above them: perfectly separable,
    so a plain log-loss fit runs to the grid's steepest slope (a = 3) and gives the thirty more than
    (right + 1) / (right + 2) = 31/32 on average. With Platt's smoothed targets the slope stays inside
    the grid and they get less (0.94), which is all thirty cases can support."""
    from stereofix.train.calibrate import _fit_platt

    x = np.concatenate([np.linspace(0.0, 1.0, 20), np.linspace(2.0, 6.0, 30)])
    y = np.concatenate([np.zeros(20), np.ones(30)])
    a, b = _fit_platt(x, y)
    given = 1 / (1 + np.exp(-(a * x + b)))
    assert a > 0 and given[20:].min() > 0.5 > given[:20].max()
    assert given[20:].mean() <= 31 / 32 and a < 3.0


def test_calibrate_reuses_saved_scores(tmp_path, quick_bank, monkeypatch):
    pytest.importorskip("av")
    from stereofix.models import FlipNet
    from stereofix.synth import export_scenes
    from stereofix.weights import save_checkpoint

    monkeypatch.setenv("STEREOFIX_BANK", str(quick_bank))
    export_scenes(tmp_path / "val", n=2, seed=7, split="val", duration_s=3.0, fps=10.0, long_side=128,
                  scene_types=("single", "centred"))
    save_checkpoint(tmp_path / "w.pt", FlipNet())
    args = ["train", "calibrate", str(tmp_path / "w.pt"), "--clips", str(tmp_path / "val"), "--out", str(tmp_path / "cal.pt"),
            "--scores", str(tmp_path / "scores.json"), "--device", "cpu", "--quiet"]
    r = runner.invoke(app, args)
    assert r.exit_code == 0, r.stderr
    saved = json.loads((tmp_path / "scores.json").read_text())["by_folder"][str(tmp_path / "val")]
    assert len(saved) == 4 and {c["flipped"] for c in saved} == {False, True}
    first = json.loads(r.stdout)

    import stereofix.train.calibrate as calibrate

    scored = []
    real_score = calibrate.score_clips
    monkeypatch.setattr(calibrate, "score_clips", lambda a, folder, progress=None, cache=None, attention_prior=0.0:
                        scored.append(folder) or real_score(a, folder, attention_prior=attention_prior))
    r = runner.invoke(app, args[:-1])  # not quiet: the log says the scores were reused
    assert r.exit_code == 0, r.stderr
    assert "reusing the window scores" in r.stderr and scored == []
    assert json.loads(r.stdout) == first
    _, cal, _ = load_flip_model(tmp_path / "cal.pt")
    assert cal.decide == first["decide"]

    # A folder added to the validation set is scored alone; the saved one is reused.
    shutil.copytree(tmp_path / "val", tmp_path / "val2")
    r = runner.invoke(app, args[:5] + ["--clips", str(tmp_path / "val2")] + args[5:])
    assert r.exit_code == 0, r.stderr
    assert scored == [tmp_path / "val2"]
    saved = json.loads((tmp_path / "scores.json").read_text())["by_folder"]
    assert saved[str(tmp_path / "val2")] == saved[str(tmp_path / "val")]


def test_cached_inputs_score_exactly_as_check_does(tmp_path, quick_bank, monkeypatch):
    """--cache: the clips are decoded once; a second model scored from the cache gets the logits a
    full check gives it, and a regenerated clip is decoded afresh."""
    pytest.importorskip("av")
    from stereofix.infer import Analyzer
    from stereofix.models import FlipConfig, FlipNet
    from stereofix.synth import export_scenes
    from stereofix.train.calibrate import score_clips

    monkeypatch.setenv("STEREOFIX_BANK", str(quick_bank))
    export_scenes(tmp_path / "val", n=3, seed=3, split="val", duration_s=5.0, fps=10.0, long_side=128,
                  scene_types=("single", "dual_mono", "distractors"))
    cache = tmp_path / "cache"
    for seed in (0, 1):
        torch.manual_seed(seed)
        analyzer = Analyzer(FlipNet(FlipConfig(sync=8, sync_gate=True)).eval())
        plain = score_clips(analyzer, tmp_path / "val")
        first = score_clips(analyzer, tmp_path / "val", cache=cache)
        again = score_clips(analyzer, tmp_path / "val", cache=cache)
        assert [c.logits for c in plain] == [c.logits for c in first] == [c.logits for c in again]
        assert sum(len(c.logits) for c in plain) >= 6
    assert len(list(cache.glob("*.npz"))) == 3
    clip = tmp_path / "val" / "scene_0000.mp4"
    shutil.copy(tmp_path / "val" / "scene_0002.mp4", clip)  # regenerated: other size and time
    assert [c.logits for c in score_clips(analyzer, tmp_path / "val", cache=cache)] == [c.logits for c in score_clips(analyzer, tmp_path / "val")]
    assert len(list(cache.glob("*.npz"))) == 4


def test_calibrate_refuses_a_folder_without_manifest(tmp_path):
    from stereofix.models import FlipNet
    from stereofix.weights import save_checkpoint

    save_checkpoint(tmp_path / "w.pt", FlipNet())
    (tmp_path / "empty").mkdir()
    r = runner.invoke(app, ["train", "calibrate", str(tmp_path / "w.pt"), "--clips", str(tmp_path / "empty"),
                            "--out", str(tmp_path / "cal.pt"), "--device", "cpu", "--quiet"])
    assert r.exit_code == 2
    assert "no readable manifest.json" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "cal.pt").exists()


def test_load_scores_reads_the_older_single_list_layout(tmp_path):
    from stereofix.train.calibrate import load_scores

    clips = []
    for name, n in (("a", 2), ("b", 1)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "manifest.json").write_text(json.dumps({"scenes": [{"file": f"s{i}.mp4"} for i in range(n)]}))
        for i in range(n):
            for flipped in (False, True):
                clips.append({"file": f"s{i}.mp4", "scene_type": "single", "side": 1, "flipped": flipped, "logits": [float(len(clips))]})
    old = tmp_path / "old.json"
    old.write_text(json.dumps({"weights_sha256": "x", "folders": [str(tmp_path / "a"), str(tmp_path / "b")], "clips": clips}))
    by_folder = load_scores(old, "x", attention_prior=0.0)  # saved before session 33: unsteered
    assert [len(v) for v in by_folder.values()] == [4, 2]
    assert load_scores(old, "x", attention_prior=10.0) == {}
    assert by_folder[str(tmp_path / "b")][0].logits == [4.0]
    assert load_scores(old, "other weights", attention_prior=0.0) == {} and load_scores(tmp_path / "missing.json", "x") == {}


def test_average_interpolates_two_checkpoints_and_refuses_other_networks(tmp_path):
    import torch

    from stereofix.models import FlipConfig, FlipNet
    from stereofix.weights import save_checkpoint

    torch.manual_seed(0)
    a, b = FlipNet(), FlipNet()
    save_checkpoint(tmp_path / "a.pt", a)
    save_checkpoint(tmp_path / "b.pt", b)
    r = runner.invoke(app, ["train", "average", str(tmp_path / "a.pt"), str(tmp_path / "b.pt"), "--weight", "0.25",
                            "--out", str(tmp_path / "avg.pt"), "--quiet"])
    assert r.exit_code == 0, r.stderr
    avg = load_flip_model(tmp_path / "avg.pt")[0].state_dict()
    for k, v in a.state_dict().items():
        if v.is_floating_point():
            assert torch.allclose(avg[k], 0.75 * v + 0.25 * b.state_dict()[k], atol=1e-6), k
    # The average of a model with itself is the model: the logit is unchanged.
    r = runner.invoke(app, ["train", "average", str(tmp_path / "a.pt"), str(tmp_path / "a.pt"), "--out", str(tmp_path / "same.pt")])
    same = load_flip_model(tmp_path / "same.pt")[0]
    fr, au = torch.rand(2, 8, 3, 72, 128), torch.randn(2, 2, 32000)
    assert torch.allclose(same(fr, au), a.eval()(fr, au), atol=1e-5)
    save_checkpoint(tmp_path / "wide.pt", FlipNet(FlipConfig(dim=8)))
    r = runner.invoke(app, ["train", "average", str(tmp_path / "a.pt"), str(tmp_path / "wide.pt"), "--out", str(tmp_path / "x.pt")])
    assert r.exit_code == 2 and "not the same network" in r.stderr and not (tmp_path / "x.pt").exists()
    r = runner.invoke(app, ["train", "average", str(tmp_path / "a.pt"), str(tmp_path / "b.pt"), "--weight", "1.5", "--out", str(tmp_path / "x.pt")])
    assert r.exit_code == 2 and "--weight 1.5" in r.stderr


def test_average_with_a_fine_tune_that_added_a_term(tmp_path):
    """The base lacks the term the fine-tune added (it started from zero there): averaging with
    weight 0 gives the base's own function; a base with a term its 'descendant' lacks is refused."""
    import torch

    from stereofix.models import FlipConfig, FlipNet
    from stereofix.weights import save_checkpoint

    torch.manual_seed(5)
    base, tuned = FlipNet(FlipConfig(sync=8)).eval(), FlipNet(FlipConfig(sync=8, onset=True))
    torch.nn.init.normal_(tuned.audio_side.onset_in.weight, std=0.1)
    save_checkpoint(tmp_path / "base.pt", base)
    save_checkpoint(tmp_path / "tuned.pt", tuned)
    r = runner.invoke(app, ["train", "average", str(tmp_path / "base.pt"), str(tmp_path / "tuned.pt"), "--weight", "0",
                            "--out", str(tmp_path / "avg.pt"), "--quiet"])
    assert r.exit_code == 0, r.stderr
    avg = load_flip_model(tmp_path / "avg.pt")[0]
    assert avg.cfg.onset and avg.audio_side.onset_in.weight.abs().max() == 0
    fr, au = torch.rand(2, 8, 3, 72, 128), torch.randn(2, 2, 32000)
    with torch.no_grad():
        assert torch.allclose(avg(fr, au), base(fr, au), atol=1e-5)
    r = runner.invoke(app, ["train", "average", str(tmp_path / "tuned.pt"), str(tmp_path / "base.pt"), "--out", str(tmp_path / "x.pt")])
    assert r.exit_code == 2 and "not the same network" in r.stderr and not (tmp_path / "x.pt").exists()


def test_train_only_moves_the_named_parameters_and_nothing_else(tmp_path, quick_bank, monkeypatch):
    """--train-only PREFIX: the other weights, batch-norm statistics included, stay as --init left them."""
    monkeypatch.setenv("STEREOFIX_BANK", str(quick_bank))
    from stereofix.models import FlipConfig, FlipNet
    from stereofix.weights import save_checkpoint

    init = save_checkpoint(tmp_path / "init.pt", FlipNet(FlipConfig(sync=8, sync_gate=True)))
    r = _train(tmp_path / "run", "--steps", "2", "--init", str(init), "--range-gate", "--train-only", "gate.", "--train-only", "range_gate.")
    assert r.exit_code == 0, r.stderr
    before = torch.load(init, weights_only=True)["state_dict"]
    after = load_flip_model(tmp_path / "run" / "final.pt")[0].state_dict()
    moved = {k for k, v in after.items() if k not in before or not torch.equal(v, before[k])}
    assert moved and all(k.startswith(("gate.", "range_gate.")) for k in moved), moved
    assert "gate.weight" in moved
    r = _train(tmp_path / "bad", "--steps", "1", "--train-only", "no_such_layer.")
    assert r.exit_code == 2 and "--train-only no_such_layer." in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "bad").exists()
