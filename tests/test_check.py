"""The audio-visual `check` and model-driven `repair` with the shipped weights, through the real CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from stereofix import media
from stereofix.cli import app
from stereofix.weights import REPO_WEIGHTS

runner = CliRunner()
EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
LEFT = EXAMPLES / "instrument_left.mp4"
SWAPPED = EXAMPLES / "instrument_left_swapped.mp4"

pytestmark = pytest.mark.skipif(not (REPO_WEIGHTS / "flip-v1.pt").exists(), reason="no shipped weights")


def _recalibrated(path: Path, **changes) -> str:
    """The shipped network saved at `path` with some calibration constants changed."""
    from dataclasses import replace

    from stereofix.weights import load_flip_model, save_checkpoint

    model, cal, _ = load_flip_model(REPO_WEIGHTS / "flip-v1.pt")
    return str(save_checkpoint(path, model, replace(cal, **changes)))


@pytest.fixture(scope="module")
def decisive(tmp_path_factory) -> str:
    """The shipped network with permissive thresholds: the pipeline's behaviour on real model
    outputs (mixed stretches, repair decisions) is tested apart from how cautious the shipped
    calibration is."""
    return _recalibrated(tmp_path_factory.mktemp("w") / "decisive.pt", decide=0.55, segment_decide=0.55, min_sync=None)


def _check(*args: str) -> tuple[int, list[dict]]:
    r = runner.invoke(app, ["check", "--json", "--quiet", *args])
    return r.exit_code, [json.loads(line) for line in r.stdout.splitlines() if line.startswith("{")]


def test_shipped_model_never_calls_the_examples_the_wrong_way():
    code, (ok, swapped) = _check(str(LEFT), str(SWAPPED))
    assert ok["verdict"] in ("ok", "uncertain") and swapped["verdict"] in ("swapped", "uncertain")
    assert ok["p_swapped"] < 0.5 < swapped["p_swapped"]
    assert ok["p_swapped"] == pytest.approx(1 - swapped["p_swapped"], abs=0.05)  # the answer flips


def test_shipped_model_does_not_decide_a_half_swapped_example_as_a_whole(tmp_path):
    """The case the stretch rule is for: one half heard more clearly than the other. With the shipped
    calibration the file is `mixed` (its flipped stretch in the second half) or `uncertain`, never one
    verdict for the whole file, which `repair` would act on."""
    from stereofix.media.rewrite import SwapChannels, rewrite

    half = tmp_path / "half.mp4"
    rewrite(LEFT, half, SwapChannels(ranges=((4.0, 100.0),)))
    _, (out,) = _check(str(half))
    assert out["verdict"] in ("mixed", "uncertain"), out
    if out["verdict"] == "mixed":
        (start, end), = out["stretches"]
        assert 2.5 <= start <= 5.5 and end == pytest.approx(out["duration"], abs=0.1)


def test_exchanging_the_channels_negates_every_window_logit():
    """What calibration relies on to score each validation clip once for both orientations."""
    from stereofix.infer import Analyzer, check

    an = Analyzer.load(REPO_WEIGHTS / "flip-v1.pt", "cpu")
    a, b = check(LEFT, an), check(LEFT, an, exchange_channels=True)
    la = [w.logit for w in a.verdict.windows]
    lb = [w.logit for w in b.verdict.windows]
    assert la and all(x is not None for x in la)
    assert np.allclose(la, [-x for x in lb], atol=1e-4)
    assert a.verdict.p_swapped == pytest.approx(1 - b.verdict.p_swapped, abs=1e-5)


def test_examples_verdicts_and_timeline(decisive):
    code, (ok, swapped) = _check("--weights", decisive, str(LEFT), str(SWAPPED))
    assert ok["verdict"] == "ok" and swapped["verdict"] == "swapped"
    assert code == 1  # the batch's most severe: a swap was found
    assert ok["p_swapped"] < 0.5 < swapped["p_swapped"]
    assert ok["p_swapped"] == pytest.approx(1 - swapped["p_swapped"], abs=0.05)  # the answer flips
    for w in ok["windows"]:
        assert {"start", "end", "logit", "p_swapped"} <= set(w)
    # The instrument brightens with its notes: the picture follows the sound, about the same both
    # ways round (the exchanged copy's AAC is encoded again).
    assert 0.2 < ok["picture_sync"] <= 1.0 and ok["picture_sync"] == pytest.approx(swapped["picture_sync"], abs=0.05)
    assert ok["windows"][0]["start"] == pytest.approx(0.0, abs=0.05)


def test_mixed_file_reports_its_flipped_stretch(tmp_path, decisive):
    from stereofix.media.rewrite import SwapChannels, rewrite

    mixed = tmp_path / "mixed.mp4"
    rewrite(LEFT, mixed, SwapChannels(ranges=((4.0, 9.0),)))
    code, (out,) = _check("--weights", decisive, str(mixed))
    assert out["verdict"] == "mixed", out
    assert code == 1
    (start, end), = out["stretches"]
    assert 3.0 <= start <= 5.0 and end >= 7.5


def test_repair_fixes_swapped_and_leaves_ok_alone(tmp_path, decisive):
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    r = runner.invoke(app, ["repair", "--json", "--weights", decisive, "--output-dir", str(out_dir), str(LEFT), str(SWAPPED)])
    assert r.exit_code == 0, r.stderr
    left_report, swapped_report = (json.loads(x) for x in r.stdout.splitlines())
    assert left_report["action"] == "left-alone" and not (out_dir / LEFT.name).exists()
    assert swapped_report["action"] == "repaired"
    fixed = out_dir / SWAPPED.name
    a = media.read_audio(LEFT, sample_rate=16000)
    b = media.read_audio(fixed, sample_rate=16000)
    n = min(a.shape[1], b.shape[1])
    # Channel 0 of the repaired file is channel 0 of the original again (AAC twice: correlation, not bits).
    assert np.corrcoef(a[0, :n], b[0, :n])[0, 1] > 0.9
    code, (out,) = _check("--weights", decisive, str(fixed))
    assert out["verdict"] == "ok"


def test_dry_run_writes_nothing(tmp_path, decisive):
    r = runner.invoke(app, ["repair", "--dry-run", "--json", "--weights", decisive, str(SWAPPED)])
    assert r.exit_code == 0
    assert json.loads(r.stdout)["action"] == "would-repair"


def test_plot_draws_a_png(tmp_path, decisive):
    png = tmp_path / "why.png"
    r = runner.invoke(app, ["check", "--weights", decisive, "--plot", str(png), str(SWAPPED)])
    assert r.exit_code == 1
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    from PIL import Image

    assert Image.open(png).size[0] >= 640


def test_repair_leaves_undecided_files_alone(tmp_path):
    """A file the model does not call swapped is not touched. The shipped network with a calibration
    that hears nothing (window temperature 1e4: every probability about 0.5) makes any file undecided,
    so this runs whatever the shipped thresholds decide about the example."""
    import shutil

    cautious = _recalibrated(tmp_path / "cautious.pt", window_temperature=1e4)
    clip = tmp_path / "clip.mp4"
    shutil.copyfile(SWAPPED, clip)
    before = clip.read_bytes()
    r = runner.invoke(app, ["repair", "--json", "--inplace", "--weights", cautious, str(clip)])
    assert r.exit_code == 3, r.stderr
    report = json.loads(r.stdout)
    assert report["action"] == "left-alone" and report["verdict"] == "uncertain"
    assert clip.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cautious.pt", "clip.mp4"]  # no stray temp file


def test_repair_segments_swaps_only_the_flipped_stretch(tmp_path, decisive):
    from stereofix.media.rewrite import SwapChannels, rewrite

    mixed = tmp_path / "mixed.mp4"
    rewrite(LEFT, mixed, SwapChannels(ranges=((4.0, 9.0),)))
    out = tmp_path / "fixed.mp4"
    r = runner.invoke(app, ["repair", "--json", "--segments", "--weights", decisive, "-o", str(out), str(mixed)])
    assert r.exit_code == 0, r.stderr
    report = json.loads(r.stdout)
    assert report["action"] == "repaired" and report["verdict"] == "mixed"
    (start, end), = report["ranges"]
    a = media.read_audio(LEFT, sample_rate=16000)
    b = media.read_audio(out, sample_rate=16000)
    # Before the stretch nothing was exchanged; where the stretch and the flipped range overlap,
    # the channels were exchanged back, so both match the original again.
    head = slice(0, int((min(start, 4.0) - 0.2) * 16000))
    inside = slice(int((max(start, 4.0) + 0.2) * 16000), int((min(end, 8.0) - 0.2) * 16000))
    assert inside.stop - inside.start > 8000
    for part in (head, inside):
        assert np.corrcoef(a[0, part], b[0, part])[0, 1] > 0.9


def test_a_reader_that_stops_early_does_not_turn_into_a_swap_verdict():
    """`stereofix check *.mp4 | head -1`: the closed pipe must not exit 1, which means "swapped"."""
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-m", "stereofix", "check", *[str(LEFT)] * 12],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        first = proc.stdout.readline()
        proc.stdout.close()  # the reader goes away while files are left to report
        err = proc.stderr.read()
        proc.wait(timeout=120)
    finally:
        proc.kill()
    assert first.startswith(f"{LEFT}: ")
    assert proc.returncode == 0, err
    assert "Traceback" not in err


def test_check_without_a_model_gives_the_audio_only_verdict():
    """`check(path, None)`: the audio diagnostics alone; spatial audio is `uncertain`, not an error."""
    from stereofix.infer import check

    result = check(EXAMPLES / "instrument_left.mp4", None)
    assert result.verdict.verdict == "uncertain" and "model is needed" in result.verdict.reason
