"""Letterbox and pillarbox bars are cut off before the model looks, and nothing else is."""

from __future__ import annotations

import subprocess
import sys
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


def test_plain_bars_of_another_colour_are_found_and_cut():
    pic = _picture(72, 40)
    white = np.pad(pic, ((0, 0), (0, 0), (44, 44), (0, 0)), constant_values=250)
    assert borders.find_bars(white) == borders.Bars(44 / 128, 0.0)
    grey = np.pad(_picture(54, 128), ((0, 0), (9, 9), (0, 0), (0, 0)), constant_values=128)
    grey[:, :9] += np.random.default_rng(1).integers(0, 6, size=grey[:, :9].shape, dtype=np.uint8)  # codec noise
    bars = borders.find_bars(grey)
    assert bars is not None and bars.x == 0 and bars.y == pytest.approx(9 / 72)
    odd = np.pad(pic, ((0, 0), (0, 0), (44, 44), (0, 0)), constant_values=250)
    odd[..., 84:, :] = 120  # plain on both sides, but not one shade: a picture, not padding
    assert borders.find_bars(odd) is None
    wall = white.copy()
    wall[1, :, :44] = 180  # the "bar" changes between frames: part of the picture
    assert borders.find_bars(wall) is None


def test_area_resize_averages_pixel_areas():
    x = np.arange(16, dtype=np.uint8).reshape(1, 4, 4, 1).repeat(3, -1) * 10
    out = borders.area_resize(x, 2, 2)
    assert out.shape == (1, 2, 2, 3)
    assert out[0, :, :, 0].tolist() == [[25, 45], [105, 125]]
    assert borders.area_resize(x, 4, 4) is x


@pytest.mark.skipif(FFMPEG is None, reason="needs the ffmpeg CLI to make the padded copy")
@pytest.mark.parametrize("colour", ["black", "white"])
def test_a_pillarboxed_file_gives_the_model_the_picture_inside(tmp_path, colour):
    boxed = tmp_path / "boxed.mp4"
    ffmpeg("-i", str(EXAMPLE), "-vf", f"pad=854:480:(ow-iw)/2:0:{colour}", "-c:v", "libx264", "-crf", "18",
           "-c:a", "copy", str(boxed))
    times = [frame_times(Window(s, s + 2.0), 4.0) for s in (0.0, 4.0)]
    plain, _, none = inputs.read_model_frames(EXAMPLE, None, times)
    raw, _, _ = inputs._read_frames(EXAMPLE, None, times)
    assert none is None and np.array_equal(plain, raw)  # a file without bars is decoded once, as before
    cut, _, bars = inputs.read_model_frames(boxed, None, times)
    stretched, _, _ = inputs._read_frames(boxed, None, times)
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
    assert "picture_cut" not in a.to_dict()  # nothing cut from the original
    x, y = b.to_dict()["picture_cut"]  # the report says what was cut: (854 - 270) / 2 px each side
    assert y == 0 and x * 854 == pytest.approx(292, abs=3)
    said = subprocess.run([sys.executable, "-m", "stereofix", "check", "--verbose", str(boxed)],
                          capture_output=True, text=True)
    assert said.returncode == b.exit_code and "judged the picture inside its borders" in said.stderr
    from stereofix.plot import plot_check

    png = plot_check(boxed, b, tmp_path / "why.png", an)  # the tiles show the picture without its bars
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _scene(h: int, w: int, n: int = 4, seed: int = 1) -> np.ndarray:
    """A picture with structure at every scale (smooth gradients, blocks and fine texture), moving."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    out = []
    for t in range(n):
        img = 120 + 60 * np.sin(6 * xx + t) * np.cos(4 * yy - t)
        blocks = rng.integers(0, 2, size=(h // 8 + 1, w // 8 + 1)).repeat(8, 0).repeat(8, 1)[:h, :w]
        img = img + 50 * blocks + rng.normal(0, 12, size=(h, w))
        out.append(np.stack([img, img * 0.8 + 20, 255 - img], -1))
    return np.clip(out, 0, 255).astype(np.uint8)


def _box_blur(a: np.ndarray, r: int) -> np.ndarray:
    k = np.ones(2 * r + 1) / (2 * r + 1)
    for axis in (1, 2):
        a = np.apply_along_axis(lambda v: np.convolve(np.pad(v, r, mode="edge"), k, "valid"), axis, a)
    return a


def _over_copy(pic: np.ndarray, w: int) -> np.ndarray:
    """pic [N, H, wp, 3] over a blurred copy of itself scaled to cover [H, w] (as phones publish it)."""
    n, h, wp, _ = pic.shape
    s = w / wp
    ys = np.clip(((np.arange(h) - h / 2 + 0.5) / s + h / 2 - 0.5).round().astype(int), 0, h - 1)
    xs = np.clip(((np.arange(w) - w / 2 + 0.5) / s + wp / 2 - 0.5).round().astype(int), 0, wp - 1)
    frame = _box_blur(pic[:, ys][:, :, xs].astype(np.float32), 12)
    k = (w - wp) // 2
    frame[:, :, k: k + wp] = pic
    return np.clip(frame, 0, 255).astype(np.uint8)


def test_a_picture_over_a_blurred_copy_of_itself_is_found_and_cut():
    pic = _scene(288, 162)
    framed = _over_copy(pic, 512)
    assert borders.find_bars(framed) is None  # not black: the bar test cannot see it
    small = borders.area_resize(framed, 72, 128)
    assert borders.might_have_copy(small)
    bars = borders.find_copy_sides(framed)
    assert bars is not None and bars.y == 0 and bars.x * 512 == pytest.approx(175, abs=1)
    tall = np.swapaxes(_over_copy(np.swapaxes(_scene(162, 288, seed=2), 1, 2), 512), 1, 2)  # a landscape picture in a portrait frame
    bars = borders.find_copy_sides(tall)
    assert bars is not None and bars.x == 0 and bars.y * 512 == pytest.approx(175, abs=1)


def test_plain_sides_that_are_not_a_copy_are_left_alone():
    assert not borders.might_have_copy(borders.area_resize(_scene(288, 512), 72, 128))
    assert borders.find_copy_sides(_scene(288, 512)) is None
    other = _over_copy(_scene(288, 162, seed=3), 512)
    other[:, :, 175:337] = _scene(288, 162, seed=4)  # sides blurred from a different picture
    assert borders.find_copy_sides(other) is None
    soft = _scene(288, 512)
    soft[:, :, :120] = soft[:, :, 392:] = 90  # plain walls either side: no detail, but not a copy
    assert borders.find_copy_sides(soft) is None


def test_a_graded_wall_is_not_taken_for_a_scaled_copy():
    """A plain wall graded top to bottom either side of a textured picture correlates with the
    picture scaled up as well as with the picture's own edge carried outward: the scale check
    refuses it (the correlation alone, 0.99, would cut it)."""
    rng = np.random.default_rng(0)
    h, w, k = 288, 512, 64
    img = np.repeat(60 + 150 * np.arange(h)[:, None] / h, w, 1)[None].repeat(4, 0)
    img[:, :, k: w - k] += rng.normal(0, 25, size=(4, h, w - 2 * k))
    walls = np.clip(np.stack([img] * 3, -1), 0, 255).astype(np.uint8)
    luma = borders._luma(walls)
    assert borders._copy_match(luma, k) >= borders.COPY_MATCH  # what the scale check is for
    assert borders.find_copy_sides(walls) is None


@pytest.mark.skipif(FFMPEG is None, reason="needs the ffmpeg CLI to make the blurred-copy frame")
def test_a_file_published_over_a_blurred_copy_gives_the_model_the_picture(tmp_path):
    portrait, framed = tmp_path / "portrait.mp4", tmp_path / "blurbox.mp4"
    ffmpeg("-f", "lavfi", "-i", "testsrc2=s=270x480:r=25:d=6", "-c:v", "libx264", "-crf", "18",
           "-pix_fmt", "yuv420p", str(portrait))
    ffmpeg("-i", str(portrait), "-filter_complex",
           "split[fg][bg];[bg]scale=854:-2,crop=854:480,boxblur=20:2[b];[b][fg]overlay=(W-w)/2:0",
           "-c:v", "libx264", "-crf", "18", str(framed))
    times = [frame_times(Window(s, s + 2.0), 4.0) for s in (0.0, 4.0)]
    # Every frame decoded: the two encodings skip different B-frames, and the pattern moves fast.
    plain, _, none = inputs.read_model_frames(portrait, None, times, skip_b_frames=False)
    assert none is None
    cut, _, bars = inputs.read_model_frames(framed, None, times, skip_b_frames=False)
    stretched, _, _ = inputs._read_frames(framed, None, times, skip_b_frames=False)
    assert bars is not None and bars.y == 0 and bars.kept[0] == pytest.approx(270 / 854, abs=0.01)
    diff = np.abs(cut.astype(int) - plain.astype(int)).mean()
    assert diff < 8, diff
    assert np.abs(stretched.astype(int) - plain.astype(int)).mean() > 4 * diff


@pytest.mark.skipif(FFMPEG is None, reason="needs the ffmpeg CLI to make the blurred-copy frame")
def test_the_copy_test_looks_at_a_few_frames_first_and_decodes_again_only_for_a_copy(tmp_path, monkeypatch):
    portrait, framed, backdrop = tmp_path / "portrait.mp4", tmp_path / "blurbox.mp4", tmp_path / "backdrop.mp4"
    ffmpeg("-f", "lavfi", "-i", "testsrc2=s=270x480:r=25:d=6", "-c:v", "libx264", "-crf", "18",
           "-pix_fmt", "yuv420p", str(portrait))
    ffmpeg("-i", str(portrait), "-filter_complex",
           "split[fg][bg];[bg]scale=854:-2,crop=854:480,boxblur=20:2[b];[b][fg]overlay=(W-w)/2:0",
           "-c:v", "libx264", "-crf", "18", str(framed))
    # A softly graded backdrop: as plain as a copy's sides, but neither the picture scaled up nor a flat bar.
    ffmpeg("-i", str(portrait), "-f", "lavfi", "-i",
           "color=c=gray:s=854x480:r=25:d=6,format=yuv420p,geq=lum='100+40*Y/H':cb=128:cr=128",
           "-filter_complex", "[1][0]overlay=(W-w)/2:0", "-c:v", "libx264", "-crf", "18", str(backdrop))
    times = [frame_times(Window(s, s + 2.0), 4.0) for s in (0.0, 1.0, 2.0, 4.0)]  # 32 frames
    assert inputs.copy_probe_per(times) == 4 and inputs.copy_probe_per(times[:1]) >= len(times[0])
    calls: list[tuple[int, int, int]] = []
    read = inputs._read_frames

    def counted(path, index, ts, size=(inputs.FRAME_WIDTH, inputs.FRAME_HEIGHT), skip_b_frames=True, probe=(0, (0, 0)), whole=None):
        got = read(path, index, ts, size, skip_b_frames, probe, whole)
        calls.append((sum(map(len, ts)), size[0], 0 if got[2] is None else len(got[2])))
        return got

    monkeypatch.setattr(inputs, "_read_frames", counted)
    large = borders.COPY_SCALE * inputs.FRAME_WIDTH
    _, _, bars = inputs.read_model_frames(backdrop, None, times, skip_b_frames=False)
    assert bars is None
    one = (1, inputs.FRAME_WIDTH, 0)  # the middle window's first frame, looked at for bars first
    assert calls == [one, (32, inputs.FRAME_WIDTH, 16)]  # turned down on the probe frames: decoded once
    calls.clear()
    _, _, bars = inputs.read_model_frames(framed, None, times, skip_b_frames=False)
    assert bars is not None and bars.kept[0] == pytest.approx(270 / 854, abs=0.01)
    assert calls == [one, (32, inputs.FRAME_WIDTH, 16), (32, large, 0)]
    calls.clear()
    white = tmp_path / "white.mp4"
    ffmpeg("-i", str(portrait), "-vf", "pad=854:480:(ow-iw)/2:0:white", "-c:v", "libx264", "-crf", "18", str(white))
    _, _, bars = inputs.read_model_frames(white, None, times, skip_b_frames=False)
    assert bars is not None and bars.kept[0] == pytest.approx(270 / 854, abs=0.01)
    assert calls[0] == one and len(calls) == 2 and calls[1][0] == calls[1][2] == 32  # bars: one decode, both sizes
    calls.clear()
    _, _, bars = inputs.read_model_frames(framed, None, times[:1], skip_b_frames=False)  # one window: as --plot reads
    assert bars is not None and calls == [(8, inputs.FRAME_WIDTH, 0), (8, large, 0)]
    # The probe is loose (a few frames can fall short), the cut strict.
    near = (borders.COPY_DETAIL + 0.02, borders.COPY_MATCH - 0.1, borders.COPY_MATCH - 0.1 - borders.COPY_MARGIN + 0.05)
    assert borders.is_copy(*near, slack=borders.PROBE_SLACK) and not borders.is_copy(*near)
