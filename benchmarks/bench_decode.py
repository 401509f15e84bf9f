"""Frames per second of the media layer on a 1080p H.264 file: full decode vs windowed access.

    python benchmarks/bench_decode.py [--seconds 60]

Full decode: every frame of the first `--seconds` of bench_repair.py's 10-minute 1080p30 x264
`veryfast` file through PyAV (threaded, no scaling). Windowed access: what `check` asks of
`read_frames` for the same file (16 windows x 8 frames at 72x128, each window seeking to the
keyframe before it), with and without B-frames skipped. "Effective fps" is frames delivered per
second of wall time.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import av

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_repair import make_input  # noqa: E402

from stereofix import media  # noqa: E402
from stereofix.windows import frame_times, plan_windows  # noqa: E402


def full_decode(path: Path, seconds: float) -> tuple[int, float]:
    t0 = time.perf_counter()
    n = 0
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        s.thread_type = "AUTO"
        for frame in c.decode(s):
            n += 1
            if frame.time is not None and frame.time >= seconds:
                break
    return n, time.perf_counter() - t0


def windowed(path: Path, skip_b: bool) -> tuple[int, float]:
    info = media.probe(path)
    v = info.default_video()
    t0 = time.perf_counter()
    windows = plan_windows(0.0, info.duration, 2.0, 16, media.keyframe_times(path, v.index))
    times = [t for w in windows for t in frame_times(w, 4.0)]
    frames, _ = media.read_frames(path, times, size=(128, 72), skip_b_frames=skip_b)
    return len(frames), time.perf_counter() - t0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=60.0)
    args = ap.parse_args()
    path = make_input(10)
    n, t = full_decode(path, args.seconds)
    print(f"full decode (PyAV, threads AUTO): {n} frames in {t:.2f} s = {n / t:.0f} fps "
          f"-> whole 10-min file about {18000 / (n / t):.0f} s")
    for skip in (False, True):
        n, t = windowed(path, skip)
        label = "I/P only" if skip else "all frames"
        print(f"windowed access ({label}): {n} frames at 72x128 from 16 windows over 10 min in {t:.2f} s "
              f"= {n / t:.0f} effective fps")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
