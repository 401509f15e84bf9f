"""Time the repair rewrite (whole-file SwapChannels) against the equivalent ffmpeg command.

    python benchmarks/bench_repair.py [--minutes 10] [--repeat 1]

Generates (once, cached under bench_out/) a 1080p30 H.264 (x264 veryfast, B-frames, CABAC) +
AAC stereo file with the ffmpeg CLI, then times, in one run:
  ours:   stereofix.media.rewrite.rewrite(IN, OUT, SwapChannels())
  ffmpeg: ffmpeg -i IN -map 0 -c copy -c:a aac -b:a <source bitrate> -af channelmap=1|0 OUT
and prints both times and the ratio (target: at most 1.2).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

from stereofix.media.rewrite import SwapChannels, rewrite

ROOT = Path(__file__).resolve().parents[1]
OUT_DIR = ROOT / "bench_out"
TARGET_RATIO = 1.2


def make_input(minutes: float, name: str = "", size: str = "1920x1080", graph: str = "") -> Path:
    """testsrc2 at `size` (through the filter `graph` ending in [v], if any) with two sine tones, 30 fps,
    x264 veryfast with B-frames and CABAC: OUT_DIR/bench_{minutes}min_1080p{name}.mp4."""
    path = OUT_DIR / f"bench_{minutes:g}min_1080p{name}.mp4"
    if path.exists():
        return path
    OUT_DIR.mkdir(exist_ok=True)
    seconds = minutes * 60
    tmp = path.with_suffix(".part.mp4")
    video = f"[0:v]{graph};" if graph else ""
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-nostdin",
         "-f", "lavfi", "-i", f"testsrc2=s={size}:r=30:d={seconds}",
         "-f", "lavfi", "-i", f"sine=f=440:r=48000:d={seconds}",
         "-f", "lavfi", "-i", f"sine=f=660:r=48000:d={seconds}",
         "-filter_complex", f"{video}[1:a][2:a]join=inputs=2:channel_layout=stereo[a]",
         "-map", "[v]" if graph else "0:v", "-map", "[a]",
         "-c:v", "libx264", "-preset", "veryfast", "-bf", "3", "-coder", "cabac", "-pix_fmt", "yuv420p",
         "-c:a", "aac", "-b:a", "192k", str(tmp)],
        check=True,
    )
    tmp.rename(path)
    return path


def audio_bit_rate(path: Path) -> int:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "a:0", "-show_entries", "stream=bit_rate", "-of", "json", str(path)],
        check=True, capture_output=True, text=True,
    ).stdout
    return int(json.loads(out)["streams"][0]["bit_rate"])


def time_ffmpeg(src: Path, dst: Path, bit_rate: int) -> float:
    start = time.perf_counter()
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-nostdin", "-i", str(src), "-map", "0", "-c", "copy",
         "-c:a", "aac", "-b:a", str(bit_rate), "-af", "channelmap=1|0", str(dst)],
        check=True,
    )
    return time.perf_counter() - start


def time_ours(src: Path, dst: Path) -> float:
    start = time.perf_counter()
    rewrite(src, dst, SwapChannels(), overwrite=True)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--repeat", type=int, default=1, help="runs of each; the best is kept")
    args = parser.parse_args()
    if shutil.which("ffmpeg") is None:
        print("needs the ffmpeg CLI", file=sys.stderr)
        return 2
    src = make_input(args.minutes)
    rate = audio_bit_rate(src)
    ours = min(time_ours(src, OUT_DIR / "ours.mp4") for _ in range(args.repeat))
    peer = min(time_ffmpeg(src, OUT_DIR / "ffmpeg.mp4", rate) for _ in range(args.repeat))
    ratio = ours / peer
    size_mb = src.stat().st_size / 1e6
    print(f"input: {src.name} ({size_mb:.0f} MB, audio {rate // 1000} kb/s)")
    print(f"stereofix rewrite: {ours:.2f} s")
    print(f"ffmpeg -c copy -c:a aac -af channelmap: {peer:.2f} s")
    print(f"ratio: {ratio:.2f}x (target <= {TARGET_RATIO}x) {'OK' if ratio <= TARGET_RATIO else 'SLOW'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
