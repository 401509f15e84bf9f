"""Decoding ahead in worker processes (stereofix.prefetch) gives exactly what decoding in-process gives.

The workers fork only while torch is not imported, which it is inside pytest, so these run the CLI
and the prefetcher in fresh interpreters.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from stereofix.weights import REPO_WEIGHTS

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
LEFT = EXAMPLES / "instrument_left.mp4"
SWAPPED = EXAMPLES / "instrument_left_swapped.mp4"


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=300)


def test_importing_the_cli_does_not_import_torch():
    """What lets the workers fork before torch loads (about 1.5 s of every check)."""
    r = _run("-c", "import sys, stereofix, stereofix.cli, stereofix.prefetch, stereofix.inputs; print('torch' in sys.modules)")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "False"


def test_prefetcher_matches_in_process_decoding(tmp_path):
    bad = tmp_path / "notes.txt"
    bad.write_text("not media")
    script = textwrap.dedent(f"""
        import os, sys, numpy as np
        from stereofix.errors import InputError
        from stereofix.inputs import DEFAULT_MODEL_FRAMES, prepare
        from stereofix.prefetch import Prefetcher
        paths = [{str(LEFT)!r}, None, {str(bad)!r}, {str(SWAPPED)!r}]
        with Prefetcher(paths, 2) as p:
            assert p.jobs == 2
            pids = set()
            for i in (0, 3):
                d = p.get(i)
                assert d.model_frames == DEFAULT_MODEL_FRAMES
                inputs, kw = d.outcome
                ref, ref_kw = prepare(paths[i], DEFAULT_MODEL_FRAMES)
                assert inputs.live == ref.live and inputs.windows == ref.windows
                assert np.array_equal(inputs.frames, ref.frames) and np.array_equal(inputs.audio, ref.audio)
                assert np.array_equal(inputs.frame_offsets, ref.frame_offsets)
                assert kw["audio_stream"] == ref_kw["audio_stream"]
            assert p.get(1) is None  # standard input is not decoded ahead
            try:
                p.get(2)
            except InputError as exc:
                print("error:", exc)
        print("torch" in sys.modules)
    """)
    r = _run("-c", script)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.strip().splitlines()
    assert lines[0].startswith(f"error: {bad}: not a readable media file"), lines
    assert lines[-1] == "False"


@pytest.mark.skipif(not (REPO_WEIGHTS / "flip-v1.pt").exists(), reason="no shipped weights")
def test_check_with_workers_prints_what_check_in_process_prints(tmp_path):
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"\x00" * 1000)
    files = [str(LEFT), str(bad), str(SWAPPED)]
    ahead = _run("-m", "stereofix", "check", "--json", "--quiet", "--jobs", "2", *files)
    inline = _run("-m", "stereofix", "check", "--json", "--quiet", "--jobs", "0", *files)
    assert ahead.returncode == inline.returncode == 2  # the broken file is the batch's worst
    assert ahead.stdout == inline.stdout
    out = [json.loads(line) for line in ahead.stdout.splitlines()]
    assert [o["file"] for o in out] == [str(LEFT), str(SWAPPED)]
    assert out[0]["p_swapped"] < 0.5 < out[1]["p_swapped"]
    assert ahead.stderr.strip().splitlines() == inline.stderr.strip().splitlines()
    assert len(ahead.stderr.strip().splitlines()) == 1 and str(bad) in ahead.stderr


def test_windows_decoded_in_parallel_runs_are_the_frames_of_one_pass(monkeypatch):
    """Each run of windows seeks to its own keyframe; with B-frames skipped that changes no frame."""
    import numpy as np

    from stereofix import inputs

    got = {}
    for threads in (1, 3):
        monkeypatch.setattr(inputs, "DECODE_THREADS", threads)
        decoded, _ = inputs.prepare(LEFT, inputs.DEFAULT_MODEL_FRAMES)
        got[threads] = decoded
    assert len(got[1].live) >= 3
    assert np.array_equal(got[1].frames, got[3].frames)
    assert np.array_equal(got[1].frame_offsets, got[3].frame_offsets)
    assert not np.array_equal(got[3].frames[0], got[3].frames[-1])  # the windows show different moments


@pytest.mark.skipif(not (REPO_WEIGHTS / "flip-v1.pt").exists(), reason="no shipped weights")
def test_ctrl_c_stops_check_and_its_workers(tmp_path):
    import shutil
    import signal
    import time

    files = []
    for i in range(40):
        files.append(tmp_path / f"clip_{i:02d}.mp4")
        shutil.copy(LEFT, files[-1])
    proc = subprocess.Popen([sys.executable, "-m", "stereofix", "check", "--jobs", "2", *map(str, files)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        time.sleep(3.0)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()  # a hung check must not outlive the test
    # 130 from our own exit, or the same status as a shell sees it when Python ends by the signal.
    assert proc.returncode in (130, -signal.SIGINT), (out, err)
    assert err.strip().splitlines()[-1] == "stereofix: interrupted"
    assert len(out.splitlines()) < len(files)
    time.sleep(0.5)
    left = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if str(tmp_path).encode() in cmdline.read_bytes():
                left.append(cmdline.parent.name)
        except OSError:
            continue
    assert not left, "decoding workers outlived the interrupted check"


def test_workers_decode_for_what_the_default_model_asks():
    """Workers decode before the weights load, for FlipConfig's defaults: if these drift apart every
    prefetched file is decoded twice (right, but slow)."""
    from stereofix.inputs import DEFAULT_MODEL_FRAMES
    from stereofix.models import FlipConfig
    from stereofix.sync import whole_span
    from stereofix.weights import REPO_WEIGHTS, load_flip_model

    cfg = FlipConfig()
    _, cal, _ = load_flip_model(REPO_WEIGHTS / "flip-v1.pt")
    # Each window's first second decoded whole, as the shipped calibration's synchrony reads it.
    assert DEFAULT_MODEL_FRAMES == (cfg.fps, cfg.n_samples, whole_span(cal.sync_reading)) == (cfg.fps, cfg.n_samples, 1.0)


def test_ctrl_c_wrapped_by_an_import_is_still_an_interrupt():
    """A Ctrl-C inside a class body's `__set_name__` (seen while torch imported on a busy machine)
    reaches the CLI as a RuntimeError caused by the KeyboardInterrupt: it is still 'interrupted'."""
    code = (
        "import builtins, sys\n"
        "real = builtins.__import__\n"
        "def fake(name, *a, **k):\n"
        "    if name == 'torch':\n"
        "        raise RuntimeError('Error calling __set_name__') from KeyboardInterrupt()\n"
        "    return real(name, *a, **k)\n"
        "builtins.__import__ = fake\n"
        f"sys.argv = ['stereofix', 'check', {str(LEFT)!r}]\n"
        "from stereofix.entry import main\n"
        "main()\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 130, r.stderr
    assert r.stderr == "stereofix: interrupted\n"


def test_ctrl_c_while_the_cli_is_still_importing_is_one_line():
    """The console script imports the CLI under its own guard (stereofix/entry.py): a Ctrl-C in
    those first ~0.2 s, made certain here by raising it from the import, prints no traceback."""
    code = (
        "import builtins, sys\n"
        "real = builtins.__import__\n"
        "def fake(name, *a, **k):\n"
        "    if name == 'stereofix.cli':\n"
        "        raise KeyboardInterrupt\n"
        "    return real(name, *a, **k)\n"
        "builtins.__import__ = fake\n"
        "from stereofix.entry import main\n"
        "main()\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 130
    assert r.stderr == "stereofix: interrupted\n"
