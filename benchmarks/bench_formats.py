"""Does `check` judge the same scenes alike when they come in the shapes real video comes in?

    python benchmarks/bench_formats.py --clips bench_out/test17 [--variant boxed --variant hd30]

The synthesizer exports every scene the same way (long side 640 px, 25 fps, 48 kHz AAC, the picture
filling the frame). Real files do not: phone videos published in a landscape frame carry black
pillarbox bars, films letterbox bars, cameras shoot 1080p at 30 fps with 44.1 kHz sound. This script
re-encodes a split's clips with the Debian `ffmpeg` CLI into such variants (cached under
CLIPS/formats/VARIANT) and runs the real CLI (`stereofix check --json`) on the originals and on
each variant, as rendered (the model is exactly antisymmetric under a channel swap, so the exchanged
orientation gives the same figures). It reports, per variant, what bench_flip.py reports for the
clear-sided clips (decided right, abstention) and the must-abstain ones (how many decided), and how
often the verdict differs from the original's.

Variants:
  boxed   portrait and 4:3 pictures pillarboxed into 16:9, 16:9 pictures letterboxed into 4:3 (black bars)
  hd30    scaled to a 1920-px long side, 30 fps, x264 veryfast, AAC 44.1 kHz
  blurbox portrait and 4:3 pictures put into 16:9 over a blurred, enlarged copy of themselves (how
          phone video is often published); 16:9 pictures re-encoded as they are
  blurdark the same with a softer (Gaussian) blur and a darkened copy, as other editing apps make it:
          a check that the copy detector was not fitted to one filter
  blurtall 16:9 and 4:3 pictures put into a 9:16 (portrait) frame over a blurred copy above and
          below (how landscape video is published for phones); portrait pictures as they are
  whitebox the `boxed` shapes padded white, as editing apps with a white canvas publish them
"""

from __future__ import annotations

import argparse
import collections
import json
import subprocess
import sys
import time
from pathlib import Path

from stereofix.train.calibrate import ABSTAIN_TYPES, is_clear

VARIANTS = ("boxed", "hd30", "blurbox", "blurdark", "blurtall", "whitebox")


def _boxed_filter(scene: dict, colour: str = "black") -> str:
    h, w = scene["frame_size"]
    if w * 9 < h * 16 * 0.99:  # narrower than 16:9: pillarbox into 16:9
        out_w, out_h = int(round(h * 16 / 9 / 2)) * 2, h
    else:  # 16:9: letterbox into 4:3
        out_w, out_h = w, int(round(w * 3 / 4 / 2)) * 2
    return f"pad={out_w}:{out_h}:(ow-iw)/2:(oh-ih)/2:{colour}"


def _blurbox_filter(scene: dict, blur: str = "boxblur=20:2") -> str:
    h, w = scene["frame_size"]
    if w * 9 >= h * 16 * 0.99:
        return "null"
    out_w = int(round(h * 16 / 9 / 2)) * 2
    return (f"split[fg][bg];[bg]scale={out_w}:-2,crop={out_w}:{h},{blur}[b];"
            f"[b][fg]overlay=(W-w)/2:(H-h)/2")


def _blurtall_filter(scene: dict) -> str:
    h, w = scene["frame_size"]
    if w <= h:
        return "null"
    out_h = int(round(w * 16 / 9 / 2)) * 2
    return (f"split[fg][bg];[bg]scale=-2:{out_h},crop={w}:{out_h},boxblur=20:2[b];"
            f"[b][fg]overlay=(W-w)/2:(H-h)/2")


_FILTERS = {
    "blurbox": _blurbox_filter,
    "blurdark": lambda sc: _blurbox_filter(sc, "gblur=sigma=12,eq=brightness=-0.12"),
    "blurtall": _blurtall_filter,
}


def make_variant(clips: Path, scenes: list[dict], variant: str) -> Path:
    out = clips / "formats" / variant
    out.mkdir(parents=True, exist_ok=True)
    for sc in scenes:
        dst = out / sc["file"]
        if dst.exists():
            continue
        if variant in ("boxed", "whitebox"):
            args = ["-vf", _boxed_filter(sc, "black" if variant == "boxed" else "white"), "-c:v", "libx264", "-preset", "veryfast", "-crf", "20", "-c:a", "copy"]
        elif variant in _FILTERS:
            args = ["-filter_complex", _FILTERS[variant](sc), "-c:v", "libx264", "-preset", "veryfast", "-crf", "20",
                    "-c:a", "copy"]
        else:
            args = ["-vf", "scale='if(gt(iw,ih),1920,-2)':'if(gt(iw,ih),-2,1920)'", "-r", "30", "-c:v", "libx264",
                    "-preset", "veryfast", "-crf", "20", "-c:a", "aac", "-ar", "44100", "-b:a", "192k"]
        tmp = dst.with_suffix(".part.mp4")
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-nostdin", "-i", str(clips / sc["file"]), *args, str(tmp)], check=True)
        tmp.rename(dst)
    return out


def check_all(folder: Path, scenes: list[dict], weights: Path | None) -> dict[str, dict]:
    cmd = [sys.executable, "-m", "stereofix", "check", "--json", "--quiet"]
    if weights:
        cmd += ["--weights", str(weights)]
    r = subprocess.run([*cmd, *[str(folder / s["file"]) for s in scenes]], capture_output=True, text=True)
    return {Path(d["file"]).name: d for d in map(json.loads, (x for x in r.stdout.splitlines() if x.startswith("{")))}


def figures(scenes: list[dict], got: dict[str, dict], base: dict[str, dict] | None) -> dict:
    c: collections.Counter = collections.Counter()
    for sc in scenes:
        v = got[sc["file"]]["verdict"]
        if is_clear(sc["scene_type"], sc["side"]):
            key = "portrait" if sc["aspect"] in ("9:16", "3:4") else "landscape"
            c["clear"] += 1
            c[key] += 1
            if v in ("ok", "swapped"):
                c["decided"] += 1
                c[key + "_decided"] += 1
                c["right"] += v == "ok"  # as rendered, the channels agree with the picture
        elif sc["scene_type"] in ABSTAIN_TYPES:
            c["must_abstain"] += 1
            c["leaked"] += v in ("ok", "swapped", "mixed")
        if base is not None:
            was = base[sc["file"]]["verdict"]
            c["changed"] += v != was
            c["reversed"] += {v, was} == {"ok", "swapped"}
    out = {
        "clear": c["clear"],
        "decided_right": f"{c['right']}/{c['decided']}",
        "abstention": round(1 - c["decided"] / c["clear"], 3) if c["clear"] else None,
        "abstention_portrait": round(1 - c["portrait_decided"] / c["portrait"], 3) if c["portrait"] else None,
        "abstention_landscape": round(1 - c["landscape_decided"] / c["landscape"], 3) if c["landscape"] else None,
        "must_abstain_decided": f"{c['leaked']}/{c['must_abstain']}",
    }
    if base is not None:
        out["verdicts_changed"] = f"{c['changed']}/{len(scenes)}"
        out["ok_swapped_reversed"] = c["reversed"]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clips", type=Path, required=True, help="A folder written by `stereofix synth`.")
    ap.add_argument("--variant", action="append", choices=VARIANTS, help="Repeatable; default: all.")
    ap.add_argument("--weights", type=Path, default=None)
    ap.add_argument("--json", type=Path, default=None, help="Write the figures (and each file's verdict) here too.")
    args = ap.parse_args()
    scenes = json.loads((args.clips / "manifest.json").read_text())["scenes"]
    t0 = time.time()
    base = check_all(args.clips, scenes, args.weights)
    report = {"original": figures(scenes, base, None)}
    verdicts = {"original": {k: [d["verdict"], d.get("p_swapped")] for k, d in base.items()}}
    print(f"original: {report['original']}  ({time.time() - t0:.0f} s)", flush=True)
    for variant in args.variant or VARIANTS:
        t0 = time.time()
        folder = make_variant(args.clips, scenes, variant)
        t1 = time.time()
        got = check_all(folder, scenes, args.weights)
        report[variant] = figures(scenes, got, base)
        verdicts[variant] = {k: [d["verdict"], d.get("p_swapped")] for k, d in got.items()}
        print(f"{variant}: {report[variant]}  (encode {t1 - t0:.0f} s, check {time.time() - t1:.0f} s)", flush=True)
    if args.json:
        args.json.write_text(json.dumps({**report, "verdicts": verdicts}, indent=1))


if __name__ == "__main__":
    main()
