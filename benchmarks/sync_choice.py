"""How the picture-sound synchrony statistic (stereofix/sync.py) was chosen: validation only.

    python benchmarks/sync_choice.py --scores runs/s28/sync_scores.json --cache bench_out/cache_val3_hop0.25

Reads the validation clips' decoded model inputs from `train calibrate --cache` and their window
scores from `--scores`, computes variants of the statistic (cell size; the change of the sound's
level, of its square root or of its log) and, for each, the calibration rule's clear-sided
abstention with the gate picked from `calibrate.SYNC_GRID`: in sample, and cross-fitted over the
ten 3/2 splits of the five folders (gate and thresholds fitted on three, read on two). The shipped
statistic is the 16-pixel cells and the level's change less what chance gives (`-null_mean`),
chosen over the plain correlation for busy pictures (README "Design notes", session 28).
The benchmark splits are never read.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import types
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from stereofix.models import FlipConfig  # noqa: E402
from stereofix.sync import _best_cell, _level, frame_changes, null_shifts, pool_cells  # noqa: E402
from stereofix.train.calibrate import (  # noqa: E402
    ABSTAIN_TYPES, SYNC_GRID, _in_time_order, _passes, _split_sure, _thresholds, cached_inputs, fit, is_clear, load_scores,
)

CELLS = (8, 12, 16, 24, 32)
LEVELS = {"change": lambda x: x, "sqrt": np.sqrt, "log": lambda x: np.log(x + 1e-3)}


def variants(inputs) -> dict[str, float | None]:
    """Every variant's statistic for one clip's inputs (None: no judged window)."""
    if not len(inputs.live):
        return {f"{c}px/{k}": None for c in CELLS for k in LEVELS}
    change = frame_changes(inputs.frames)
    level = _level(inputs.audio.mean(1), inputs.frame_offsets)
    out = {}
    for cell in CELLS:
        m = pool_cells(change, cell, cell // 2)
        m = m - m.mean(0)
        for name, f in LEVELS.items():
            a = np.abs(np.diff(f(level), axis=1)).reshape(-1)
            out[f"{cell}px/{name}"] = _best_cell(a, m)
            if cell >= 16 and name == "change" and out[f"{cell}px/{name}"] is not None:
                nulls = [_best_cell(np.roll(a, k * (level.shape[1] - 1)), m) or 0.0 for k in null_shifts(level.shape[0])]
                if nulls:
                    out[f"{cell}px/change-null_mean"] = out[f"{cell}px/change"] - float(np.mean(nulls))
                    if cell == 16:
                        out["16px/change-null_max"] = out["16px/change"] - float(np.max(nulls))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scores", type=Path, required=True, help="train calibrate --scores output for the shipped network.")
    ap.add_argument("--cache", type=Path, required=True, help="train calibrate --cache folder of the same clips.")
    args = ap.parse_args()
    torch.set_num_threads(1)
    body = json.loads(args.scores.read_text())
    by_folder = load_scores(args.scores, body["weights_sha256"])
    analyzer = types.SimpleNamespace(model=types.SimpleNamespace(cfg=FlipConfig()))
    scored, stats, folder = [], [], []
    for f, clips in by_folder.items():
        per_file = {}
        for s in clips:
            if s.file not in per_file:
                per_file[s.file] = variants(cached_inputs(Path(f) / s.file, analyzer, args.cache))
            if s.logits:
                scored.append(s)
                stats.append(per_file[s.file])
                folder.append(f)
    cal, _ = fit([s for s in scored])  # temperature and clip scale as calibration fits them
    z = np.array([np.mean(s.logits) / cal.window_temperature for s in scored])
    p = 1 / (1 + np.exp(-np.clip(cal.clip_scale * z, -60, 60)))
    correct = (p > 0.5) == np.array([s.flipped for s in scored])
    clear = np.array([is_clear(s.scene_type, s.side) for s in scored])
    abstain = np.array([s.scene_type in ABSTAIN_TYPES for s in scored])
    split = np.array([_split_sure(_in_time_order(s) / cal.window_temperature, cal.clip_scale) for s in scored])
    folder = np.array(folder)

    def rule(mask: np.ndarray, sync: np.ndarray, gate: float | None) -> tuple:
        return _thresholds(p[mask], correct[mask], clear[mask], abstain[mask], split[mask], _passes(sync[mask], gate))

    def undecided(mask, sync, gate, seg, dec) -> float:
        g = _passes(sync[mask], gate)
        mixed = g & (split[mask] >= seg)
        decided = g & ~mixed & (np.maximum(p, 1 - p)[mask] >= dec)
        return 1 - decided[clear[mask]].mean()

    def choose(mask, sync):
        best = None
        for gate in [None, *SYNC_GRID]:
            seg, seg_ok, dec, dec_ok, *_, und = rule(mask, sync, gate)
            if seg_ok and dec_ok and (best is None or und < best[0] - 1e-12):
                best = (und, gate, seg, dec)
        return best

    folders = sorted(set(folder))
    print("| statistic | in sample: gate, undecided | cross-fitted undecided | typical clear / off-screen |")
    print("|---|---|---|---|")
    names = sorted({k for st in stats for k in st})
    for name in ["none", *names]:
        sync = np.full(len(scored), np.nan) if name == "none" else np.array([np.nan if st.get(name) is None else st[name] for st in stats])
        inside = choose(np.ones(len(scored), bool), sync)
        held = []
        for train in itertools.combinations(folders, 3):
            fit_mask = np.isin(folder, train)
            _, gate, seg, dec = choose(fit_mask, sync)
            held.append(undecided(~fit_mask, sync, gate, seg, dec))
        off = np.array([s.scene_type == "offscreen" for s in scored])
        typical = "" if name == "none" else f"{np.nanmedian(sync[clear]):.2f} / {np.nanmedian(sync[off]):.2f}"
        print(f"| {name} | {inside[1]}, {inside[0]:.1%} | {np.mean(held):.1%} | {typical} |")


if __name__ == "__main__":
    main()
