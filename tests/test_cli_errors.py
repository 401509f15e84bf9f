"""Bad input, tried on purpose: one clear line on stderr, exit 2, no traceback, no damaged file;
in a batch the other files are still processed."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from stereofix.cli import app
from stereofix.media import write_clip
from tests.conftest import SR, frames_with_index, noise, stereo_clip

runner = CliRunner()


def _run(*args: str):
    return runner.invoke(app, list(args))


def _one_clear_line(result) -> None:
    assert result.exit_code == 2, (result.exit_code, result.stdout, result.stderr)
    err = [line for line in result.stderr.splitlines() if line.strip()]
    assert err and err[0].startswith("stereofix:"), result.stderr
    assert "Traceback" not in result.stderr + result.stdout


@pytest.fixture
def good(tmp_path):
    return stereo_clip(tmp_path / "good.mp4", np.stack([noise(1, 2), noise(1, 2)]))


def _truncated(tmp_path, good):
    p = tmp_path / "truncated.mp4"
    data = good.read_bytes()
    p.write_bytes(data[: len(data) // 2])
    return p


def _text(tmp_path, good):
    p = tmp_path / "notes.mp4"
    p.write_text("this is a text file, not a video\n")
    return p


def _directory(tmp_path, good):
    p = tmp_path / "folder.mp4"
    p.mkdir()
    return p


def _missing(tmp_path, good):
    return tmp_path / "missing.mp4"


BAD = {"missing": _missing, "directory": _directory, "text": _text, "truncated": _truncated}


@pytest.mark.parametrize("kind", sorted(BAD))
def test_check_bad_input(tmp_path, good, kind):
    bad = BAD[kind](tmp_path, good)
    r = _run("check", str(bad))
    _one_clear_line(r)
    assert str(bad) in r.stderr


@pytest.mark.parametrize("kind", sorted(BAD))
def test_repair_bad_input(tmp_path, good, kind):
    bad = BAD[kind](tmp_path, good)
    out = tmp_path / "out"
    out.mkdir()
    r = _run("repair", "--force", "--output-dir", str(out), str(bad))
    _one_clear_line(r)


def test_batch_goes_on_after_a_bad_file(tmp_path, good):
    r = _run("check", "--json", str(tmp_path / "missing.mp4"), str(good))
    assert r.exit_code == 2
    assert '"verdict": "not-spatial"' in r.stdout  # the good file was still checked
    assert "missing.mp4" in r.stderr


def test_no_audio_stream(tmp_path):
    p = write_clip(tmp_path / "silent_film.mp4", frames_with_index(25), 25)
    r = _run("check", "--json", str(p))
    _one_clear_line(r)
    assert '"verdict": "no-audio"' in r.stdout


def test_no_video_stream(tmp_path):
    src = noise(1, 2.0)
    right = 0.6 * np.concatenate([np.zeros(5, np.float32), src[:-5]]) + 0.05 * noise(3, 2.0)
    p = write_clip(tmp_path / "radio.m4a", None, audio=np.stack([src, right]), sample_rate=SR)
    r = _run("check", "--json", str(p))
    _one_clear_line(r)
    assert '"verdict": "no-video"' in r.stdout


def test_zero_length_audio(tmp_path):
    p = write_clip(tmp_path / "empty_audio.mkv", frames_with_index(25), 25, np.zeros((2, 0), np.float32), SR, audio_codec="flac")
    r = _run("check", "--json", str(p))
    _one_clear_line(r)
    assert '"verdict": "no-audio"' in r.stdout


def test_output_exists_without_overwrite(tmp_path, good):
    out = tmp_path / "out.mp4"
    out.write_bytes(b"precious")
    r = _run("repair", "--force", "-o", str(out), str(good))
    _one_clear_line(r)
    assert out.read_bytes() == b"precious"


@contextlib.contextmanager
def _unwritable(folder):
    """A folder nobody may write into, root included (root ignores mode bits, not the immutable flag)."""
    if os.geteuid() == 0:
        if not shutil.which("chattr") or subprocess.run(["chattr", "+i", str(folder)]).returncode != 0:
            pytest.skip("cannot make a folder unwritable for root here")
        try:
            yield folder
        finally:
            subprocess.run(["chattr", "-i", str(folder)], check=True)
    else:
        folder.chmod(0o555)
        try:
            yield folder
        finally:
            folder.chmod(0o755)


def test_permission_denied_on_output(tmp_path, good):
    locked = tmp_path / "locked"
    locked.mkdir()
    with _unwritable(locked):
        r = _run("repair", "--force", "-o", str(locked / "out.mp4"), str(good))
        _one_clear_line(r)
        assert list(locked.iterdir()) == []


def test_usage_errors_exit_2(tmp_path, good):
    _one_clear_line(_run("repair", "--force", str(good)))  # no destination
    _one_clear_line(_run("repair", "--force", "-o", str(tmp_path / "x.mp4"), str(good), str(good)))
    if not torch.cuda.is_available():
        _one_clear_line(_run("check", "--device", "cuda", str(good)))


def test_train_sync_gate_without_the_sync_term(tmp_path):
    """--sync-gate reads the sync term's evidence: without it (flag or --init weights) one line, exit 2."""
    _one_clear_line(_run("train", "flip", "--out", str(tmp_path / "run"), "--sync-gate", "--steps", "1"))
    from stereofix.models import FlipConfig, FlipNet
    from stereofix.weights import save_checkpoint

    plain = save_checkpoint(tmp_path / "plain.pt", FlipNet(FlipConfig()))
    _one_clear_line(_run("train", "flip", "--out", str(tmp_path / "run"), "--sync-gate", "--init", str(plain), "--steps", "1"))
    assert not (tmp_path / "run").exists()  # nothing written before the error


def test_synth_names_an_unknown_scene_type_and_writes_nothing(tmp_path):
    r = _run("synth", "--out", str(tmp_path / "out"), "--n", "1", "--type", "offscreen", "--type", "offscren")
    _one_clear_line(r)
    assert "offscren" in r.stderr and "offscreen" in r.stderr
    assert not (tmp_path / "out").exists()


def test_train_calibrate_names_an_unknown_mixed_scope_before_scoring(tmp_path):
    """Scoring the validation folders can take an hour: a misspelt scope fails at once, one line."""
    r = _run("train", "calibrate", str(tmp_path / "none.pt"), "--clips", str(tmp_path), "--mixed-scope", "evry",
             "--out", str(tmp_path / "cal.pt"))
    _one_clear_line(r)
    assert "--mixed-scope evry" in r.stderr and "every" in r.stderr
    assert not (tmp_path / "cal.pt").exists()
