"""How close do files come to being cut as a picture over a blurred copy of itself?

    python benchmarks/copy_screen.py bench_out/val3_a [bench_out/val3_b ...] [--json F] [--without-scale-check]

For every scene_*.mp4 in each folder, runs `check`'s own preparation (`inputs.prepare`, so the
frames are exactly the ones `check` reads) and records, from `stereofix.borders`: the screen value
on the model-size frames (the outer tenths' detail against the middle's, the smaller of columns and
rows), and, for files that pass the screen, what the seam fit found on each axis (cut share, the
sides' detail against the picture's, the copy correlation there, and the correlation with the
picture unscaled, which the scale check compares it with) and whether a cut was made; the same
statistics at the model's size for every file. Where the probe frames (inputs.copy_probe_per)
showed a copy and every frame was then read larger, `probe` holds the probe's fits and `large`
the final ones. Used to check that the validation clips as rendered
are never cut (so the calibration stands) and to see the margin to the thresholds (README "Design
notes"). With --without-scale-check it runs the rule from before the scale check and prints what
the rule with it makes of the same files.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from stereofix import borders, inputs
from stereofix.models import FlipConfig


def seam_fit(luma: np.ndarray) -> tuple[float, float, float, float]:
    """(cut share, sides' detail / picture's, copy correlation, the same unscaled) at `check`'s seam fit."""
    k, ratio = borders.seam_fit(borders._detail(luma))
    return k / luma.shape[-1], ratio, borders._copy_match(luma, k), borders._copy_match(luma, k, 1.0)


def axes(frames: np.ndarray) -> tuple[tuple, tuple]:
    """seam_fit on columns and on rows."""
    luma = borders._luma(frames)
    return seam_fit(luma), seam_fit(luma.swapaxes(1, 2))


def shipped_rule(rec: dict, margin: float, screen_match: float = -2.0) -> tuple[bool, list[float] | None]:
    """(decoded again, cut) that `borders.is_copy` with `margin` gives a file, from the statistics a
    run with the scale check switched off recorded (that run decodes again every file this rule
    would, and more). `screen_match` replays the copy correlation at the model's size tried as a
    screen in session 26 (README "Design notes"); the default leaves it out, as `check` does."""
    if "screen" not in rec:
        return False, None
    if not any(rec["screen"][a] < borders.COPY_SCREEN and rec["small"][a][2] >= screen_match for a in (0, 1)):
        return False, None
    for a in (0, 1):
        share, ratio, cover, unscaled = rec["large"][a]
        if borders.is_copy(ratio, cover, unscaled, margin):
            return True, [share, 0.0] if a == 0 else [0.0, share]
    return True, None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("folders", type=Path, nargs="+")
    ap.add_argument("--json", type=Path, default=None, help="Write every file's statistics here.")
    ap.add_argument("--without-scale-check", action="store_true",
                    help="The rule before session 26 (no scale check), to compare; prints what the rule with it makes of the same files.")
    args = ap.parse_args()
    shipped = borders.COPY_MARGIN
    if args.without_scale_check:
        borders.COPY_MARGIN = -2.0
    screens: list[list[float]] = []  # per file: columns, rows
    small: list[tuple] = []
    fits: list[tuple] = []
    might, find = borders.might_have_copy, borders.find_copy_sides

    def spy_screen(frames):
        luma = borders._luma(frames)
        screens.append([borders._edge_ratio(borders._detail(v)) for v in (luma, luma.swapaxes(1, 2))])
        small.append(axes(frames))
        return might(frames)

    def spy_find(frames, *slack):
        bars = find(frames, *slack)
        fits.append((bars, *axes(frames)))
        return bars

    borders.might_have_copy, borders.find_copy_sides = spy_screen, spy_find
    cfg = FlipConfig()
    records = []
    for folder in args.folders:
        screens.clear()
        small.clear()
        fits.clear()
        n_large = 0
        for path in sorted(folder.glob("scene_*.mp4")):
            before = (len(screens), len(fits))
            inputs.prepare(path, (cfg.fps, cfg.n_samples, 0.0))
            rec = {"folder": str(folder), "file": path.name}
            if len(screens) > before[0]:
                rec.update(screen=screens[-1], small=small[-1])
            if len(fits) > before[1]:
                bars, cols, rows = fits[-1]
                n_large += 1
                rec.update(cut=None if bars is None else [bars.x, bars.y], large=[cols, rows])
            if len(fits) > before[1] + 1:  # the probe frames showed a copy: all were read again
                bars, cols, rows = fits[before[1]]
                rec.update(probe_cut=None if bars is None else [bars.x, bars.y], probe=[cols, rows])
            records.append(rec)
        s = np.array(screens).min(axis=1)
        passing = [m for _, *ax in fits for _, ratio, m, _u in ax if ratio < borders.COPY_DETAIL]
        here = [r for r in records if r["folder"] == str(folder)]
        n_all = sum("probe" in r for r in here)
        print(f"{folder}: {s.size} files reached the picture, {int((s < borders.COPY_SCREEN).sum())} passed the "
              f"detail screen (lowest {s.min():.3f}), {n_large} looked at larger ({n_all} of them decoded again "
              f"after their probe frames may have shown a copy), {sum(bool(r.get('cut')) for r in here)} cut; "
              f"seam fits passing the "
              f"detail test: {len(passing)}, their highest copy correlation "
              f"{max(passing) if passing else float('nan'):.2f} (needed {borders.COPY_MATCH})", flush=True)
        for bars, cols, rows in fits:
            print(f"  cut {bars}  columns {np.round(cols, 3).tolist()}  rows {np.round(rows, 3).tolist()}")
        if args.without_scale_check:  # what the shipped rule makes of the same files
            here = [(r, shipped_rule(r, shipped)) for r in records if r["folder"] == str(folder)]
            lost = [r["file"] for r, (_, cut) in here if r.get("cut") and cut != r["cut"]]
            gained = [r["file"] for r, (_, cut) in here if cut and not r.get("cut")]
            print(f"  with the scale check: {sum(d for _, (d, _) in here)} decoded again, "
                  f"{sum(c is not None for _, (_, c) in here)} cut; cuts lost or moved: {lost}; new cuts: {gained}")
    if args.json:
        args.json.write_text(json.dumps(records, indent=0, default=float))


if __name__ == "__main__":
    main()
