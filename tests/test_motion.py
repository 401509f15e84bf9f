"""Camera motion compensation of the picture's motion channel (stereofix.motion)."""

import pytest
import torch
import torch.nn.functional as F

from stereofix.models import FlipConfig, FlipNet
from stereofix.motion import aligned_previous, global_shift

H, W = 72, 128


def _scene(seed: int = 0) -> torch.Tensor:
    """[3, 200, 300] a smooth textured picture, larger than a frame, to crop shifted frames from."""
    g = torch.Generator().manual_seed(seed)
    return F.interpolate(torch.rand(1, 3, 40, 60, generator=g), size=(200, 300), mode="bilinear", align_corners=False)[0]


def _shifted(picture: torch.Tensor, dy: float, dx: float) -> torch.Tensor:
    """The picture moved by (dy, dx) pixels (content goes down/right for positive values)."""
    h, w = picture.shape[-2:]
    theta = torch.tensor([[[1.0, 0.0, -2.0 * dx / w], [0.0, 1.0, -2.0 * dy / h]]])
    grid = F.affine_grid(theta, [1, *picture.shape], align_corners=False)
    return F.grid_sample(picture[None], grid, align_corners=False, padding_mode="border")[0]


def _pan(steps: list[tuple[float, float]]) -> torch.Tensor:
    """[1, T, 3, H, W]: frames cut from one scene by a camera that moves by `steps` between frames."""
    big = _scene()
    y, x, frames = 0.0, 0.0, []
    for dy, dx in [(0.0, 0.0), *steps]:
        y, x = y + dy, x + dx
        frames.append(_shifted(big, y, x)[:, 60:60 + H, 80:80 + W])
    return torch.stack(frames)[None]


@pytest.mark.parametrize("dy, dx", [(3.0, -5.0), (-1.5, 2.5), (0.0, 7.25)])
def test_global_shift_finds_the_camera_translation(dy, dx):
    f = _pan([(dy, dx)])[0].mean(1)
    est = global_shift(f[:1], f[1:])[0]
    assert abs(est[0] - dy) < 0.35 and abs(est[1] - dx) < 0.35, est


def test_no_translation_stands_out_in_unrelated_or_identical_pictures():
    g = torch.Generator().manual_seed(1)
    a, b = torch.rand(4, H, W, generator=g), torch.rand(4, H, W, generator=g)
    assert torch.equal(global_shift(a, b), torch.zeros(4, 2))  # a cut, not a camera move
    assert torch.equal(global_shift(a, a), torch.zeros(4, 2))


def test_aligned_previous_takes_the_shake_out_and_leaves_a_still_camera_alone():
    shaky = _pan([(2.0, -3.0), (-1.0, 4.5), (0.5, -2.0)])
    prev = aligned_previous(shaky)
    inner = (..., slice(10, -10), slice(10, -10))  # edges take in new picture
    raw = (shaky[:, 1:] - shaky[:, :-1])[inner].abs().mean()
    left = (shaky[:, 1:] - prev[:, 1:])[inner].abs().mean()
    assert left < raw / 5, (left, raw)
    assert torch.equal(prev[:, 0], shaky[:, 0])
    still = shaky[:, :1].repeat(1, 4, 1, 1, 1)
    still[:, 2, :, 20:30, 40:50] += 0.3  # something moves in front of a still camera
    assert torch.equal(aligned_previous(still)[:, 1:], still[:, :-1])  # the plain previous frame


def test_aligned_previous_mirrors_with_the_picture():
    """predict's mirrored pass reuses the straight pass's input: mirroring must commute."""
    shaky = _pan([(1.0, 2.5), (-2.0, -1.0)])
    assert torch.allclose(aligned_previous(shaky.flip(-1)).flip(-1), aligned_previous(shaky), atol=1e-4)


def test_stabilized_model_keeps_predict_equal_to_the_two_pass_average():
    torch.manual_seed(5)
    model = FlipNet(FlipConfig(stabilize=True)).eval()
    frames = _pan([(1.0, 2.0 * (-1) ** k) for k in range(model.cfg.n_frames - 1)])
    audio = torch.randn(1, 2, model.cfg.n_samples) * 0.1
    plain = FlipNet(FlipConfig()).eval()
    plain.load_state_dict(model.state_dict())  # no parameters of its own
    with torch.no_grad():
        two_pass = 0.5 * (model(frames, audio) + model(frames.flip(-1), audio.flip(1)))
        assert torch.allclose(model.predict(frames, audio), two_pass, atol=1e-4, rtol=1e-4)
        assert not torch.allclose(model(frames, audio), plain(frames, audio))  # the shake is taken out


def test_a_subject_crossing_a_smooth_background_is_not_taken_for_the_camera():
    """A sharp-edged dark disc moving 4 px per frame over a smooth, still background (a face walking
    across a plain room): phase correlation alone finds the disc's motion, which would be warped away
    as camera shake and light up the background instead. Only one half of the picture shows it."""
    yy, xx = torch.meshgrid(torch.arange(H, dtype=torch.float32), torch.arange(W, dtype=torch.float32), indexing="ij")
    background = 0.6 + 0.3 * torch.exp(-(((xx - 100) / 25) ** 2 + ((yy - 30) / 20) ** 2))
    frames = []
    for k in range(4):
        disc = ((xx - (50 - 4 * k)) ** 2 + (yy - 36) ** 2) < 12 ** 2
        frames.append(torch.where(disc, torch.full_like(background, 0.1), background))
    grey = torch.stack(frames)
    assert torch.equal(global_shift(grey[:-1], grey[1:]), torch.zeros(3, 2))
    moving = grey[None, :, None].repeat(1, 1, 3, 1, 1)
    assert torch.equal(aligned_previous(moving)[:, 1:], moving[:, :-1])  # the plain previous frame
