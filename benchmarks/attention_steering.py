"""Run-time attention steering, on validation only (README "Design notes", session 30).

    python benchmarks/attention_steering.py --lam 2 --cache bench_out/cache_val3_hop0.25 \
        --clips bench_out/val3_a ... --clips bench_out/val3_f [--weights weights/flip-v1.pt]

Scores the validation clips with the file's synchrony map (`sync.sync_map`, where the picture
follows the sound over the whole file) times `--lam` added to the network's attention logits
(`FlipNet.attend`'s prior), recalibrates by the calibration's own rule (`calibrate.fit`) and prints
its figures. `--lam 0` gives the shipped calibration's figures exactly. `--whole` takes the map over
every frame of each window's first second (session 32). About 6 minutes for the
six folders from the cache on one core. The benchmark splits are never read.

Since session 33 `check` steers by the calibration's own weight (`Calibration.attention_prior`,
`infer.read_picture`) and `train calibrate --attention-prior` fits it; this script stays to compare
weights without writing a calibrated file. Its fit searches two tiers of synchrony, as `fit` does
by default since then.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from stereofix.infer import Analyzer, score_windows  # noqa: E402
from stereofix.sync import file_sync_map  # noqa: E402
from stereofix.train.calibrate import fit, save_scores, score_clips  # noqa: E402
from stereofix.weights import sha256_of  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lam", type=float, required=True, help="weight of the synchrony map in the attention's logits")
    ap.add_argument("--clips", type=Path, action="append", required=True, help="a validation folder (repeat)")
    ap.add_argument("--cache", type=Path, required=True, help="train calibrate --cache folder of the same clips")
    ap.add_argument("--weights", default=None)
    ap.add_argument("--whole", action="store_true",
                    help="the map over every frame of each window's first second (the cache must hold them: session 32's)")
    ap.add_argument("--json", type=Path, help="also write the figures here")
    ap.add_argument("--save-scores", type=Path, help="also keep the steered window scores here (calibrate.save_scores)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    analyzer = Analyzer.load(args.weights, "cpu")

    def steered(inputs, an):
        prior = None
        if args.lam and len(inputs.live):
            m = file_sync_map(inputs, "whole" if args.whole else "model")
            prior = None if m is None else args.lam * m
        return score_windows(inputs, an, prior=prior)

    scores, by_folder = [], {}
    for folder in args.clips:
        by_folder[str(folder)] = score_clips(analyzer, folder, cache=args.cache, score=steered, attention_prior=args.lam)
        scores += by_folder[str(folder)]
        print(f"{folder}: {len(scores)} clips scored", file=sys.stderr)
    if args.save_scores:
        save_scores(args.save_scores, by_folder, sha256_of(analyzer.weights_path), args.lam)
    _, figures = fit(scores, attention_prior=args.lam)
    figures = {"lam": args.lam, **{k: v for k, v in figures.items() if not isinstance(v, (list, dict))}}
    print(json.dumps(figures, indent=1))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
