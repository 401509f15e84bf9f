"""Camera motion taken out of the picture's motion channel.

The visual encoder sees each frame and its difference from the previous one. A hand-held camera
moves the whole picture between frames, so that difference lights up every edge and drowns the
motion of the thing that makes the sound (a mouth, a bow, a bounce of a few pixels); the sync term
then correlates the sound with noise. On the validation clips the shipped model abstains on 49% of
the clear-sided clips with camera shake and on 29% of those without (README "Design notes").

The fix is the old one: estimate the global translation between consecutive frames by phase
correlation (the whitened cross-spectrum's peak, refined to a fraction of a pixel) and warp the
previous frame onto the current one before taking the difference. A pan, a tremor and a drifting
crop are translations at this size (72 x 128). Where no translation stands out (a still camera,
a cut) the shift is zero and the difference is as before.

A camera move shifts the whole picture; a thing moving across it shifts one part. Phase correlation
whitens the spectrum, so a sharp-edged subject crossing a smooth background can own the peak: the
subject's own motion was then taken for the camera's and cancelled, the background lit up instead,
and the model credited the sound to the wrong side with full confidence (a face walking across the
picture in `test13`, README "Design notes"). So the shift is also estimated on the left and right
halves of the picture separately, and used only where both halves show it (within AGREE pixels):
when in doubt, the motion channel is left as the camera made it.

Mirroring both frames mirrors the estimated shift exactly, so `FlipNet.predict`'s mirrored pass
can keep reusing the straight pass's input.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

MAX_SHIFT = 0.125  # of the frame's size: larger jumps are cuts or content, not camera motion
MIN_PEAK = 0.08  # phase-correlation peak below which no translation stands out (noise is ~0.03)
MIN_SHIFT = 0.1  # pixels: a smaller move is left alone (the warp's interpolation would blur more than it fixes)
AGREE = 1.0  # pixels: how far each half's own shift may be from the whole picture's


def _window(h: int, w: int, device=None) -> torch.Tensor:
    return torch.hann_window(h, periodic=False, device=device)[:, None] * torch.hann_window(w, periodic=False, device=device)[None]


def _refine(r: torch.Tensor, idx: torch.Tensor, dim: int) -> torch.Tensor:
    """Sub-pixel offset of the peak along `dim` (parabola through the peak and its neighbours)."""
    n = r.shape[dim]
    at = lambda k: r.gather(dim, ((idx + k) % n).unsqueeze(dim)).squeeze(dim)  # noqa: E731
    lo, c, hi = at(-1), at(0), at(1)
    den = lo - 2 * c + hi
    curved = den.abs() > 1e-9
    offset = 0.5 * (lo - hi) / torch.where(curved, den, torch.ones_like(den))
    return torch.where(curved, offset, torch.zeros_like(offset)).clamp(-0.5, 0.5)


def global_shift(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """[N, 2] (dy, dx) in pixels such that b(y, x) ~ a(y - dy, x - dx); zero where none stands out,
    or where the left and right halves of the picture do not both show it (a subject's own motion).

    a, b: [N, H, W] grey pictures.
    """
    h, w = a.shape[-2:]
    limit = (MAX_SHIFT * h, MAX_SHIFT * w)
    shift, ok = _phase_shift(a, b, limit)
    ok &= shift.abs().amax(-1) >= MIN_SHIFT
    moved = ok.nonzero().squeeze(1)  # the halves are looked at only where the whole picture moved
    if moved.numel():
        half, am, bm = w // 2, a[moved], b[moved]
        for part in (slice(0, half), slice(w - half, w)):
            own, own_ok = _phase_shift(am[..., part], bm[..., part], limit)
            ok[moved] &= own_ok & ((own - shift[moved]).abs() <= AGREE).all(-1)
    return shift * ok.unsqueeze(-1).to(a.dtype)


def _phase_shift(a: torch.Tensor, b: torch.Tensor, limit: tuple[float, float]) -> tuple[torch.Tensor, torch.Tensor]:
    """The phase-correlation peak's shift [N, 2] and whether it stands out within `limit` (dy, dx) [N]."""
    n, h, w = a.shape
    win = _window(h, w, a.device)
    fa = torch.fft.rfft2((a - a.mean((-1, -2), keepdim=True)) * win)
    fb = torch.fft.rfft2((b - b.mean((-1, -2), keepdim=True)) * win)
    cross = fb * fa.conj()
    r = torch.fft.irfft2(cross / (cross.abs() + 1e-9), s=(h, w))  # [N, H, W], peak at the shift
    flat = r.flatten(1)
    peak, pos = flat.max(-1)
    iy, ix = pos // w, pos % w
    rows = r.gather(2, ix.view(n, 1, 1).expand(n, h, 1)).squeeze(-1)  # [N, H]: the peak's column
    cols = r.gather(1, iy.view(n, 1, 1).expand(n, 1, w)).squeeze(1)  # [N, W]: the peak's row
    dy = iy.to(a.dtype) + _refine(rows, iy, 1)
    dx = ix.to(a.dtype) + _refine(cols, ix, 1)
    dy = torch.where(dy > h / 2, dy - h, dy)
    dx = torch.where(dx > w / 2, dx - w, dx)
    ok = (peak >= MIN_PEAK) & (dy.abs() <= limit[0]) & (dx.abs() <= limit[1])
    return torch.stack([dy, dx], -1), ok


def aligned_previous(frames: torch.Tensor) -> torch.Tensor:
    """Each frame's predecessor warped onto it by the camera's translation; the first frame's is itself.

    frames: [B, T, 3, H, W] float in [0, 1] -> the same shape.
    """
    b, t, c, h, w = frames.shape
    if t < 2:
        return frames
    prev, cur = frames[:, :-1].flatten(0, 1), frames[:, 1:].flatten(0, 1)
    shift = global_shift(prev.mean(1), cur.mean(1))  # [N, 2] pixels
    moved = (shift != 0).any(-1).nonzero().squeeze(1)
    warped = prev.clone()  # no camera motion: exactly the plain previous frame, and no warp to pay for
    if moved.numel():
        theta = torch.zeros(moved.numel(), 2, 3, dtype=frames.dtype, device=frames.device)
        theta[:, 0, 0] = theta[:, 1, 1] = 1.0
        theta[:, 0, 2] = -2.0 * shift[moved, 1] / w  # sample the previous frame at x - dx
        theta[:, 1, 2] = -2.0 * shift[moved, 0] / h
        grid = F.affine_grid(theta, [moved.numel(), c, h, w], align_corners=False)
        warped[moved] = F.grid_sample(prev[moved], grid, mode="bilinear", padding_mode="border", align_corners=False)
    return torch.cat([frames[:, :1], warped.reshape(b, t - 1, c, h, w)], dim=1)
