"""What the model's own codes say about the must-abstain validation clips it decides (a diagnosis).

    python benchmarks/leak_support.py [--weights weights/flip-v1.pt] [--cache bench_out/cache_val3]
        [--clips bench_out/val3_a ...]

For every validation clip (decoded once into `train calibrate --cache`), runs the calibrated model
as `check` does and also reads, per clip, the gate's pre-activation (how sure the picture is that
the sounding thing is in view; the mean of the straight and mirrored passes), |alpha| (how far to
one side the sound is) and how far the straight and mirrored passes disagree about the clip (the
model's own doubt). Prints how well each tells clear-sided clips from must-abstain ones (AUC),
and where the must-abstain clips the calibration decides sit among the decided clear-sided ones:
if they sit in the middle, no clip-level threshold on that code can remove them without taking
clear-sided clips with them. Validation only; the benchmark splits are never read.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from stereofix.infer import Analyzer  # noqa: E402
from stereofix.train.calibrate import ABSTAIN_TYPES, cached_inputs, is_clear  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = [ROOT / "bench_out" / f"val3_{x}" for x in "abcde"]


def clip_codes(an: Analyzer, inputs) -> dict[str, float]:
    """Clip confidence as `check` computes it, and the clip's mean gate pre-activation and |alpha|."""
    m, cal = an.model, an.calibration
    fr = torch.from_numpy(inputs.frames).permute(0, 1, 4, 2, 3).float() / 255.0
    au, ft = torch.from_numpy(inputs.audio), torch.from_numpy(inputs.frame_offsets)
    with torch.inference_mode():
        # predict's logit is the mean of these two passes (tested in test_model.py): no third pass.
        la, a = m(fr, au, return_parts=True, frame_times=ft)
        lb, b = m(fr.flip(-1), au.flip(1), return_parts=True, frame_times=ft)
    logits = 0.5 * (la + lb)
    p = float(torch.sigmoid(cal.clip_scale * logits.mean() / cal.window_temperature))
    gate = 0.5 * (a["gate_logit"].mean() + b["gate_logit"].mean())
    # How far the straight and mirrored passes disagree about the clip (0: the same answer).
    sa, sb = float(la.mean()), float(lb.mean())
    mirror = abs(sa - sb) / (abs(sa) + abs(sb) + 1e-9)
    return {"conf": max(p, 1 - p), "gate": float(gate), "alpha": float(a["alpha"].norm(dim=-1).mean()), "mirror": mirror}


def auc(pos: np.ndarray, neg: np.ndarray) -> float:
    """P(a positive scores above a negative), ties half."""
    return float(((pos[:, None] > neg[None, :]).mean() + 0.5 * (pos[:, None] == neg[None, :]).mean()))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--weights", type=Path, default=None)
    ap.add_argument("--cache", type=Path, default=ROOT / "bench_out" / "cache_val3")
    ap.add_argument("--clips", type=Path, action="append", default=None)
    args = ap.parse_args()
    torch.set_num_threads(1)
    an = Analyzer.load(args.weights, "cpu")
    an.model.eval()
    rows = []
    for folder in args.clips or FOLDERS:
        for sc in json.loads((folder / "manifest.json").read_text())["scenes"]:
            inputs = cached_inputs(folder / sc["file"], an, args.cache)
            if inputs.live:
                rows.append({"clip": f"{folder.name}/{sc['file']}", "type": sc["scene_type"],
                             "clear": is_clear(sc["scene_type"], int(sc.get("side", 0))), **clip_codes(an, inputs)})
    clear = [r for r in rows if r["clear"]]
    must = [r for r in rows if r["type"] in ABSTAIN_TYPES]
    decide = an.calibration.decide
    print(f"{len(clear)} clear-sided and {len(must)} must-abstain scenes (one orientation each: the codes are swap-even)")
    for k in ("gate", "alpha", "mirror"):
        c, m = np.array([r[k] for r in clear]), np.array([r[k] for r in must])
        print(f"{k}: AUC clear-sided over must-abstain {auc(c, m):.3f}")
    dec = [r for r in clear if r["conf"] >= decide]
    for k in ("gate", "alpha", "mirror"):
        v = np.array([r[k] for r in dec])
        print(f"decided clear-sided {k}, percentiles 5/25/50/75/95: " + " / ".join(f"{x:.2f}" for x in np.percentile(v, [5, 25, 50, 75, 95])))
    for r in sorted((r for r in must if r["conf"] >= decide), key=lambda r: -r["conf"]):
        below = {k: np.mean([d[k] < r[k] for d in dec]) for k in ("gate", "alpha", "mirror")}
        print(f"decided {r['type']} {r['clip']}: p {r['conf']:.3f}, gate {r['gate']:.2f} (above {100 * below['gate']:.0f}% of "
              f"decided clear-sided), |alpha| {r['alpha']:.1f} (above {100 * below['alpha']:.0f}%), "
              f"mirror {r['mirror']:.3f} (above {100 * below['mirror']:.0f}%)")


if __name__ == "__main__":
    main()
