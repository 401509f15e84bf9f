"""The "where" objective: the synthesizer's truth of where the sounding thing is, taught directly.

The flip loss reaches the picture only through a product (audio side x picture side x gate), so it
says little about *which* visible object makes the sound. Every decided off-screen validation clip
had the same cause: a silent object in view (a speaker, a face, an instrument) took the credit for
a sound made outside the frame (README, "Design notes"). The synthesizer knows the answer, so this
objective supervises the two parts that decide it:

- the attention over the picture: -log of its mass on the sounding object(s) in view (the sprite's
  box on the model's 9 x 16 grid). Where inside the box it looks (a mouth, a hand, a string) is left
  to the model; that it looks at the sounding object and not at a silent one trains the looks and
  the sync term;
- the gate's pre-activation, ranked: a window whose sounding thing is in view should have a higher
  gate than one whose sound nothing in view makes (off-screen and noise-only scenes, often with
  silent objects in view); windows whose truth does not say are left out. A ranking (softplus of
  MARGIN minus the difference, over the batch's pairs) and not a cross-entropy, because the gate's
  level is already set by the trained network (its pre-activation sits near -3, the scale lives in
  the column code): pulling it to a classifier's 0/1 scale would undo the calibration, while the
  order is what keeps an off-screen sound from being credited.

Windows without truth (a user's own videos) carry NaN and add nothing; the objective is off unless
`train flip --where W` gives it a weight.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

MAX_SOUNDING = 2  # sounding objects tracked per window (two_opposite has two)
EDGE = 0.02  # a centre closer than this to the frame's edge is not a target (mostly out of view)
DEFAULT_SIZE = 0.35  # sprite side over the frame's shorter side, for truth written before "size"
NOTHING_IN_VIEW = ("offscreen", "noise_only")
MARGIN = 1.0  # gate pre-activation by which an in-view window should outrank a nothing-in-view one
TERMS = ("both", "attention", "gate")  # which of the two terms `train flip --where-terms` trains


def window_targets(truth: dict, frames: slice, n_frames: int) -> tuple[torch.Tensor, float]:
    """where [T, MAX_SOUNDING, 4]: centre (u, v) and half extents (hu, hv) in image coordinates of
    each visible sounding object, NaN where there is none or it is out of frame; and in_view (1.0,
    0.0, or NaN: not known)."""
    where = torch.full((n_frames, MAX_SOUNDING, 4), float("nan"))
    scene_type = truth.get("scene_type")
    if scene_type in NOTHING_IN_VIEW:
        return where, 0.0
    sounding = [o for o in truth.get("objects", []) if o.get("sounding") and o.get("visible")]
    if not sounding or len(sounding) > MAX_SOUNDING:
        return where, float("nan")
    h, w = truth.get("frame_size", (1, 1))
    zoom = float(np.mean(truth.get("camera", {}).get("zoom", [1.0])))
    for k, o in enumerate(sounding):
        u = np.asarray(o["u"], np.float32)[frames][:n_frames]
        v = np.asarray(o["v"], np.float32)[frames][:n_frames]
        side = float(o.get("size", DEFAULT_SIZE)) * min(h, w) * zoom
        inside = (u > EDGE) & (u < 1 - EDGE) & (v > EDGE) & (v < 1 - EDGE)
        box = np.stack([u, v, np.full_like(u, side / w / 2), np.full_like(u, side / h / 2)], -1)
        box[~inside] = np.nan
        where[: len(u), k] = torch.from_numpy(box)
    return where, 1.0


def mirror(where: torch.Tensor) -> torch.Tensor:
    """The targets of the mirrored picture."""
    out = where.clone()
    out[..., 0] = 1.0 - out[..., 0]
    return out


def on_target(where: torch.Tensor, height: int, width: int) -> tuple[torch.Tensor, torch.Tensor]:
    """[B, T, h, w] 1 on the grid cells a sounding object covers (a cell counts when its centre is
    within the box grown by half a cell), and [B, T] which frames have a target."""
    u, v, hu, hv = where.unbind(-1)  # [B, T, K]
    valid = ~torch.isnan(u)
    xs = (torch.arange(width, dtype=where.dtype, device=where.device) + 0.5) / width
    ys = (torch.arange(height, dtype=where.dtype, device=where.device) + 0.5) / height
    in_u = (xs.view(1, 1, 1, 1, width) - u.nan_to_num(-9.0)[..., None, None]).abs() <= hu.nan_to_num(0.0)[..., None, None] + 0.5 / width
    in_v = (ys.view(1, 1, 1, height, 1) - v.nan_to_num(-9.0)[..., None, None]).abs() <= hv.nan_to_num(0.0)[..., None, None] + 0.5 / height
    cover = (in_u & in_v & valid[..., None, None]).any(2)
    return cover.to(where.dtype), cover.flatten(-2).any(-1)


def where_loss(attention: torch.Tensor, gate_logit: torch.Tensor, where: torch.Tensor,
               in_view: torch.Tensor, terms: str = "both") -> tuple[torch.Tensor, dict[str, float]]:
    """-log(attention's mass on the sounding object) over frames with a target, plus the gate's
    ranking of in-view over nothing-in-view windows; each term a mean, zero when the batch has none.

    `terms` trains one of the two alone ("attention", "gate"); both are still reported, so a log shows
    how the untrained one drifts. Stages 17-22 (README) found the pair stops the off-screen leak but
    costs clear-sided confidence; training the gate's ranking alone asks which term does which.

    attention [B, T, h, w]; gate_logit [B, T]; where [B, T, K, 4]; in_view [B].
    """
    if terms not in TERMS:
        raise ValueError(f"terms must be one of {TERMS}, not {terms!r}")
    cover, has = on_target(where, attention.shape[-2], attention.shape[-1])
    mass = (attention * cover).sum((-1, -2))
    att_term = -mass[has].clamp_min(1e-6).log().mean() if has.any() else attention.sum() * 0.0
    g = gate_logit.mean(-1)
    g_in, g_out = g[in_view == 1.0], g[in_view == 0.0]
    if len(g_in) and len(g_out):
        gate_term = F.softplus(MARGIN - (g_in[:, None] - g_out[None, :])).mean()
    else:
        gate_term = gate_logit.sum() * 0.0
    total = (att_term if terms != "gate" else 0.0) + (gate_term if terms != "attention" else 0.0)
    return total, {"where_attention": float(att_term.detach()), "where_gate": float(gate_term.detach())}
