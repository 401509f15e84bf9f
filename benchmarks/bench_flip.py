"""Accuracy of `stereofix check` on the held-out synthetic benchmark and on the real clips.

    python benchmarks/bench_flip.py --clips bench_out/test4 [--weights weights/flip-v1.pt]

The clips come from `stereofix synth --split test` (material training and calibration never saw).
For every clip the script also writes a copy with the channels exchanged (`stereofix repair --force`)
and, for clips with a clear side, a `mixed` copy (channels exchanged in the second half only), then
runs the real CLI (`stereofix check --json`) over all of them and reports:

- clip accuracy on decided clips, and abstention, for clips with a clear-sided visible source;
- per-window accuracy on those clips;
- per scene type: verdict counts;
- for the types that must abstain (centred, off-screen, dual-mono, noise-only): how many were called
  `ok`/`swapped` and with what probability;
- the half-swapped copies' verdicts and, for those called `mixed`, whether the one stretch reported
  runs to the end and how far its start is from the true change;
- the real clips in ../shared/realclips, as recorded and exchanged.
"""

from __future__ import annotations

import argparse
import collections
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from stereofix.train.calibrate import ABSTAIN_TYPES, is_clear

ROOT = Path(__file__).resolve().parent.parent
REAL = ROOT.parent / "shared" / "realclips"


def cli(*args: str) -> list[dict]:
    cmd = [sys.executable, "-m", "stereofix", *args]
    r = subprocess.run(cmd, capture_output=True, text=True)
    return [json.loads(line) for line in r.stdout.splitlines() if line.startswith("{")]


def make_variants(clips: Path, scenes: list[dict]) -> tuple[Path, Path]:
    """Exchanged copies of every clip and `mixed` copies of the clear-sided ones (cached)."""
    from stereofix.media.rewrite import SwapChannels, rewrite

    swapped, mixed = clips / "swapped", clips / "mixed"
    swapped.mkdir(exist_ok=True)
    mixed.mkdir(exist_ok=True)
    for sc in scenes:
        src = clips / sc["file"]
        if not (swapped / sc["file"]).exists():
            rewrite(src, swapped / sc["file"], SwapChannels())
        if is_clear(sc["scene_type"], sc["side"]) and not (mixed / sc["file"]).exists():
            half = sc["duration_s"] / 2
            rewrite(src, mixed / sc["file"], SwapChannels(ranges=((half, sc["duration_s"] + 1),)))
    return swapped, mixed


def sounding_kind(scene: dict) -> str:
    """What the clear-sided scene's (first) sounding object is: face, hands, instrument..."""
    return next((o["kind"] for o in scene["objects"] if o.get("sounding")), "none")


def pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clips", type=Path, default=ROOT / "bench_out" / "test4")
    ap.add_argument("--weights", type=Path, default=None)
    ap.add_argument("--json", type=Path, default=None, help="Write the figures here too.")
    args = ap.parse_args()
    scenes = json.loads((args.clips / "manifest.json").read_text())["scenes"]
    by_file = {sc["file"]: sc for sc in scenes}
    swapped, mixed = make_variants(args.clips, scenes)
    wopt = ["--weights", str(args.weights)] if args.weights else []
    t0 = time.time()
    results = {
        "straight": cli("check", "--json", "--quiet", *wopt, *[str(args.clips / s["file"]) for s in scenes]),
        "swapped": cli("check", "--json", "--quiet", *wopt, *[str(swapped / s["file"]) for s in scenes]),
        "mixed": cli("check", "--json", "--quiet", *wopt, *map(str, sorted(mixed.glob("*.mp4")))),
    }
    elapsed = time.time() - t0

    expected_of = {"straight": "ok", "swapped": "swapped", "mixed": "mixed"}
    per_type: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    # Clear-sided files by microphone and by what sounds: where the abstention and the errors are.
    per_mic: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    per_source: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    clear_decided = clear_right = clear_total = 0
    win_right = win_total = 0
    abstain_confident = []
    mixed_counts: collections.Counter = collections.Counter()
    stretch_right: list[bool] = []
    stretch_start_error: list[float] = []
    files = []  # every file's verdict, so wrong answers and leaks can be named without re-running the CLI
    for variant, rows in results.items():
        for r in rows:
            sc = by_file[Path(r["file"]).name]
            t = sc["scene_type"]
            v = r["verdict"]
            files.append({"variant": variant, "file": sc["file"], "scene_type": t, "side": sc["side"], "verdict": v, "p_swapped": r["p_swapped"]})
            if variant == "mixed":
                mixed_counts[v] += 1
                if v == "mixed":  # exchanged from half the length to the end: one stretch, there
                    half, dur = sc["duration_s"] / 2, sc["duration_s"]
                    st = r["stretches"]
                    stretch_right.append(len(st) == 1 and abs(st[0][1] - dur) < 0.1)
                    stretch_start_error.extend(abs(a - half) for a, _ in st[:1])
                continue
            per_type[t][v] += 1
            if sc["side"] != 0 and v in ("ok", "swapped"):
                per_type[t]["_decided"] += 1
                per_type[t]["_right"] += v == expected_of[variant]
            clear = is_clear(t, sc["side"])
            if clear:
                clear_total += 1
                if v in ("ok", "swapped"):
                    clear_decided += 1
                    clear_right += v == expected_of[variant]
                for c in (per_mic[sc["mic"]["model"]], per_source[sounding_kind(sc)]):
                    c["files"] += 1
                    c["decided"] += v in ("ok", "swapped")
                    c["right"] += v == expected_of[variant]
                for w in r["windows"]:
                    if w["p_swapped"] is not None:
                        win_total += 1
                        win_right += (w["p_swapped"] > 0.5) == (variant == "swapped")
            if t in ABSTAIN_TYPES and v in ("ok", "swapped"):
                abstain_confident.append((t, v, r["probability"]))
    abstain_total = sum(v for t in ABSTAIN_TYPES if t in per_type for k, v in per_type[t].items() if not k.startswith("_"))
    figures = {
        "clips": len(scenes),
        "clear_sided_clips_both_orientations": clear_total,
        "clip_accuracy_on_decided": clear_right / clear_decided if clear_decided else None,
        "abstention_clear": 1 - clear_decided / clear_total if clear_total else None,
        "window_accuracy_clear": win_right / win_total if win_total else None,
        "abstain_types_called_ok_or_swapped": len(abstain_confident),
        "abstain_types_total": abstain_total,
        "abstain_types_max_probability": max((p for *_, p in abstain_confident), default=None),
        "mixed_verdicts": dict(mixed_counts),
        # Of the half-swapped files called mixed: how many report one stretch ending at the file's
        # end, and how far (s) the first stretch's start is from the true change.
        "mixed_one_stretch_to_the_end": sum(stretch_right),
        "mixed_stretch_start_error_s": {"median": float(np.median(stretch_start_error)), "max": max(stretch_start_error)}
        if stretch_start_error else None,
        "per_type": {t: dict(c) for t, c in sorted(per_type.items())},  # _decided/_right: side != 0 only
        "clear_per_microphone": {k: dict(c) for k, c in sorted(per_mic.items())},
        "clear_per_sounding_kind": {k: dict(c) for k, c in sorted(per_source.items())},
        "check_seconds_all_files": round(elapsed, 1),
        "files": files,
    }
    real = {}
    if REAL.is_dir():
        real_swapped = args.clips / "real_swapped"
        real_swapped.mkdir(exist_ok=True)
        from stereofix.media.rewrite import SwapChannels, rewrite

        harp = REAL / "fairplay_harp.mp4"
        if not (real_swapped / harp.name).exists():
            rewrite(harp, real_swapped / harp.name, SwapChannels())
        files = [harp, real_swapped / harp.name, *sorted(REAL.glob("fairplay_mono_*.mp4"))]
        for r in cli("check", "--json", "--quiet", *wopt, *map(str, files)):
            name = ("exchanged/" if "real_swapped" in r["file"] else "") + Path(r["file"]).name
            real[name] = {"verdict": r["verdict"], "p_swapped": r["p_swapped"], "reason": r["reason"]}
    figures["real_clips"] = real

    print(f"held-out synthetic benchmark: {len(scenes)} clips x (as rendered, exchanged) + {sum(mixed_counts.values())} mixed")
    print(f"  clear-sided visible source: clip accuracy on decided {pct(figures['clip_accuracy_on_decided'])}, "
          f"abstention {pct(figures['abstention_clear'])}, window accuracy {pct(figures['window_accuracy_clear'])}")
    print(f"  must-abstain types called ok/swapped: {len(abstain_confident)} of {abstain_total} "
          f"(max p {figures['abstain_types_max_probability']})")
    print(f"  mixed copies: {dict(mixed_counts)}; of those called mixed, {figures['mixed_one_stretch_to_the_end']} report one "
          f"stretch to the end, start off the true change by {figures['mixed_stretch_start_error_s']} s")
    print("  | scene type | files | ok | swapped | mixed | uncertain | not-spatial | other | accuracy on decided (side != 0) |")
    print("  |---|---|---|---|---|---|---|---|---|")
    named = ("ok", "swapped", "mixed", "uncertain", "not-spatial")
    for t, c in sorted(per_type.items()):
        files = sum(v for k, v in c.items() if not k.startswith("_"))
        other = files - sum(c[k] for k in named)
        acc = f"{c['_right']}/{c['_decided']}" if c["_decided"] else "-"
        print(f"  | {t} | {files} | " + " | ".join(str(c[k]) for k in named) + f" | {other} | {acc} |")
    for title, groups in (("microphone", per_mic), ("what sounds", per_source)):
        print(f"  clear-sided files by {title}: " + ", ".join(
            f"{k} {c['right']}/{c['decided']} right, {pct(1 - c['decided'] / c['files'])} abstain" for k, c in sorted(groups.items())))
    print("real clips:")
    for k, v in real.items():
        print(f"  {k}: {v['verdict']} (p_swapped={v['p_swapped']}) {v['reason'] or ''}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
