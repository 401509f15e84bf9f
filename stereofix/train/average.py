"""Average the weights of a model and its fine-tuned descendant ("WiSE-FT", Wortsman et al. 2022).

    stereofix train average runs/flip-v2/best.pt runs/flip-v4/final.pt --weight 0.5 --out runs/avg.pt

A fine-tune on one kind of scene (10 s clips, more distractors) trades some of what the starting
model knew for what it learns; interpolating the two sets of parameters keeps both, in one network
that costs nothing more to run. It only makes sense for two checkpoints of the same network where
one was fine-tuned from the other (they share a basin); the network config is checked, the lineage
cannot be. Batch-norm running statistics are averaged like the rest; integer buffers (batch counts) are
taken from the fine-tuned model.
"""

from __future__ import annotations

from pathlib import Path

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
    if FlipConfig.from_dict(a.get("config", {})) != cfg or a["state_dict"].keys() != b["state_dict"].keys():
        raise InputError(f"{base} and {tuned}: not the same network, cannot be averaged")
    # One config gives one set of shapes; load_state_dict below refuses anything else.
    state = {k: (1.0 - weight) * va + weight * b["state_dict"][k] if va.is_floating_point() else b["state_dict"][k]
             for k, va in a["state_dict"].items()}
    model = FlipNet(cfg)
    model.load_state_dict(state)
    meta = {"averaged": {"base": str(base), "tuned": str(tuned), "weight": weight}}
    return save_checkpoint(out, model, meta=meta)
