"""Time `stereofix check` against a full decode of the same file, and its peak memory.

    python benchmarks/bench_check.py [--minutes 10] [--long 60] [--blurbox | --plainbox | --gradbox]

Target (SPEC.md): `check` of a 10-minute 1080p30 H.264/AAC file takes at most a tenth of the time of
`ffmpeg -i FILE -f null -` (the Debian ffmpeg), measured in one run; peak memory under 1 GB; a
60-minute file costs not much more than a 10-minute one.

The picture is bench_repair.py's 10-minute x264 `veryfast` file (B-frames, CABAC). Its audio is
replaced by spatial audio (pink noise, the right channel 0.3 ms later and 4 dB down) so that `check`
runs the whole model path rather than stopping at an audio-only verdict. The 60-minute file is the
10-minute one six times over, stream-copied with the concat demuxer.

With --blurbox the 10-minute file is instead a portrait picture (testsrc2, 608x1080) over a blurred,
enlarged copy of itself in the 1080p frame, as phones publish portrait video: `check` then decodes
its windows a second time, larger, to find and cut the copy (stereofix.borders), and this times
what that costs. With --gradbox the portrait picture sits over a softly graded backdrop instead: its sides pass the
cheap screen for a copy, and the windows' first frames, which the first decode also gives larger
(inputs.copy_probe_per), show no copy, so `check` goes on without decoding again; this times what
such a false alarm costs. With --plainbox it sits between plain grey bars, which are cut like black
ones after a second, larger decode.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_repair import OUT_DIR, make_input  # noqa: E402


def spatial_copy(src: Path, minutes: float) -> Path:
    dst = OUT_DIR / f"check_{src.stem.removeprefix('bench_')}.mp4"
    if not dst.exists():
        seconds = minutes * 60
        graph = "[1:a]asplit[l][r0];[r0]adelay=0.3,volume=-4dB[r];[l][r]join=inputs=2:channel_layout=stereo[a]"
        subprocess.run(
            ["ffmpeg", "-v", "error", "-y", "-nostdin", "-i", str(src),
             "-f", "lavfi", "-i", f"anoisesrc=color=pink:amplitude=0.2:r=48000:d={seconds}",
             "-filter_complex", graph, "-map", "0:v", "-map", "[a]", "-c:v", "copy", "-c:a", "aac", "-b:a", "192k",
             str(dst.with_suffix(".part.mp4"))],
            check=True,
        )  # fmt: skip
        dst.with_suffix(".part.mp4").replace(dst)
    return dst


def blurbox_input(minutes: float) -> Path:
    """A portrait picture (608x1080) over a blurred copy of itself in the 1080p frame."""
    graph = "split[fg][bg];[bg]scale=1920:-2,crop=1920:1080,boxblur=20:2[b];[b][fg]overlay=(W-w)/2:0[v]"
    return make_input(minutes, "_blurbox", "608x1080", graph)


def plainbox_input(minutes: float) -> Path:
    """A portrait picture (608x1080) between plain grey bars in the 1080p frame: cut like black bars,
    after a second, larger decode."""
    return make_input(minutes, "_plainbox", "608x1080", "pad=1920:1080:(ow-iw)/2:0:gray[v]")


def gradbox_input(minutes: float) -> Path:
    """A portrait picture (608x1080) over a softly graded backdrop in the 1080p frame: its sides pass
    check's cheap screen for a blurred copy but are no copy and no bar, so this times the copy
    test turning it down."""
    backdrop = ("color=c=gray:s=1920x1080:r=30:d=1,format=yuv420p,geq=lum='100+40*Y/H':cb=128:cr=128,"
                "trim=end_frame=1,loop=loop=-1:size=1,setpts=N/30/TB")  # one graded frame, held
    return make_input(minutes, "_gradbox", "608x1080", f"null[fg];{backdrop}[bg];[bg][fg]overlay=(W-w)/2:0:shortest=1[v]")


def repeated(src: Path, times: int) -> Path:
    dst = OUT_DIR / f"{src.stem}_x{times}.mp4"
    if not dst.exists():
        lst = OUT_DIR / "concat.txt"
        lst.write_text("".join(f"file '{src.resolve()}'\n" for _ in range(times)))
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-nostdin", "-f", "concat", "-safe", "0", "-i", str(lst),
                        "-c", "copy", str(dst)], check=True)  # fmt: skip
    return dst


def tree_rss_mb(root: int) -> float:
    """RSS summed over `root` and its descendants (check's decoding workers): an upper bound on
    the memory they hold together, since pages a fork shares are counted once per process."""
    parents: dict[int, int] = {}
    rss: dict[int, int] = {}
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            stat = (d / "stat").read_text()
            fields = stat[stat.rindex(")") + 2 :].split()
            parents[int(d.name)] = int(fields[1])
            rss[int(d.name)] = int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, ValueError, IndexError):
            continue
    tree, frontier = {root}, [root]
    while frontier:
        p = frontier.pop()
        kids = [c for c, pp in parents.items() if pp == p and c not in tree]
        tree.update(kids)
        frontier.extend(kids)
    return sum(rss.get(p, 0) for p in tree) / 2**20


def timed(cmd: list[str]) -> tuple[float, float]:
    """(wall seconds, peak RSS in MB of the process and its workers together) of one run of `cmd`."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    peak = [0.0]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.05):
            peak[0] = max(peak[0], tree_rss_mb(proc.pid))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, _, rusage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    done.set()
    sampler.join()
    out = proc.stdout.read().decode()
    if out:
        print("   ", out.strip()[:200])
    return wall, max(peak[0], rusage.ru_maxrss / 1024)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=10)
    ap.add_argument("--long", type=int, default=60, help="Also time a file this many minutes long (0: skip).")
    shape = ap.add_mutually_exclusive_group()
    shape.add_argument("--blurbox", action="store_true", help="A portrait picture over a blurred copy of itself.")
    shape.add_argument("--plainbox", action="store_true", help="A portrait picture between plain grey bars.")
    shape.add_argument("--gradbox", action="store_true", help="A portrait picture over a softly graded backdrop.")
    args = ap.parse_args()
    if args.blurbox:
        source = blurbox_input(args.minutes)
    elif args.plainbox:
        source = plainbox_input(args.minutes)
    elif args.gradbox:
        source = gradbox_input(args.minutes)
    else:
        source = make_input(args.minutes)
    short = spatial_copy(source, args.minutes)
    check = [sys.executable, "-m", "stereofix", "check", "--quiet"]
    decode, _ = timed(["ffmpeg", "-v", "error", "-nostdin", "-i", str(short), "-f", "null", "-"])
    ours, rss = timed([*check, str(short)])
    print(f"{args.minutes:.0f}-min 1080p: ffmpeg full decode {decode:.2f} s; stereofix check {ours:.2f} s "
          f"(ratio {ours / decode:.3f}, target <= 0.1); peak RSS {rss:.0f} MB (target < 1024)")
    if args.long:
        times = max(1, int(round(args.long / args.minutes)))
        long = repeated(short, times)
        ours_long, rss_long = timed([*check, str(long)])
        print(f"{args.minutes * times:.0f}-min 1080p: stereofix check {ours_long:.2f} s "
              f"({ours_long / ours:.2f}x the {args.minutes:.0f}-min file); peak RSS {rss_long:.0f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
