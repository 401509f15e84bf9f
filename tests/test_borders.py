"""Letterbox and pillarbox bars are cut off before the model looks, and nothing else is."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from stereofix import borders, inputs
from stereofix.windows import Window, frame_times
from stereofix.weights import REPO_WEIGHTS
from media_factory import FFMPEG, ffmpeg

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "instrument_left.mp4"  # 270x480, portrait


def _picture(h: int = 72, w: int = 128, n: int = 4) -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.integers(40, 255, size=(n, h, w, 3), dtype=np.uint8)


def _boxed(pic: np.ndarray, left: int, right: int, top: int = 0, bottom: int = 0) -> np.ndarray:
    return np.pad(pic, ((0, 0), (top, bottom), (left, right), (0, 0)))


def test_pillarbox_and_letterbox_are_found_and_cut():
    pic = _picture(72, 40)
    bars = borders.find_bars(_boxed(pic, 44, 44))
    assert bars == borders.Bars(44 / 128, 0.0)
    assert np.array_equal(borders.crop(_boxed(pic, 44, 44), bars), pic)
    wide = _picture(54, 128)
    bars = borders.find_bars(_boxed(wide, 0, 0, 9, 9))
    assert bars is not None and bars.x == 0 and bars.y == pytest.approx(9 / 72)


def test_the_cut_is_the_same_on_both_sides_so_the_centre_stays():
    pic = _picture(72, 60)
    bars = borders.find_bars(_boxed(pic, 40, 28))
    assert bars == borders.Bars(28 / 128, 0.0)  # the smaller bar, on both sides


def test_pictures_without_bars_are_left_alone():
    assert borders.find_bars(_picture()) is None
    dark_left = _picture()
    dark_left[..., :30, :] = 0  # one dark edge is part of the picture: no symmetric bar
    assert borders.find_bars(dark_left) is None
    assert borders.find_bars(_boxed(_picture(72, 126), 1, 1)) is None  # a codec's edge pixel
    assert borders.find_bars(np.zeros((3, 72, 128, 3), np.uint8)) is None  # black: nothing to find
    assert borders.find_bars(_boxed(_picture(72, 20), 54, 54)) is None  # too little left to trust
    flicker = _boxed(_picture(72, 40), 44, 44)
    flicker[1, :, :10] = 200  # one frame shows something in the "bar": it is picture
    assert borders.find_bars(flicker) is None


def test_area_resize_averages_pixel_areas():
    x = np.arange(16, dtype=np.uint8).reshape(1, 4, 4, 1).repeat(3, -1) * 10
    out = borders.area_resize(x, 2, 2)
    assert out.shape == (1, 2, 2, 3)
    assert out[0, :, :, 0].tolist() == [[25, 45], [105, 125]]
    assert borders.area_resize(x, 4, 4) is x


@pytest.mark.skipif(FFMPEG is None, reason="needs the ffmpeg CLI to make the padded copy")
def test_a_pillarboxed_file_gives_the_model_the_picture_inside(tmp_path):
    boxed = tmp_path / "boxed.mp4"
    ffmpeg("-i", str(EXAMPLE), "-vf", "pad=854:480:(ow-iw)/2:0:black", "-c:v", "libx264", "-crf", "18",
           "-c:a", "copy", str(boxed))
    times = [frame_times(Window(s, s + 2.0), 4.0) for s in (0.0, 4.0)]
    plain, _, none = inputs.read_model_frames(EXAMPLE, None, times)
    raw, _ = inputs._read_frames(EXAMPLE, None, times)
    assert none is None and np.array_equal(plain, raw)  # a file without bars is decoded once, as before
    cut, _, bars = inputs.read_model_frames(boxed, None, times)
    stretched, _ = inputs._read_frames(boxed, None, times)
    assert bars is not None and bars.y == 0 and bars.kept[0] == pytest.approx(270 / 854, abs=0.01)
    diff = np.abs(cut.astype(int) - plain.astype(int)).mean()
    assert diff < 6, diff
    assert np.abs(stretched.astype(int) - plain.astype(int)).mean() > 4 * diff


@pytest.mark.skipif(FFMPEG is None or not (REPO_WEIGHTS / "flip-v1.pt").exists(), reason="needs ffmpeg and weights")
def test_the_model_judges_a_pillarboxed_file_like_the_original(tmp_path):
    from stereofix.infer import Analyzer, check

    boxed = tmp_path / "boxed.mp4"
    ffmpeg("-i", str(EXAMPLE), "-vf", "pad=854:480:(ow-iw)/2:0:black", "-c:v", "libx264", "-crf", "18",
           "-c:a", "copy", str(boxed))
    an = Analyzer.load(REPO_WEIGHTS / "flip-v1.pt", "cpu")
    a, b = check(EXAMPLE, an), check(boxed, an)
    assert b.verdict.verdict == a.verdict.verdict
    assert b.verdict.p_swapped == pytest.approx(a.verdict.p_swapped, abs=0.05)
    from stereofix.plot import plot_check

    png = plot_check(boxed, b, tmp_path / "why.png", an)  # the tiles show the picture without its bars
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
