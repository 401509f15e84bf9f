"""Average the weights of a model and its fine-tuned descendant ("WiSE-FT", Wortsman et al. 2022).

    stereofix train average runs/flip-v2/best.pt runs/flip-v4/final.pt --weight 0.5 --out runs/avg.pt

A fine-tune on one kind of scene (10 s clips, more distractors) trades some of what the starting
model knew for what it learns; interpolating the two sets of parameters keeps both, in one network
that costs nothing more to run. It only makes sense for two checkpoints of the same network where
one was fine-tuned from the other (they share a basin); the network config is checked, the lineage
cannot be. Batch-norm running statistics are averaged like the rest; integer buffers (batch counts) are
taken from the fine-tuned model. A fine-tune that added an optional term (`--sync`, `--instant`,
`--onset`) started it from zero, so the base counts as the same network with that term at zero.
"""

from __future__ import annotations

from pathlib import Path

import torch

from stereofix.errors import InputError
from stereofix.models import FlipConfig, FlipNet
from stereofix.weights import load_checkpoint, save_checkpoint


def average_checkpoints(base: Path, tuned: Path, weight: float, out: Path) -> Path:
    """Write (1 - weight) * base + weight * tuned as a weights file (no calibration: run calibrate).

    Raises:
        InputError: weight outside [0, 1], or checkpoints of different networks.
    """
    if not 0.0 <= weight <= 1.0:
        raise InputError(f"--weight {weight:g}: must be between 0 and 1")
    a, b = load_checkpoint(base), load_checkpoint(tuned)
    cfg = FlipConfig.from_dict(b.get("config", {}))
    base_cfg = FlipConfig.from_dict(a.get("config", {}))
    base_state = _with_zero_terms(a["state_dict"], b["state_dict"]) if base_cfg != cfg else a["state_dict"]
    if base_cfg.with_terms_of(cfg) != cfg or base_state.keys() != b["state_dict"].keys():
        raise InputError(f"{base} and {tuned}: not the same network, cannot be averaged")
    # One config gives one set of shapes; load_state_dict below refuses anything else.
    state = {k: (1.0 - weight) * va + weight * b["state_dict"][k] if va.is_floating_point() else b["state_dict"][k]
             for k, va in base_state.items()}
    model = FlipNet(cfg)
    model.load_state_dict(state)
    meta = {"averaged": {"base": str(base), "tuned": str(tuned), "weight": weight}}
    return save_checkpoint(out, model, meta=meta)


def _with_zero_terms(state: dict, tuned: dict) -> dict:
    """The base's parameters with the tuned network's added terms at zero: the base's own function
    (each optional term adds nothing while its weights, or one factor of them, are zero)."""
    if any(k not in tuned for k in state):
        return state  # not a base of this network: the key check refuses it
    return {k: state[k] if k in state else torch.zeros_like(v) for k, v in tuned.items()}
