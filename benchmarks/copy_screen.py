"""How close do files come to being cut as a picture over a blurred copy of itself?

    python benchmarks/copy_screen.py bench_out/val3_a [bench_out/val3_b ...]

For every scene_*.mp4 in each folder, runs `check`'s own preparation (`inputs.prepare`, so the
frames are exactly the ones `check` reads) and records, from `stereofix.borders`: the screen value
on the model-size frames (the outer tenths' detail against the middle's, the smaller of columns and
rows), and, for files that pass the screen, what the seam fit found on each axis (cut share, the
sides' detail against the picture's, the copy correlation there) and whether a cut was made. Used to
check that the validation clips as rendered are never cut (so the calibration stands) and to see
the margin to the thresholds (README "Design notes").
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from stereofix import borders, inputs
from stereofix.models import FlipConfig


def seam_fit(luma: np.ndarray) -> tuple[float, float, float]:
    """(cut share, sides' detail / picture's, copy correlation) at `check`'s seam fit."""
    k, ratio = borders.seam_fit(borders._detail(luma))
    return k / luma.shape[-1], ratio, borders._copy_match(luma, k)


def main() -> None:
    screens: list[float] = []
    fits: list[tuple] = []
    might, find = borders.might_have_copy, borders.find_copy_sides

    def spy_screen(frames):
        luma = borders._luma(frames)
        screens.append(min(borders._edge_ratio(borders._detail(v)) for v in (luma, luma.swapaxes(1, 2))))
        return might(frames)

    def spy_find(frames):
        bars = find(frames)
        luma = borders._luma(frames)
        fits.append((bars, seam_fit(luma), seam_fit(luma.swapaxes(1, 2))))
        return bars

    borders.might_have_copy, borders.find_copy_sides = spy_screen, spy_find
    cfg = FlipConfig()
    for folder in map(Path, sys.argv[1:]):
        screens.clear()
        fits.clear()
        for path in sorted(folder.glob("scene_*.mp4")):
            inputs.prepare(path, (cfg.fps, cfg.n_samples))
        s = np.array(screens)
        passing = [m for _, *axes in fits for _, ratio, m in axes if ratio < borders.COPY_DETAIL]
        print(f"{folder}: {s.size} files reached the picture, {int((s < borders.COPY_SCREEN).sum())} passed the "
              f"screen (lowest {s.min():.3f}), {sum(b is not None for b, *_ in fits)} cut; seam fits passing the "
              f"detail test: {len(passing)}, their highest copy correlation "
              f"{max(passing) if passing else float('nan'):.2f} (needed {borders.COPY_MATCH})", flush=True)
        for bars, cols, rows in fits:
            print(f"  cut {bars}  columns {cols}  rows {rows}")


if __name__ == "__main__":
    main()
