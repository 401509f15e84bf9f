"""The picture-sound synchrony (stereofix.sync) and the verdict's gate on it."""

from __future__ import annotations

import numpy as np
import pytest

from stereofix import windows
from stereofix.sync import null_shifts, picture_sync
from stereofix.errors import InputError
from stereofix.train.calibrate import ClipScore, fit
from stereofix.verdict import Calibration, WindowScore, decide

L, T, H, W, N = 16, 8, 72, 128, 32000  # 16 windows, as check reads most files
OFFSETS = np.tile((np.arange(T) + 0.5) / 4.0, (L, 1))  # the model's frame instants in a 2 s window


def _scene(level_at_frames: np.ndarray, patch_level: np.ndarray, seed: int = 0):
    """Windows of a grey picture with a bright patch on the left whose brightness is `patch_level`
    [L, T], and a sound whose level around each frame's instant is `level_at_frames` [L, T]."""
    rng = np.random.default_rng(seed)
    frames = np.full((L, T, H, W, 3), 90, np.uint8)
    frames[:, :, 20:44, 16:40] = (60 + 180 * patch_level)[..., None, None, None].astype(np.uint8)
    frames = np.clip(frames + rng.integers(-2, 3, frames.shape), 0, 255).astype(np.uint8)  # sensor noise
    t = np.arange(N) / 16000
    audio = np.zeros((L, 2, N), np.float32)
    for i in range(L):
        envelope = np.interp(t, OFFSETS[i], level_at_frames[i])
        tone = np.sin(2 * np.pi * 440 * t) * envelope
        audio[i] = np.stack([tone, 0.5 * tone])
    return frames, audio


def test_a_thing_that_changes_with_the_sound_is_in_sync_and_an_unrelated_one_is_not():
    rng = np.random.default_rng(1)
    level = rng.uniform(0.05, 1.0, (L, T))
    frames, audio = _scene(level, level)
    assert picture_sync(frames, audio, OFFSETS) > 0.5  # well above what chance gives
    # The same picture changing on its own schedule, and the same sound: nothing follows it.
    other = rng.uniform(0.05, 1.0, (L, T))
    frames, audio = _scene(level, other)
    assert abs(picture_sync(frames, audio, OFFSETS)) < 0.15


def test_a_busy_picture_is_not_in_sync_by_chance():
    """Many cells changing at random (a test pattern, a crowd) and a sound in sparse bursts: some
    cell follows the bursts by chance, as well when the sound is shifted as when it is not."""
    rng = np.random.default_rng(4)
    level = np.where(rng.random((L, T)) < 0.15, 1.0, 0.05)
    frames = rng.integers(0, 256, (L, T, 9, 16), dtype=np.uint8).repeat(8, axis=2).repeat(8, axis=3)
    frames = np.repeat(frames[..., None], 3, axis=-1)
    _, audio = _scene(level, level)
    from stereofix.sync import _best_cell, _cells_and_step

    # Each reading is noise about 0 (about 0.1 at these 112 frame pairs), the larger of two a little above.
    assert picture_sync(frames, audio, OFFSETS) < 0.2
    # The best cell alone, uncorrected, looks like a sounding thing; less what chance gives, it is nothing.
    m, step, pairs, _ = _cells_and_step(frames, audio, OFFSETS)
    chance = np.mean([_best_cell(np.roll(step, k * pairs), m) for k in null_shifts(L)])
    assert _best_cell(step, m) > 0.2 and abs(_best_cell(step, m) - chance) < 0.05


def test_a_thing_moving_across_the_picture_with_the_sound_is_in_sync_in_grey_frames_at_the_file_rate():
    """A bright patch that slides across the picture and swells with the sound's level: no one cell
    follows it for long, the most changing cell does (the second reading). Grey frames at 25 fps,
    as `inputs` gathers them over each window's first second."""
    rng = np.random.default_rng(5)
    t_frames = 25
    offsets = np.tile(np.arange(t_frames) / 25.0, (L, 1))
    level = rng.uniform(0.05, 1.0, (L, t_frames))
    t = np.arange(N) / 16000
    audio = np.zeros((L, 2, N), np.float32)
    frames = np.full((L, t_frames, H, W), 90, np.uint8)
    for i in range(L):
        audio[i] = np.sin(2 * np.pi * 440 * t) * np.interp(t, offsets[i], level[i])
        for k in range(t_frames):
            x = int(4 + (W - 24) * (i * t_frames + k) / (L * t_frames))  # left to right over the file
            frames[i, k, 24:48, x:x + 16] = int(100 + 150 * level[i, k])
    frames = np.clip(frames + rng.integers(-2, 3, frames.shape), 0, 255).astype(np.uint8)
    assert picture_sync(frames, audio, offsets) > 0.5
    shuffled = rng.permutation(level.reshape(-1)).reshape(level.shape)  # the sound of another moment
    for i in range(L):
        audio[i] = np.sin(2 * np.pi * 440 * t) * np.interp(t, offsets[i], shuffled[i])
    assert abs(picture_sync(frames, audio, offsets)) < 0.15


def test_file_sync_reads_the_whole_frames_where_they_were_decoded():
    from stereofix.inputs import WindowInputs
    from stereofix.sync import file_sync

    rng = np.random.default_rng(6)
    level = rng.uniform(0.05, 1.0, (L, T))
    frames, audio = _scene(level, level)
    unrelated, _ = _scene(level, rng.uniform(0.05, 1.0, (L, T)))
    inputs = WindowInputs([], list(range(L)), unrelated, audio, OFFSETS)
    assert file_sync(inputs) == picture_sync(unrelated, audio, OFFSETS)  # none gathered: the model's frames
    inputs.sync_frames, inputs.sync_offsets = frames.mean(-1).astype(np.uint8), OFFSETS
    assert file_sync(inputs) == picture_sync(inputs.sync_frames, audio, OFFSETS) > 0.5
    # A file calibrated before session 32 reads the model's frames and the best cell alone, as then.
    assert Calibration().sync_reading == "model"
    assert file_sync(inputs, "model") == picture_sync(unrelated, audio, OFFSETS, peak=False)
    with pytest.raises(ValueError):
        file_sync(inputs, "other")


def test_a_new_calibration_says_which_synchrony_it_read_and_old_scores_are_not_reused(tmp_path):
    from stereofix.train.calibrate import SYNC_READING, load_scores, save_scores

    clips = [_clip("single", f, 2.0, 0.5, i) for i in range(40) for f in (False, True)]
    cal, _ = fit(clips)
    assert cal.sync_reading == SYNC_READING == "whole"
    save_scores(tmp_path / "s.json", {"val": clips}, "abc")
    assert len(load_scores(tmp_path / "s.json", "abc")["val"]) == 80
    import json

    body = json.loads((tmp_path / "s.json").read_text())
    del body["sync_reading"]  # saved before session 32: its synchrony was read the old way
    (tmp_path / "s.json").write_text(json.dumps(body))
    assert load_scores(tmp_path / "s.json", "abc") == {}


def test_synchrony_is_not_measured_without_change_or_enough_frames():
    level = np.random.default_rng(2).uniform(0.05, 1.0, (L, T))
    frames, audio = _scene(level, np.full((L, T), 0.5))
    still = np.repeat(frames[:, :1], T, axis=1)  # a still image: no cell changes at all
    assert picture_sync(still, audio, OFFSETS) is None
    assert picture_sync(frames[:, :1], audio, OFFSETS[:, :1]) is None  # one frame a window: no pairs
    assert picture_sync(frames[:1], audio[:1], OFFSETS[:1]) is None  # one window: nothing to shift against
    assert picture_sync(np.zeros((0,), np.uint8), audio[:0], OFFSETS[:0]) is None


def _windows(logits):
    return [WindowScore(float(i), float(i) + 2.0, x, None) for i, x in enumerate(logits)]


def test_the_gate_withholds_a_confident_verdict_only_below_its_synchrony():
    cal = Calibration(window_temperature=1.0, clip_scale=1.0, decide=0.9, segment_decide=0.99, min_sync=0.3)
    sure = [4.0] * 6
    assert decide(_windows(sure), cal, sync=0.6).verdict == "swapped"
    for low in (0.1, None):
        v = decide(_windows(sure), cal, sync=low)
        assert v.verdict == "uncertain" and "nothing in view" in v.reason
        assert v.p_swapped == pytest.approx(decide(_windows(sure), cal, sync=0.6).p_swapped)
    ungated = Calibration(window_temperature=1.0, clip_scale=1.0, decide=0.9, segment_decide=0.99)
    assert decide(_windows(sure), ungated, sync=None).verdict == "swapped"  # files calibrated before the gate


def test_between_the_two_tiers_only_a_sure_verdict_is_given_and_never_mixed():
    cal = Calibration(window_temperature=1.0, clip_scale=1.0, decide=0.6, segment_decide=0.6, min_sync=0.05,
                      sure_sync=0.2, decide_weak_sync=0.95)
    fair, sure = [1.0] * 6, [4.0] * 6
    halves = [-4.0] * 3 + [4.0] * 3
    assert decide(_windows(fair), cal, sync=0.5).verdict == "swapped"  # p 0.73, above the sure tier
    assert decide(_windows(halves), cal, sync=0.5).verdict == "mixed"
    weak = decide(_windows(fair), cal, sync=0.1)
    assert weak.verdict == "uncertain" and "barely" in weak.reason
    assert decide(_windows(sure), cal, sync=0.1).verdict == "swapped"  # p 0.98
    assert decide(_windows([-x for x in sure]), cal, sync=0.1).verdict == "ok"
    assert decide(_windows(halves), cal, sync=0.1).verdict == "uncertain"
    assert decide(_windows(sure), cal, sync=0.01).verdict == "uncertain"  # below the gate: as before
    one_tier = Calibration(window_temperature=1.0, clip_scale=1.0, decide=0.6, segment_decide=0.6, min_sync=0.05)
    assert decide(_windows(fair), one_tier, sync=0.1).verdict == "swapped"  # files calibrated before the tiers


def test_calibration_figures_are_what_decide_says_of_each_clip():
    """fit's search and verdict.decide sort the clips the same way, tiers included."""
    from stereofix.train.calibrate import ABSTAIN_TYPES, is_clear, windows_of

    rng = np.random.default_rng(5)
    clips = []
    for i in range(160):
        clips += [_clip("single", f, rng.uniform(0.1, 3.0), rng.uniform(-0.1, 0.9), i) for f in (False, True)]
    for i in range(160, 260):
        clips += [_clip("offscreen", f, rng.choice([-1, 1]) * rng.uniform(0.0, 2.5), rng.uniform(-0.1, 0.3), i) for f in (False, True)]
    cal, figures = fit(clips, tiers=True)
    verdicts = [(c, decide(windows_of(c), cal, c.sync).verdict) for c in clips]
    clear = [v for c, v in verdicts if is_clear(c.scene_type, c.side)]
    abstain = [v for c, v in verdicts if c.scene_type in ABSTAIN_TYPES]
    assert figures["val_clear_abstention"] == pytest.approx(1 - sum(v in ("ok", "swapped") for v in clear) / len(clear))
    assert figures["val_abstain_types_decided"] == pytest.approx(sum(v in ("ok", "swapped", "mixed") for v in abstain) / len(abstain))


def test_calibration_takes_two_tiers_where_sure_verdicts_at_weak_synchrony_are_right():
    """Clear-sided clips whose picture barely follows the sound, decided very surely and rightly, and
    off-screen clips at the same synchrony, decided only fairly surely: a second tier lets the first
    be decided without the second."""
    rng = np.random.default_rng(7)
    clips = []
    for i in range(120):
        clips += [_clip("single", f, rng.uniform(0.3, 3.0), rng.uniform(0.4, 0.9), i) for f in (False, True)]
    for i in range(120, 200):
        clips += [_clip("single", f, 6.0, rng.uniform(0.06, 0.14), i) for f in (False, True)]
    for i in range(200, 320):
        clips += [_clip("offscreen", f, rng.choice([-1, 1]) * rng.uniform(0.5, 1.2), rng.uniform(0.06, 0.14), i) for f in (False, True)]
    cal, figures = fit(clips, tiers=True)
    assert cal.sure_sync is not None and cal.min_sync is not None and cal.min_sync < 0.06 and cal.sure_sync > 0.14
    assert figures["val_clear_decided_weak_sync"] > 0.3 and figures["val_abstain_types_decided"] <= 0.02


def test_calibration_passes_over_a_rule_that_decides_a_must_abstain_clip_surely(monkeypatch):
    """Two off-screen scenes very surely credited to something in view, at a synchrony chance can
    give: the must-abstain budget (2%) would let them through; the gate is raised above them."""
    from stereofix.train import calibrate

    rng = np.random.default_rng(8)
    clips = []
    for i in range(200):
        clips += [_clip("single", f, rng.uniform(1.0, 4.0), rng.uniform(0.05, 0.9), i) for f in (False, True)]
    for i in range(200, 300):
        clips += [_clip("offscreen", f, 0.0, rng.uniform(-0.1, -0.02), i) for f in (False, True)]
    for i in (300, 301):
        clips += [_clip("offscreen", f, 5.0, 0.08, i) for f in (False, True)]

    def sure_calls(cal):
        got = [decide(windows_of(c), cal, c.sync) for c in clips if c.scene_type == "offscreen"]
        return sum(v.verdict in ("ok", "swapped", "mixed") and v.probability >= calibrate.HIGH_CONFIDENCE for v in got)

    from stereofix.train.calibrate import windows_of

    cal, figures = fit(clips)
    assert cal.min_sync is not None and cal.min_sync > 0.08
    assert figures["val_abstain_decided_high_confidence"] == 0 and sure_calls(cal) == 0
    monkeypatch.setattr(calibrate, "HIGH_CONFIDENCE", 1.01)  # without the condition: decided, surely
    loose, _ = fit(clips)
    assert loose.min_sync is None or loose.min_sync <= 0.08
    monkeypatch.undo()
    assert sure_calls(loose) == 4


def test_the_weak_tier_keeps_a_margin_above_the_surest_must_abstain_clips():
    """Off-screen scenes at a synchrony chance gives, some of them fairly surely credited to a thing
    in view: without the margin the weak tier's threshold lands just above the surest of them; with
    it, every such clip the network is 0.8 sure of sits a WEAK_MARGIN of logits below it."""
    from stereofix.train import calibrate
    from stereofix.verdict import logit as logit_of

    clips = _offscreen_tail(11, sure_low_sync=(0.06, 0.14), offscreen_sync=(0.06, 0.14))

    def near_misses(cal):
        """Must-abstain clips in the weak band, 0.8 sure, less than WEAK_MARGIN logits below its threshold."""
        out = 0
        for c in clips:
            v = decide(calibrate.windows_of(c), cal, c.sync)
            conf = max(v.p_swapped, 1 - v.p_swapped)
            band = cal.sure_sync is not None and cal.min_sync <= c.sync < cal.sure_sync
            if c.scene_type == "offscreen" and band and conf >= calibrate.HIGH_CONFIDENCE:
                out += logit_of(conf) > logit_of(cal.decide_weak_sync) - 1.0
        return out

    loose, loose_fig = fit(clips, weak_margin=0.0)
    kept, fig = fit(clips, weak_margin=1.0)
    assert loose.sure_sync is not None and near_misses(loose) > 0  # the case the margin is for
    assert near_misses(kept) == 0 and fig["val_abstain_near_weak_threshold"] == 0
    assert fig["val_abstain_decided_high_confidence"] == 0
    assert fig["val_clear_abstention"] >= loose_fig["val_clear_abstention"]  # the margin costs, never buys


def test_the_synchrony_line_keeps_a_margin_above_the_surest_must_abstain_clips():
    """The same tail on the other axis: off-screen scenes fairly surely credited to a thing in view,
    at synchronies just under the second line. Without the margin the line lands just above the
    surest of them; with it, none that is 0.8 sure lies within SYNC_MARGIN below a line it would be
    decided above."""
    from stereofix.train import calibrate

    clips = _offscreen_tail(12, sure_low_sync=(0.15, 0.3), offscreen_sync=(-0.05, 0.14))

    def near_misses(cal):
        """Must-abstain clips 0.8 sure, undecided, less than 0.05 below a line they would pass."""
        out = 0
        for c in clips:
            v = decide(calibrate.windows_of(c), cal, c.sync)
            conf = max(v.p_swapped, 1 - v.p_swapped)
            if c.scene_type != "offscreen" or conf < calibrate.HIGH_CONFIDENCE or v.verdict != "uncertain":
                continue
            lines = [cal.min_sync] if cal.min_sync is not None and conf >= (cal.decide_weak_sync if cal.sure_sync is not None else cal.decide) else []
            lines += [cal.sure_sync] if cal.sure_sync is not None and conf >= cal.decide else []
            out += any(line - 0.05 <= c.sync < line for line in lines)
        return out

    loose, loose_fig = fit(clips, sync_margin=0.0)
    kept, fig = fit(clips, sync_margin=0.05)
    assert near_misses(loose) > 0  # the case the margin is for
    assert near_misses(kept) == 0 and fig["val_abstain_near_sync_line"] == 0 and fig["sync_margin"] == 0.05
    assert fig["val_abstain_decided_high_confidence"] == 0
    assert fig["val_clear_abstention"] >= loose_fig["val_clear_abstention"]  # the margin costs, never buys


def test_mixed_is_judged_on_every_clip_where_nothing_is_exchanged():
    """Two sources on opposite sides, the network following one then the other: nothing is exchanged,
    so `mixed` is wrong on them. Judged on the clear-sided clips alone, the stretch threshold lets
    half of them through and the probability given with `mixed` never hears of those mistakes, so
    it overstates how often `mixed` is right; judged on every clip, at most MIXED_BUDGET of them are
    `mixed` and the probability given matches how often it is right."""
    from stereofix.train import calibrate

    clips = _two_sources_taking_turns(13)

    def overstated(cal):
        """Mean probability given with `mixed` less the share right, over every call: the clips (all
        wrong) and the clear-sided clips' half-swapped copies."""
        calls = [(v.probability, False) for c in clips if (v := decide(calibrate.windows_of(c), cal, c.sync)).verdict == "mixed"]
        copies = [(c, decide(h, cal, c.sync)) for c in clips if c.scene_type == "single" and not c.flipped and (h := calibrate.half_swapped(c))]
        calls += [(v.probability, calibrate.stretches_right(v.stretches, c)) for c, v in copies if v.verdict == "mixed"]
        return float(np.mean([q for q, _ in calls]) - np.mean([r for _, r in calls]))

    narrow_cal, narrow = fit(clips, mixed_scope="clear")
    cal, every = fit(clips, mixed_scope="every")
    assert narrow["val_other_called_mixed"] > 10 * calibrate.MIXED_BUDGET and overstated(narrow_cal) > 0.2  # the case
    assert every["val_other_called_mixed"] <= calibrate.MIXED_BUDGET and every["segment_decide_found"]
    assert every["segment_decide"] > narrow["segment_decide"] and every["mixed_scope"] == "every"
    assert abs(overstated(cal)) < 0.05
    with pytest.raises(InputError):
        fit(clips, mixed_scope="some")


def test_weak_splits_are_doubts_where_the_stretch_threshold_rose():
    """Judged on every clip, the stretch threshold for `mixed` rises; the weak splits it no longer
    calls `mixed` must not become one verdict for the whole file: half-swapped copies decided whole
    stay as few as with the clear-sided budget alone, and the doubt sits where that budget put the
    stretch threshold."""
    clips = _two_sources_taking_turns(14)
    narrow_cal, narrow = fit(clips, mixed_scope="clear")
    _, alone = fit(clips, mixed_scope="every", doubt_splits=False)
    cal, doubting = fit(clips, mixed_scope="every", doubt_splits=True)
    assert alone["val_half_swapped_decided_whole"] > narrow["val_half_swapped_decided_whole"]  # the case
    assert cal.doubt_split == narrow_cal.segment_decide < cal.segment_decide
    assert doubting["val_half_swapped_decided_whole"] <= narrow["val_half_swapped_decided_whole"]
    assert doubting["val_other_called_mixed"] == alone["val_other_called_mixed"] <= 0.02


def test_train_calibrate_keeps_the_libraries_weak_margin_by_default():
    """The CLI spells its default out (it imports no torch to build its help): keep it the library's."""
    import inspect

    from stereofix.cli import train_calibrate
    from stereofix.train.calibrate import DOUBT_SPLITS, MIXED_SCOPE, SYNC_MARGIN, WEAK_MARGIN

    assert inspect.signature(train_calibrate).parameters["weak_margin"].default == WEAK_MARGIN
    assert inspect.signature(train_calibrate).parameters["sync_margin"].default == SYNC_MARGIN
    assert inspect.signature(train_calibrate).parameters["mixed_scope"].default == MIXED_SCOPE
    assert inspect.signature(train_calibrate).parameters["doubt_splits"].default == DOUBT_SPLITS


def _offscreen_tail(seed: int, sure_low_sync: tuple[float, float], offscreen_sync: tuple[float, float]) -> list[ClipScore]:
    """Clear-sided scenes, most well in sync, some at low synchrony but very sure; off-screen scenes,
    some of them fairly surely credited to a thing in view (both orientations of each)."""
    rng = np.random.default_rng(seed)
    clips = []
    for i in range(150):
        clips += [_clip("single", f, rng.uniform(0.5, 3.0), rng.uniform(0.4, 0.9), i) for f in (False, True)]
    for i in range(150, 230):
        clips += [_clip("single", f, rng.uniform(4.0, 9.0), rng.uniform(*sure_low_sync), i) for f in (False, True)]
    for i in range(230, 400):
        clips += [_clip("offscreen", f, rng.choice([-1, 1]) * rng.uniform(0.0, 3.5), rng.uniform(*offscreen_sync), i) for f in (False, True)]
    return clips


def _two_sources_taking_turns(seed: int) -> list[ClipScore]:
    """Clear-sided scenes, and scenes of two sources on opposite sides whose windows follow one
    source then the other (nothing exchanged; both orientations of each)."""
    rng = np.random.default_rng(seed)
    clips = []
    for i in range(150):
        clips += [_clip("single", f, rng.uniform(1.0, 3.0), 0.5, i) for f in (False, True)]
    for i in range(150, 230):
        a, sign = rng.uniform(0.6, 1.6), rng.choice([-1, 1])
        for f in (False, True):
            logits = [(1 if f else -1) * sign * (a if k < 4 else -a) + e for k, e in enumerate(rng.normal(0.0, 0.5, 8))]
            clips.append(ClipScore(f"o{i}.mp4", "two_opposite", 0, f, logits, [float(k) for k in range(8)],
                                   [k + 2.0 for k in range(8)], 10.0, 0.5))
    return clips


def _clip(kind: str, flipped: bool, logit: float, sync: float | None, i: int) -> ClipScore:
    side = 0 if kind == "offscreen" else 1
    noise = np.random.default_rng(i).normal(0.0, 1.5, 8)  # windows disagree, as real ones do
    logits = [(1 if flipped else -1) * (logit + e) for e in noise]
    return ClipScore(f"c{i}.mp4", kind, side, flipped, logits, [float(k) for k in range(8)],
                     [k + 2.0 for k in range(8)], 10.0, sync)


def test_calibration_picks_a_gate_where_it_lets_more_clips_be_decided():
    """Clear-sided clips in sync with mixed confidence, and off-screen clips out of sync, some of them
    confidently 'decided' by the windows (the leak): without a gate the leak sets the threshold, with
    one it does not."""
    rng = np.random.default_rng(3)
    clips = []
    for i in range(200):
        strength = rng.uniform(0.3, 3.0)
        clips += [_clip("single", f, strength, rng.uniform(0.5, 0.95), i) for f in (False, True)]
    for i in range(200, 300):
        strength = rng.choice([-1, 1]) * (2.5 if i % 10 == 0 else rng.uniform(0.0, 0.2))
        clips += [_clip("offscreen", f, strength, rng.uniform(-0.1, 0.25), i) for f in (False, True)]
    cal, figures = fit(clips)
    assert cal.min_sync is not None and 0.25 <= cal.min_sync <= 0.5
    assert figures["val_abstain_types_decided"] <= 0.02
    plain, plain_figures = fit([ClipScore(**{**c.__dict__, "sync": None}) for c in clips])
    assert plain.min_sync is None  # no synchrony measured: no gate
    assert figures["decide_found"] and plain_figures["decide_found"]
    assert figures["decide"] < plain_figures["decide"]
    assert figures["val_clear_abstention"] < plain_figures["val_clear_abstention"]


def test_chance_shifts_share_no_sound_with_the_windows_they_are_laid_against(monkeypatch):
    # A quarter-window hop: a window shares sound with the three after it, so shifts start at 4.
    monkeypatch.setattr(windows, "SHORT_HOP", 0.25)
    assert null_shifts(16) == list(range(4, 13))
    monkeypatch.setattr(windows, "SHORT_HOP", 1 / 6)
    assert null_shifts(24) == list(range(6, 19))
    assert null_shifts(8) == list(range(1, 8))  # too few windows for any far shift: all of them


def test_cell_changes_put_the_change_where_the_patch_is():
    """The patch (rows 20-44, columns 16-40) changes and nothing else does: the cells that hold it
    change most, at the shipped 16-pixel cells and at the 32-pixel ones sync_choice.py also reads."""
    from stereofix.sync import cell_changes, frame_changes, pool_cells

    rng = np.random.default_rng(2)
    level = rng.uniform(0.05, 1.0, (L, T))
    frames = np.full((L, T, H, W, 3), 90, np.uint8)
    frames[:, :, 20:44, 16:40] = (60 + 180 * level)[..., None, None, None].astype(np.uint8)
    cells = cell_changes(frames)
    assert cells.shape == (L * (T - 1), (H - 16) // 8 + 1, (W - 16) // 8 + 1)
    mean = cells.mean(0)
    row, col = np.unravel_index(mean.argmax(), mean.shape)
    assert 20 <= row * 8 and row * 8 + 16 <= 44 and 16 <= col * 8 and col * 8 + 16 <= 40
    assert mean[:, 6:].max() == 0  # right of the patch nothing changes
    big = pool_cells(frame_changes(frames), 32, 16)
    assert big.shape == (L * (T - 1), (H - 32) // 16 + 1, (W - 32) // 16 + 1)
    assert np.unravel_index(big.mean(0).argmax(), big.shape[1:])[1] <= 1  # the patch's side


def test_sync_map_marks_the_place_that_follows_the_sound():
    from stereofix.sync import sync_map

    rng = np.random.default_rng(1)
    level = rng.uniform(0.05, 1.0, (L, T))
    frames, audio = _scene(level, level)
    m = sync_map(frames, audio, OFFSETS)
    assert m.shape == ((H - 16) // 8 + 1, (W - 16) // 8 + 1) and m.min() >= 0
    row, col = np.unravel_index(m.argmax(), m.shape)
    assert m.max() > 0.8 and 8 <= row * 8 + 8 <= 44 and 8 <= col * 8 + 8 <= 40  # the patch
    assert m[:, 8:].max() < 0.3  # the right half only has sensor noise
    assert sync_map(frames[:, :1], audio, OFFSETS[:, :1]) is None  # one frame per window: no change


def test_check_reads_the_synchrony_its_calibration_was_fitted_on():
    """The shipped file (calibrated in session 33) reads the whole frames; a file calibrated before
    session 32 reads the model's frames, without decoding any window whole, and (unsteered) gets
    the same logits either way."""
    from dataclasses import replace
    from pathlib import Path

    from stereofix.infer import Analyzer, check
    from stereofix.inputs import prepare
    from stereofix.sync import file_sync
    from stereofix.weights import REPO_WEIGHTS

    example = Path(__file__).resolve().parent.parent / "examples" / "instrument_left.mp4"
    shipped = Analyzer.load(REPO_WEIGHTS / "flip-v1.pt", "cpu")
    assert shipped.calibration.sync_reading == "whole"
    unsteered = replace(shipped.calibration, attention_prior=0.0)
    old = check(example, replace(shipped, calibration=replace(unsteered, sync_reading="model")))
    inputs, _ = prepare(example, (4.0, 32000, 0.0))
    assert inputs.sync_frames is None and old.picture_sync == file_sync(inputs, "model")
    new = check(example, replace(shipped, calibration=unsteered))
    inputs, _ = prepare(example, (4.0, 32000, windows.SYNC_SPAN_S))
    assert inputs.sync_frames is not None and new.picture_sync == file_sync(inputs, "whole") != old.picture_sync
    assert new.verdict.p_swapped == old.verdict.p_swapped
    assert check(example, shipped).picture_sync == new.picture_sync
