"""Calibrate a network with short files tiled another way (README "Design notes", session 29).

    python benchmarks/calibrate_tiling.py --hop 1/6 --factor 1.5 -- weights/flip-v1.pt \
        --clips bench_out/val3_a ... --clips bench_out/val3_e --cache bench_out/cache_val3_dense \
        --out runs/cal_dense.pt --scores runs/scores_dense.json

Sets `windows.SHORT_HOP` and `windows.SHORT_WINDOWS_FACTOR` for this process only, then runs
`stereofix train calibrate` with the remaining arguments, so a tiling can be scored on validation
before it is made the default. The cache is keyed by the tiling; use a scores file of its own.
Validation only.
"""

from __future__ import annotations

import argparse
import sys
from fractions import Fraction
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from stereofix import windows  # noqa: E402
from stereofix.entry import main as stereofix_main  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--hop", type=Fraction, default=Fraction(windows.SHORT_HOP),
                    help="Short-file hop, as a share of a window (a fraction such as 1/6 is exact, as the cache key needs).")
    ap.add_argument("--factor", type=float, default=windows.SHORT_WINDOWS_FACTOR, help="Short-file window cap, times the cap.")
    ap.add_argument("calibrate_args", nargs=argparse.REMAINDER, help="Arguments for `stereofix train calibrate` (after --).")
    args = ap.parse_args()
    windows.SHORT_HOP = args.hop.numerator / args.hop.denominator
    windows.SHORT_WINDOWS_FACTOR = args.factor
    rest = [a for a in args.calibrate_args if a != "--"]
    sys.argv = ["stereofix", "train", "calibrate", *rest]
    stereofix_main()


if __name__ == "__main__":
    main()
