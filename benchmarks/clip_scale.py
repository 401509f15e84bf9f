"""Could the clip's probability read more than the mean window logit? (validation only, a diagnosis)

    python benchmarks/clip_scale.py --scores runs/x/val_scores.json [--clips bench_out/val3_a ...]

`check` turns a clip's mean window logit into a probability with one scale (train/calibrate.py).
On the validation clips the logits are not equally reliable across microphones: the same mean is
surer from an ORTF pair than from an XY pair. This fits, by log-loss, a scale that depends on
what `check` could know about a clip, and reads the clear-sided abstention the decision rule then
gives (same rule: at least 99% right, at most 2% of the must-abstain clips decided; the `mixed`
stretches as calibrated), in sample and cross-fitted (fit on three validation folders, read on
the other two, all ten ways, averaged):

- `mean`: one scale, as shipped;
- `microphone`: one scale per microphone (an oracle: `check` is not told the microphone);
- `audio`: the scale times exp(w . f), f the clip's audio diagnostics (side-to-mid ratio, low-band
  correlation, coherence, level difference; all the same with the channels exchanged, so the
  probability stays antisymmetric);
- `windows`: f the windows' agreement (share on the mean's side) and spread (log std);
- `both`.

The scores come from `stereofix train calibrate ... --scores F` for the weights in question.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from pathlib import Path

import numpy as np
from scipy.optimize import minimize

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from stereofix.inputs import prepare  # noqa: E402
from stereofix.train import calibrate as C  # noqa: E402


def audio_features(path: Path) -> list[float]:
    d = prepare(path, None).diagnosis  # what `check` computes before the model, nothing else decoded
    return [d.side_to_mid_db, d.low_band_correlation, d.coherence, float(np.log1p(abs(d.rms_dbfs[0] - d.rms_dbfs[1])))]


def window_features(s: C.ClipScore) -> list[float]:
    z = np.array(s.logits)
    return [float(np.mean(np.sign(z) == np.sign(z.mean()))), float(np.log(z.std() + 0.05))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scores", type=Path, required=True)
    ap.add_argument("--clips", type=Path, action="append", default=None, help="Folders to read (default: all in the scores).")
    args = ap.parse_args()
    body = json.loads(args.scores.read_text())
    by = C.load_scores(args.scores, body["weights_sha256"])
    folders = [str(f) for f in args.clips] if args.clips else list(by)
    rows = []
    for f in folders:
        scenes = {s["file"]: s for s in json.loads((Path(f) / "manifest.json").read_text())["scenes"]}
        feats = {}
        for s in by[f]:
            if s.logits:
                if s.file not in feats:
                    feats[s.file] = audio_features(Path(f) / s.file)
                rows.append((f, s, scenes[s.file]["mic"]["model"], feats[s.file] + window_features(s)))
    scores = [s for _, s, _, _ in rows]
    folder = np.array([f for f, *_ in rows])
    mic = np.array([m for _, _, m, _ in rows])
    feats = np.array([x for *_, x in rows], float)
    cal, _ = C.fit(scores)
    T = cal.window_temperature
    mean = np.array([np.mean(s.logits) / T for s in scores])
    y = np.array([float(s.flipped) for s in scores])
    clear = np.array([C.is_clear(s.scene_type, s.side) for s in scores])
    abstain = np.array([s.scene_type in C.ABSTAIN_TYPES for s in scores])
    mixed = np.array([C._split_sure(C._in_time_order(s) / T, cal.clip_scale) for s in scores]) >= cal.segment_decide

    def fit_scale(sel: np.ndarray, cols: list[int] | None) -> np.ndarray:
        """Per-clip scales fitted on `sel`: by microphone (cols None) or exp(w0 + w . standardised f)."""
        def nll(scale: np.ndarray, s: np.ndarray) -> float:
            z = np.clip(scale * mean[s], -60, 60)
            return float(np.mean(np.logaddexp(0, z) - y[s] * z))
        if cols is None:
            out = np.ones(len(mean))
            for m in set(mic):
                s = sel & (mic == m)
                best = min(np.exp(np.linspace(np.log(0.05), np.log(20), 200)), key=lambda a: nll(np.full(s.sum(), a), s))
                out[mic == m] = best
            return out
        f = feats[:, cols]
        f = (f - f[sel].mean(0)) / (f[sel].std(0) + 1e-9)
        w = minimize(lambda w: nll(np.exp(w[0] + f[sel] @ w[1:]), sel) + 1e-3 * np.sum(w[1:] ** 2),
                     np.zeros(1 + len(cols)), method="L-BFGS-B").x
        return np.exp(w[0] + f @ w[1:])

    def rule(sel: np.ndarray, p: np.ndarray) -> float:
        right = (p > 0.5) == (y > 0.5)
        for t in C.THRESHOLDS:
            dec = ~mixed & (np.maximum(p, 1 - p) >= t)
            acc = right[sel & clear & dec].mean() if (sel & clear & dec).any() else 1.0
            if acc >= C.TARGET_ACCURACY and (dec | mixed)[sel & abstain].mean() <= C.ABSTAIN_LEAK:
                return float(t)
        return float(C.THRESHOLDS[-1])

    def read(sel: np.ndarray, p: np.ndarray, t: float) -> tuple[float, float, float]:
        right = (p > 0.5) == (y > 0.5)
        dec = ~mixed & (np.maximum(p, 1 - p) >= t)
        return 1 - dec[sel & clear].mean(), right[sel & clear & dec].mean(), (dec | mixed)[sel & abstain].mean()

    variants = {"mean": [], "microphone": None, "audio": [0, 1, 2, 3], "windows": [4, 5], "both": [0, 1, 2, 3, 4, 5]}
    every = np.ones(len(mean), bool)
    print(f"{clear.sum()} clear-sided and {abstain.sum()} must-abstain clip orientations from {len(folders)} folders")
    print("variant      in sample: decide  abstention  right  must-abstain decided | cross-fitted (10 ways): abstention  right  must-abstain decided")
    for name, cols in variants.items():
        p = 1 / (1 + np.exp(-np.clip(fit_scale(every, cols) * mean, -60, 60)))
        t = rule(every, p)
        ins = read(every, p, t)
        held = []
        for test in itertools.combinations(sorted(set(folder)), 2):
            te = np.isin(folder, test)
            p = 1 / (1 + np.exp(-np.clip(fit_scale(~te, cols) * mean, -60, 60)))
            held.append(read(te, p, rule(~te, p)))
        h = np.mean(held, axis=0)
        print(f"{name:12s} {t:.3f}  {ins[0]:.1%}  {ins[1]:.1%}  {ins[2]:.1%} | {h[0]:.1%}  {h[1]:.1%}  {h[2]:.1%}")


if __name__ == "__main__":
    main()
