"""How often a `mixed` verdict is right at the probability it is given (validation only).

    python benchmarks/mixed_reliability.py --scores runs/s33r/val_scores.json [--weights weights/flip-v1.pt]

Reads the window scores `stereofix train calibrate --scores FILE` saved for the validation clips
(with their window times) and applies the calibration in the weights file, as `check` does, to

- the clear-sided clips themselves: any `mixed` there is wrong (nothing in them is exchanged);
- their half-swapped copies, simulated as calibration does (`train.calibrate.half_swapped`): a
  `mixed` is right when its flipped stretches cover the exchanged half (`stretches_right`: overlap
  over union at least 1/2), the test calibration fits the probability of `mixed` with.

Then prints, per band of the probability given with `mixed`, how many were right. These are the
clips the map was fitted on, so this checks the fit, not how it generalises; the same bands are
then printed cross-fitted: the map refitted (`train.calibrate._fit_platt`, as calibration fits it)
on the scenes of one half of the validation folders and applied to the other half's, both ways
round, so each verdict's probability comes from a map that never saw it (the stretch threshold
stays the shipped one). The share of
half-swapped files among all files is this set's, not the world's, so the figures say how the
probability ranks, not what it means for a user's library. The benchmark splits are never read.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from stereofix.train.calibrate import ClipScore, _fit_platt, half_swapped, is_clear, stretches_right, windows_of  # noqa: E402
from stereofix.verdict import Calibration, decide, logit, mixed_probability  # noqa: E402
from stereofix.weights import REPO_WEIGHTS, load_checkpoint  # noqa: E402

BANDS = ((0.5, 0.95), (0.95, 0.99), (0.99, 1.01))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scores", type=Path, required=True, help="val_scores.json written by `train calibrate --scores`.")
    ap.add_argument("--weights", type=Path, default=REPO_WEIGHTS / "flip-v1.pt")
    args = ap.parse_args()
    cal = Calibration.from_dict(load_checkpoint(args.weights).get("calibration"))
    body = json.loads(args.scores.read_text())
    called = mixed_calls(body, cal)
    print(f"calibration: segment decide {cal.segment_decide}, clip scale {cal.clip_scale:.4f}")
    for kind in ("clear-sided", "half-swapped"):
        rows = [(p, ok) for k, p, ok, _ in called if k == kind]
        if rows:
            print(f"  {kind}: {len(rows)} called mixed, {sum(ok for _, ok in rows)} right, mean probability given "
                  f"{np.mean([p for p, _ in rows]):.3f}")
    print("  in-sample (the shipped map, fitted on these verdicts):")
    print_bands([(p, ok) for _, p, ok, _ in called])
    # Cross-fitted: the raw sureness (identity map) refitted on one half of the folders, applied to the other.
    raw = mixed_calls(body, replace(cal, mixed_scale=1.0, mixed_bias=0.0))
    folders = sorted({f for *_, f in raw})
    halves = (set(folders[::2]), set(folders[1::2]))
    crossed = []
    for fit_on, apply_to in (halves, halves[::-1]):
        fit = _fit_platt(np.array([logit(q) for _, q, _, f in raw if f in fit_on]),
                         np.array([float(ok) for _, _, ok, f in raw if f in fit_on]))
        if fit is None:
            print("  cross-fitted: too few mixed verdicts in a half to fit")
            return
        mapped = replace(cal, mixed_scale=fit[0], mixed_bias=fit[1])
        crossed += [(mixed_probability(q, mapped), ok) for _, q, ok, f in raw if f in apply_to]
    print(f"  cross-fitted (map fitted on {sorted(halves[0])} applied to the rest, and the other way round):")
    print_bands(crossed)


def mixed_calls(body: dict, cal: Calibration) -> list[tuple[str, float, bool, str]]:
    """Every `mixed` verdict on the clear-sided clips and their half-swapped copies: (which copy,
    probability given, right, folder)."""
    called: list[tuple[str, float, bool, str]] = []
    for folder, clips in body["by_folder"].items():
        for c in clips:
            s = ClipScore(**c)
            if not s.logits or not s.ends or not is_clear(s.scene_type, s.side):
                continue
            v = decide(windows_of(s), cal, s.sync)
            if v.verdict == "mixed":
                called.append(("clear-sided", v.probability, False, folder))
            if s.flipped:
                continue  # one half-swapped copy per scene, as the benchmark makes
            v = decide(half_swapped(s), cal, s.sync)
            if v.verdict == "mixed":
                called.append(("half-swapped", v.probability, stretches_right(v.stretches, s), folder))
    return called


def print_bands(rows: list[tuple[float, bool]]) -> None:
    for lo, hi in BANDS:
        band = [(p, ok) for p, ok in rows if lo <= p < hi]
        if band:
            print(f"    probability in [{lo}, {min(hi, 1.0)}]: {len(band)} mixed verdicts, mean given "
                  f"{np.mean([p for p, _ in band]):.3f}, {np.mean([ok for _, ok in band]):.1%} right")


if __name__ == "__main__":
    main()
