"""Draw docs/contact_sheet.png: a dozen synthesized scenes of different types with their truth.

    python benchmarks/contact_sheet.py [--out docs/contact_sheet.png] [--split test] [--seed 0]

Each tile shows three frames (start, middle, end) with the truth drawn on them: a green ring on
sounding visible objects, a red cross on silent distractors, a green arrow at the edge towards an
off-screen source; under them the L/R envelopes (channel 0 in blue, 1 in orange), the measured ILD
and GCC-PHAT ITD, and the truth (type, mic model, side, hfov, RT60, codec).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from stereofix.synth import render_scene
from stereofix.synth.spatial import MIC_MODELS

TYPES = ("single", "moving", "distractors", "two_opposite", "centred", "offscreen", "dual_mono", "noise_only",
         "single", "moving", "distractors", "two_opposite")
TILE_H = 150  # px, height of the frame strip in a tile


def _font(size: int):
    try:
        return ImageFont.truetype("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", size)
    except OSError:
        return ImageFont.load_default()


def _cues(audio: np.ndarray, rate: int) -> tuple[float, float]:
    e0, e1 = float(np.sum(audio[0] ** 2.0)), float(np.sum(audio[1] ** 2.0))
    ild = 10 * np.log10((e0 + 1e-20) / (e1 + 1e-20))
    n = 2 * audio.shape[1]
    c = np.fft.rfft(audio[1], n) * np.conj(np.fft.rfft(audio[0], n))
    r = np.fft.irfft(c / (np.abs(c) + 1e-12), n)
    m = int(0.001 * rate)
    lag = int(np.argmax(np.concatenate([r[-m:], r[: m + 1]]))) - m
    return ild, 1000.0 * lag / rate


def tile(scene) -> Image.Image:
    t = scene.truth
    f = scene.frames
    idx = [0, len(f) // 2, len(f) - 1]
    h, w = f.shape[1:3]
    s = TILE_H / h
    fw = int(w * s)
    strip = Image.new("RGB", (3 * fw + 8, TILE_H), (255, 255, 255))
    d = ImageDraw.Draw(strip)
    for j, k in enumerate(idx):
        x0 = j * (fw + 4)
        strip.paste(Image.fromarray(f[k]).resize((fw, TILE_H), Image.NEAREST), (x0, 0))
        for o in t["objects"]:
            u, v = o["u"][k], o["v"][k]
            if not o["visible"]:
                if o["sounding"]:
                    x = x0 + (4 if u < 0 else fw - 4)
                    y = TILE_H / 2
                    pts = [(x, y), (x + (12 if u < 0 else -12), y - 8), (x + (12 if u < 0 else -12), y + 8)]
                    d.polygon(pts, fill=(0, 230, 0))
                continue
            x, y = x0 + u * fw, v * TILE_H
            r = 0.2 * TILE_H
            if o["sounding"]:
                d.ellipse([x - r, y - r, x + r, y + r], outline=(0, 255, 0), width=3)
            else:
                d.line([x - 8, y - 8, x + 8, y + 8], fill=(255, 0, 0), width=3)
                d.line([x - 8, y + 8, x + 8, y - 8], fill=(255, 0, 0), width=3)
    width = max(strip.width, 470)  # room for the text under portrait strips
    img = Image.new("RGB", (width, TILE_H + 120), (250, 250, 250))
    img.paste(strip, (0, 0))
    d = ImageDraw.Draw(img)
    # L/R envelopes.
    a = scene.audio
    hop = max(1, a.shape[1] // width)
    env = np.sqrt(np.mean(a[:, : hop * (a.shape[1] // hop)].reshape(2, -1, hop) ** 2, axis=2))
    env = env / (env.max() + 1e-9)
    y0, eh = TILE_H + 4, 36
    for c, col in ((0, (30, 90, 220)), (1, (240, 140, 20))):
        pts = [(i * width / env.shape[1], y0 + eh - env[c, i] * eh) for i in range(env.shape[1])]
        d.line(pts, fill=col, width=1)
    ild, itd_ms = _cues(a, scene.sample_rate)
    mic = t["mic"]["model"]
    azs = ", ".join(f"{np.mean(o['azimuth_deg']):+.0f}" for o in t["objects"] if o["sounding"]) or "-"
    sounds = ", ".join(f"{o['sound']['kind']}:{o['sound']['group'].split(':')[-1]}" for o in t["objects"] if o["sounding"])
    lines = [
        f"{t['scene_type']}   side {t['side']:+d} (audio {t['audio_side']:+d})   {mic}",
        f"hfov {t['hfov_deg']:.0f} deg  {t['aspect']}  RT60 {t['room']['rt60_s']:.2f} s  "
        f"{t['level_dbfs']:.0f} dBFS  {'AAC ' + str(t['codec']['bit_rate'] // 1000) + 'k' if t['codec'] else 'no codec'}",
        f"ILD {ild:+.1f} dB  ITD {itd_ms:+.2f} ms (+: ch0 earlier)  az {azs}",
        (sounds or "no source")[:70],
    ]
    font = _font(12)
    for i, line in enumerate(lines):
        d.text((4, y0 + eh + 4 + 15 * i), line, fill=(0, 0, 0), font=font)
    return img


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--out", default="docs/contact_sheet.png")
    p.add_argument("--split", default="test")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    tiles = []
    for i, st in enumerate(TYPES):
        mic = MIC_MODELS[i % len(MIC_MODELS)]
        scene = render_scene(args.seed + i, args.split, scene_type=st, mic_model=mic,
                             duration_s=2.0, fps=8.0, long_side=256)
        tiles.append(tile(scene))
    cols = 3
    tw = max(t.width for t in tiles)
    th = max(t.height for t in tiles)
    sheet = Image.new("RGB", (cols * (tw + 10) + 10, (len(tiles) + cols - 1) // cols * (th + 10) + 40), (255, 255, 255))
    d = ImageDraw.Draw(sheet)
    d.text((10, 8), f"stereofix synthetic scenes ({args.split} split, seeds {args.seed}..{args.seed + len(tiles) - 1}): "
           "green ring = sounding, red cross = silent distractor, green arrow = off-screen source; "
           "side +1 = left of picture", fill=(0, 0, 0), font=_font(14))
    for i, t in enumerate(tiles):
        sheet.paste(t, (10 + (i % cols) * (tw + 10), 35 + (i // cols) * (th + 10)))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    sheet.save(args.out, optimize=True)
    print(args.out)


if __name__ == "__main__":
    main()
