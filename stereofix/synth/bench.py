"""Throughput of the synthesizer: python -m stereofix.synth.bench [N] [--split S]

Renders N scenes at the training size (2 s, 16 kHz, 8 fps, long side 128) in this process and
prints scenes per second. Pin it to one core to measure per-core throughput:
    OMP_NUM_THREADS=1 taskset -c 0 python -m stereofix.synth.bench 300
"""

from __future__ import annotations

import argparse
import time
from collections import Counter

from stereofix.synth.material import get_bank
from stereofix.synth.scene import render_scene


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m stereofix.synth.bench")
    p.add_argument("n", type=int, nargs="?", default=200)
    p.add_argument("--split", default="train")
    p.add_argument("--seed", type=int, default=10_000)
    args = p.parse_args(argv)
    bank = get_bank()
    render_scene(args.seed - 1, args.split, bank=bank)  # warm caches (bank pages, HRTF spectra)
    by_mic, by_type = Counter(), Counter()
    t0 = time.perf_counter()
    for i in range(args.n):
        s = render_scene(args.seed + i, args.split, bank=bank)
        by_mic[s.truth["mic"]["model"]] += 1
        by_type[s.truth["scene_type"]] += 1
    dt = time.perf_counter() - t0
    print(f"{args.n} scenes in {dt:.2f} s: {args.n / dt:.1f} scenes/s "
          f"(2 s, 16 kHz, 8 fps, long side 128, split {args.split})")
    print("mic models:", dict(sorted(by_mic.items())))
    print("scene types:", dict(sorted(by_type.items())))


if __name__ == "__main__":
    main()
