"""Steering the network's attention by the file's synchrony map (Calibration.attention_prior)."""

from __future__ import annotations

import inspect
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from stereofix import windows
from stereofix.sync import file_sync_map, sync_map
from stereofix.train.calibrate import ATTENTION_PRIOR, ClipScore, fit, load_scores, save_scores
from stereofix.verdict import Calibration

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "instrument_left.mp4"


@pytest.fixture(scope="module")
def shipped():
    from stereofix.infer import Analyzer
    from stereofix.weights import REPO_WEIGHTS

    return Analyzer.load(REPO_WEIGHTS / "flip-v1.pt", "cpu")


@pytest.fixture(scope="module")
def example_inputs():
    from stereofix.inputs import prepare

    inputs, _ = prepare(EXAMPLE, (4.0, 32000, windows.SYNC_SPAN_S))
    return inputs


def test_the_map_is_read_over_the_frames_the_synchrony_gate_reads(example_inputs):
    whole = file_sync_map(example_inputs, "whole")
    assert whole is not None and whole.min() >= 0.0 and whole.max() > 0.2
    assert np.array_equal(whole, sync_map(example_inputs.sync_frames, example_inputs.audio, example_inputs.sync_offsets))
    model = file_sync_map(example_inputs, "model")
    assert np.array_equal(model, sync_map(example_inputs.frames, example_inputs.audio, example_inputs.frame_offsets))
    assert not np.array_equal(whole, model)
    with pytest.raises(ValueError):
        file_sync_map(example_inputs, "other")


def test_check_steers_by_the_calibrations_weight_and_stays_antisymmetric(shipped, example_inputs):
    """`check` with a weight gives exactly the logits of the network steered by that weight times
    the map; weight 0 gives the network alone; and exchanging the channels still negates every
    logit (the map hears both channels alike), which calibration relies on."""
    from stereofix.infer import check, score_windows

    whole = replace(shipped.calibration, sync_reading="whole", attention_prior=0.0)
    steered_cal = replace(whole, attention_prior=10.0)
    alone = [w.logit for w in score_windows(example_inputs, replace(shipped, calibration=whole))]
    expected = [w.logit for w in score_windows(example_inputs, shipped, prior=10.0 * file_sync_map(example_inputs, "whole"))]
    got = check(EXAMPLE, replace(shipped, calibration=steered_cal))
    logits = [w.logit for w in got.verdict.windows if w.logit is not None]
    assert logits == expected != alone
    assert [w.logit for w in check(EXAMPLE, replace(shipped, calibration=whole)).verdict.windows if w.logit is not None] == alone
    exchanged = check(EXAMPLE, replace(shipped, calibration=steered_cal), exchange_channels=True)
    assert np.allclose([w.logit for w in exchanged.verdict.windows if w.logit is not None], [-x for x in logits], atol=1e-5)


def test_a_calibration_carries_the_steering_its_scores_were_made_with(tmp_path):
    clips = [ClipScore(f"c{i}.mp4", "single", 1, f, [(1 if f else -1) * 2.0] * 6, [float(k) for k in range(6)],
                       [k + 2.0 for k in range(6)], 10.0, 0.5) for i in range(40) for f in (False, True)]
    assert fit(clips, attention_prior=5.0)[0].attention_prior == 5.0
    assert fit(clips)[0].attention_prior == ATTENTION_PRIOR
    assert Calibration().attention_prior == 0.0  # files calibrated before session 33 steer nothing
    save_scores(tmp_path / "s.json", {"val": clips}, "abc", attention_prior=5.0)
    assert len(load_scores(tmp_path / "s.json", "abc", attention_prior=5.0)["val"]) == 80
    assert load_scores(tmp_path / "s.json", "abc", attention_prior=10.0) == {}  # other steering: rescored
    body = json.loads((tmp_path / "s.json").read_text())
    del body["attention_prior"]  # saved before session 33: unsteered
    (tmp_path / "s.json").write_text(json.dumps(body))
    assert load_scores(tmp_path / "s.json", "abc", attention_prior=0.0) != {}
    assert load_scores(tmp_path / "s.json", "abc", attention_prior=10.0) == {}


def test_train_calibrate_steers_by_default_as_new_calibrations_do():
    """The CLI spells its default out (it imports no torch to build its help): keep it the library's."""
    from stereofix.cli import train_calibrate

    default = inspect.signature(train_calibrate).parameters["attention_prior"].default
    assert default == ATTENTION_PRIOR
