"""Where the model is weak, by microphone: validation window scores read back, nothing rerun.

    python benchmarks/val_by_microphone.py runs/s47g

Reads `train calibrate --scores` output (RUN/val_scores.json) and the calibration beside it
(RUN/cal.json) and prints, for the clear-sided validation clips of each microphone: how many
windows lean the right way, the median size of a clip's mean window logit, and, with the clip rule
alone (no `mixed` stretches), how many clips are decided and how many of those are right. A weak
microphone with accurate but small logits needs louder evidence; one with wrong windows needs
better features. Validation only; the benchmark splits are never read.
"""

from __future__ import annotations

import argparse
import collections
import json
import math
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from stereofix.train.calibrate import is_clear  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run", type=Path, help="A folder written by runs/score.sh: val_scores.json and cal.json.")
    args = ap.parse_args()
    cal = json.loads((args.run / "cal.json").read_text())
    scores = json.loads((args.run / "val_scores.json").read_text())["by_folder"]
    rows: dict[str, dict] = collections.defaultdict(lambda: {"windows": 0, "right_windows": 0, "clips": 0, "decided": 0, "right": 0, "size": []})
    for folder, clips in scores.items():
        mics = {s["file"]: s["mic"]["model"] for s in json.loads((Path(folder) / "manifest.json").read_text())["scenes"]}
        for c in clips:
            logits = np.array([x for x in c["logits"] if x is not None])
            if not is_clear(c["scene_type"], c["side"]) or not logits.size:
                continue
            truth = 1.0 if c["flipped"] else -1.0  # a positive logit says "flipped"
            r = rows[mics[c["file"]]]
            r["windows"] += logits.size
            r["right_windows"] += int(np.sum(np.sign(logits) == truth))
            r["clips"] += 1
            r["size"].append(abs(float(logits.mean())))
            p = 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, cal["clip_scale"] * logits.mean() / cal["window_temperature"]))))
            if max(p, 1 - p) >= cal["decide"]:
                r["decided"] += 1
                r["right"] += int((p > 0.5) == (truth > 0))
    print(f"{args.run}: decide {cal['decide']}, clear-sided validation clips (both orientations)")
    print("| microphone | clips | windows right | median mean logit | undecided (clip rule) | right when decided |")
    print("|---|---|---|---|---|---|")
    for mic, r in sorted(rows.items()):
        print(f"| {mic} | {r['clips']} | {r['right_windows'] / r['windows']:.1%} | {np.median(r['size']):.2f} | "
              f"{1 - r['decided'] / r['clips']:.1%} | {r['right']}/{r['decided']} |")


if __name__ == "__main__":
    main()
