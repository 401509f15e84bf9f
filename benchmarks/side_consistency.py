"""Does the synchronous cell sit on the side the network attends? A veto tried, not shipped.

    python benchmarks/side_consistency.py --weights weights/flip-v1.pt \
        --scores runs/s28/scores56_sync.json --cache bench_out/cache_val3_hop0.25

Every leak left is an off-screen sound credited to a silent thing in view. Where the network
attends (the mean over a file's windows of the horizontal centre of its attention, on the straight
picture) and where the picture changes with the sound (the column of the cell `stereofix.sync`
finds, without the chance correction) should then disagree about half the time on those files,
and rarely where the sounding thing is in view. This reads both for the validation clips from
`train calibrate --cache`, vetoes a decision where they sit on opposite sides of the centre (each
at least MARGIN from it, for several margins), refits the calibration rule with the gate picked
from `calibrate.SYNC_GRID`, and prints the clear-sided abstention each gives. Validation only.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import fields
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from stereofix.infer import Analyzer  # noqa: E402
from stereofix.models import FRAME_WIDTH  # noqa: E402
from stereofix.sync import CELL, STRIDE, _cells_and_step, cell_correlations  # noqa: E402
from stereofix.train import calibrate as C  # noqa: E402

MARGINS = (0.0, 0.05, 0.1, 0.15, 0.2)


def columns(inputs, model) -> tuple[float, float] | None:
    """(synchronous cell's column centre, attention's mean column centre), as shares of the width."""
    if not len(inputs.live) or inputs.frames.shape[0] == 0:
        return None
    got = _cells_and_step(inputs.frames, inputs.audio, inputs.frame_offsets)
    if got is None:
        return None
    m, step, _, _ = got
    r = np.nan_to_num(cell_correlations(step, m), nan=-np.inf)  # [rows, columns]
    u_sync = ((int(r.argmax()) % r.shape[-1]) * STRIDE + CELL / 2) / FRAME_WIDTH
    with torch.no_grad():
        _, parts = model(torch.from_numpy(inputs.frames).permute(0, 1, 4, 2, 3), torch.from_numpy(inputs.audio),
                         return_parts=True, frame_times=torch.from_numpy(inputs.frame_offsets))
    att = parts["attention"].mean(1).sum(1).numpy()  # [L, w]
    centres = (np.arange(att.shape[1]) + 0.5) / att.shape[1]
    u_att = float(((att * centres).sum(1) / att.sum(1)).mean())
    return u_sync, u_att


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--weights", type=Path, required=True)
    ap.add_argument("--scores", type=Path, required=True, help="train calibrate --scores output for these weights.")
    ap.add_argument("--cache", type=Path, required=True, help="train calibrate --cache folder of the same clips.")
    args = ap.parse_args()
    torch.set_num_threads(1)
    analyzer = Analyzer.load(args.weights, "cpu")
    body = json.loads(args.scores.read_text())
    by_folder = C.load_scores(args.scores, body["weights_sha256"])
    names = {f.name for f in fields(C.ClipScore)}
    seen: dict[str, tuple[float, float] | None] = {}
    sc, cols = [], []
    for folder, clips in by_folder.items():
        for s in clips:
            key = f"{folder}/{s.file}"
            if key not in seen:
                seen[key] = columns(C.cached_inputs(Path(folder) / s.file, analyzer, args.cache), analyzer.model)
            if s.logits:
                sc.append(C.ClipScore(**{k: getattr(s, k) for k in names}))
                cols.append(seen[key] or (np.nan, np.nan))
    cal, _ = C.fit(sc)
    z = np.array([np.mean(s.logits) / cal.window_temperature for s in sc])
    p = 1 / (1 + np.exp(-np.clip(cal.clip_scale * z, -60, 60)))
    correct = (p > 0.5) == np.array([s.flipped for s in sc])
    clear = np.array([C.is_clear(s.scene_type, s.side) for s in sc])
    abstain = np.array([s.scene_type in C.ABSTAIN_TYPES for s in sc])
    off = np.array([s.scene_type == "offscreen" for s in sc])
    split = np.array([C._split_sure(C._in_time_order(s) / cal.window_temperature, cal.clip_scale) for s in sc])
    sync = np.array([np.nan if s.sync is None else s.sync for s in sc])
    u_sync, u_att = np.array(cols).T
    print("| veto | gate, decide | clear-sided undecided | vetoed: clear / off-screen |")
    print("|---|---|---|---|")
    for margin in (None, *MARGINS):
        veto = np.zeros(len(sc), bool) if margin is None else (
            ((u_sync - 0.5) * (u_att - 0.5) < 0) & (np.abs(u_sync - 0.5) > margin) & (np.abs(u_att - 0.5) > margin))
        best = None
        for gate in [None, *C.SYNC_GRID]:
            r = C._thresholds(p, correct, clear, abstain, split, C._passes(sync, gate) & ~veto)
            if r[1] and r[3] and (best is None or r[6] < best[1][6] - 1e-12):
                best = (gate, r)
        gate, r = best
        name = "none" if margin is None else f"opposite sides, margin {margin}"
        print(f"| {name} | {gate}, {r[2]} | {r[6]:.1%} ({round(r[6] * clear.sum())}) | {veto[clear].sum()} / {veto[off].sum()} of {off.sum()} |")


if __name__ == "__main__":
    main()
