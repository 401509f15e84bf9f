"""Pooling window logits into verdicts, and planning windows."""

from __future__ import annotations

import math

import numpy as np
import pytest

from stereofix.verdict import Calibration, WindowScore, decide
from stereofix import windows
from stereofix.windows import frame_times, plan_windows

CAL = Calibration(window_temperature=1.0, clip_scale=1.0, decide=0.9, segment_decide=0.9)


def _windows(logits):
    return [WindowScore(2.0 * i, 2.0 * i + 2.0, lg, None) for i, lg in enumerate(logits)]


def test_consistent_windows_decide():
    assert decide(_windows([4, 5, 3, 6]), CAL).verdict == "swapped"
    assert decide(_windows([-4, -5, -3, -6]), CAL).verdict == "ok"


def test_weak_evidence_abstains():
    v = decide(_windows([0.3, -0.2, 0.5, 0.1]), CAL)
    assert v.verdict == "uncertain"
    assert 0.4 < v.p_swapped < 0.7


def test_swapping_every_window_flips_the_verdict_exactly():
    a = decide(_windows([3, 1, 2.5]), CAL)
    b = decide(_windows([-3, -1, -2.5]), CAL)
    assert a.p_swapped == pytest.approx(1 - b.p_swapped)


def test_mixed_reports_flipped_stretches():
    v = decide(_windows([-5, -4, -6, 5, 4, 6]), CAL)
    assert v.verdict == "mixed"
    assert v.stretches == [(6.0, 12.0)]


def test_one_confused_window_does_not_make_mixed():
    assert decide(_windows([-5, -4, -6, 5, -4, -6]), CAL).verdict == "ok"


def test_a_faintly_heard_flipped_half_still_makes_the_file_mixed():
    """The mean follows the loud half (ok, surely); no flipped window is sure alone, their stretch is."""
    cal = Calibration(window_temperature=1.0, clip_scale=2.0, decide=0.9, segment_decide=0.9)
    ws = _windows([-8, -7, -9, -8, 1.2, 1.4, 1.3, 1.5])
    assert all(w < 0.9 for w in [1 / (1 + math.exp(-x)) for x in (1.2, 1.4, 1.3, 1.5)])
    v = decide(ws, cal)
    assert v.verdict == "mixed" and v.stretches == [(8.0, 16.0)]
    assert 0.9 <= v.probability < 1 and v.p_swapped < 0.1


def test_a_weak_split_is_a_doubt_not_one_verdict_for_the_whole_file():
    """The loud half says ok surely, the faint half says swapped a little: short of `mixed`, yet with
    a doubt threshold the file is `uncertain` rather than `ok`, which would hide a flipped half
    (and `swapped`, which `repair` would act on, would spoil the right half)."""
    ws = [-8, -7, -9, -8, 0.8, 0.9, 0.7, 0.8]
    plain = Calibration(window_temperature=1.0, clip_scale=1.0, decide=0.9, segment_decide=0.95)
    assert decide(_windows(ws), plain).verdict == "ok"
    doubting = Calibration(window_temperature=1.0, clip_scale=1.0, decide=0.9, segment_decide=0.95, doubt_split=0.6)
    v = decide(_windows(ws), doubting)
    assert v.verdict == "uncertain" and "disagree" in v.reason and v.p_swapped < 0.1
    assert decide(_windows([-8, -7, -9, -8, 4, 5, 4, 5]), doubting).verdict == "mixed"  # a sure split is still mixed
    assert decide(_windows([-8, -7, -9, -8, -6, -7, -8, -6]), doubting).verdict == "ok"  # no split: decided


def test_a_flipped_stretch_in_the_middle_is_found_and_timed():
    v = decide(_windows([-6, -5, -6, 5, 6, 5, -6, -5, -6]), CAL)
    assert v.verdict == "mixed" and v.stretches == [(6.0, 12.0)]


def test_mixed_probability_is_the_fitted_map_of_the_least_sure_stretch():
    ws = _windows([-6, -5, -6, 5, 6, 5])
    sure = 1 / (1 + math.exp(-5 - 1 / 3))  # the flipped stretch's mean, 16/3, is the less sure one
    assert decide(ws, CAL).probability == pytest.approx(sure)
    mapped = Calibration(window_temperature=1.0, clip_scale=1.0, decide=0.9, segment_decide=0.9, mixed_scale=0.5, mixed_bias=-1.0)
    assert decide(ws, mapped).probability == pytest.approx(1 / (1 + math.exp(-(0.5 * (16 / 3) - 1.0))))


def test_a_flipped_stretch_at_the_end_runs_over_the_silent_windows_after_it():
    ws = _windows([-5, -4, -6, 5, 4, 6, None])
    assert decide(ws, CAL).stretches == [(6.0, 14.0)]


def test_windows_are_judged_in_time_order():
    ws = _windows([-5, -4, -6, 5, 4, 6])
    assert decide(list(reversed(ws)), CAL).stretches == [(6.0, 12.0)]


def test_silent_windows_are_skipped():
    ws = _windows([None, None])
    assert decide(ws, CAL).verdict == "uncertain"


def test_plan_tiles_short_files_and_spreads_long_ones(monkeypatch):
    short = plan_windows(0.0, 9.6, 2.0, 16)
    assert len(short) == 16 and short[0].start == 0.0 and short[-1].start == pytest.approx(7.6)
    assert np.allclose(np.diff([w.start for w in short]), 7.6 / 15)  # a quarter-window hop, at most 16
    assert len(plan_windows(0.0, 5.0, 2.0, 16)) == 7  # 0.5 s apart
    monkeypatch.setattr(windows, "SHORT_HOP", 0.5)  # the hop of the eleventh revision's first calibration
    short = plan_windows(0.0, 9.6, 2.0, 16)
    assert [round(w.start, 2) for w in short] == [0.0, 0.95, 1.9, 2.85, 3.8, 4.75, 5.7, 6.65, 7.6]
    monkeypatch.undo()
    long = plan_windows(0.0, 3600.0, 2.0, 16, keyframes=[k * 3.0 for k in range(1201)])
    assert len(long) == 16
    assert long[0].start == 0.0 and long[-1].end <= 3600.0
    assert all(w.start % 3.0 == 0 for w in long)  # snapped to keyframes
    assert plan_windows(5.0, 0.4, 2.0, 16)[0].start == 5.0  # shorter than a window: one, padded


def test_dense_short_tiling_is_not_snapped_onto_keyframes(monkeypatch):
    # A 10 s file tiled a quarter window apart reaches the window cap; snapping those windows to a
    # 2 s GOP's keyframes would pile them onto five starts.
    monkeypatch.setattr(windows, "SHORT_HOP", 0.25)
    dense = plan_windows(0.0, 10.0, 2.0, 16, keyframes=[0.0, 2.0, 4.0, 6.0, 8.0])
    assert len(dense) == 16
    assert dense[1].start == pytest.approx(8.0 / 15)


def test_short_files_may_get_more_windows_than_the_cap(monkeypatch):
    # The denser short-file tiling (README "Design notes", session 29): a 10 s file a sixth of a
    # window apart gets 1.5 times the cap; a file over SHORT_FILE_S keeps the cap, spread evenly.
    monkeypatch.setattr(windows, "SHORT_HOP", 1 / 6)
    monkeypatch.setattr(windows, "SHORT_WINDOWS_FACTOR", 1.5)
    dense = plan_windows(0.0, 10.0, 2.0, 16, keyframes=[0.0, 2.0, 4.0, 6.0, 8.0])
    assert len(dense) == 24 and dense[-1].start == pytest.approx(8.0)
    assert np.allclose(np.diff([w.start for w in dense]), 8.0 / 23)  # not snapped onto the keyframes
    assert len(plan_windows(0.0, 5.0, 2.0, 16)) == 10
    assert len(plan_windows(0.0, 4.0, 2.0, 4)) == 6  # the short cap follows --windows
    longer = plan_windows(0.0, 15.5, 2.0, 16)
    assert len(longer) == 16 and longer[-1].start == pytest.approx(13.5)
    assert windows.planning_key() == "|hop0.16666666666666666|short15.0x1.5"
    monkeypatch.undo()
    assert windows.planning_key() == ("" if windows.SHORT_HOP == 0.5 else f"|hop{windows.SHORT_HOP}")


def test_frame_times_are_inside_the_window():
    ts = frame_times(plan_windows(10.0, 2.0)[0], 4.0)
    assert ts == [10.125, 10.375, 10.625, 10.875, 11.125, 11.375, 11.625, 11.875]
