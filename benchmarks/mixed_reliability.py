"""How often a `mixed` verdict is right at the probability it is given (validation only).

    python benchmarks/mixed_reliability.py --scores runs/s33r/val_scores.json [--weights weights/flip-v1.pt]

Reads the window scores `stereofix train calibrate --scores FILE` saved for the validation clips
(with their window times) and applies the calibration in the weights file, as `check` does, to

- the clear-sided clips themselves: any `mixed` there is wrong (nothing in them is exchanged);
- their half-swapped copies, simulated as calibration does (`train.calibrate.half_swapped`): a
  `mixed` is right when its flipped stretches cover the exchanged half (`stretches_right`: overlap
  over union at least 1/2), the test calibration fits the probability of `mixed` with.

Then prints, per band of the probability given with `mixed`, how many were right. These are the
clips the map was fitted on, so this checks the fit, not how it generalises. The share of
half-swapped files among all files is this set's, not the world's, so the figures say how the
probability ranks, not what it means for a user's library. The benchmark splits are never read.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from stereofix.train.calibrate import ClipScore, half_swapped, is_clear, stretches_right, windows_of  # noqa: E402
from stereofix.verdict import Calibration, decide  # noqa: E402
from stereofix.weights import REPO_WEIGHTS, load_checkpoint  # noqa: E402

BANDS = ((0.5, 0.95), (0.95, 0.99), (0.99, 1.01))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scores", type=Path, required=True, help="val_scores.json written by `train calibrate --scores`.")
    ap.add_argument("--weights", type=Path, default=REPO_WEIGHTS / "flip-v1.pt")
    args = ap.parse_args()
    cal = Calibration.from_dict(load_checkpoint(args.weights).get("calibration"))
    body = json.loads(args.scores.read_text())
    called: list[tuple[str, float, bool]] = []  # (which copy, probability given, right)
    for clips in body["by_folder"].values():
        for c in clips:
            s = ClipScore(**c)
            if not s.logits or not s.ends or not is_clear(s.scene_type, s.side):
                continue
            v = decide(windows_of(s), cal)
            if v.verdict == "mixed":
                called.append(("clear-sided", v.probability, False))
            if s.flipped:
                continue  # one half-swapped copy per scene, as the benchmark makes
            v = decide(half_swapped(s), cal)
            if v.verdict == "mixed":
                called.append(("half-swapped", v.probability, stretches_right(v.stretches, s)))
    print(f"calibration: segment decide {cal.segment_decide}, clip scale {cal.clip_scale:.4f}")
    for kind in ("clear-sided", "half-swapped"):
        rows = [(p, ok) for k, p, ok in called if k == kind]
        if rows:
            print(f"  {kind}: {len(rows)} called mixed, {sum(ok for _, ok in rows)} right, mean probability given "
                  f"{np.mean([p for p, _ in rows]):.3f}")
    for lo, hi in BANDS:
        band = [(p, ok) for _, p, ok in called if lo <= p < hi]
        if band:
            print(f"  probability in [{lo}, {min(hi, 1.0)}]: {len(band)} mixed verdicts, mean given "
                  f"{np.mean([p for p, _ in band]):.3f}, {np.mean([ok for _, ok in band]):.1%} right")


if __name__ == "__main__":
    main()
