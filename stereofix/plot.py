"""`check --plot`: one PNG that shows why the verdict came out as it did.

One tile per scored window: the window's middle frame, the model's attention (where it thinks the
sounding thing is) as a heat overlay, a marker for where the audio alone places the sound (from the
broadband level and time differences), and a bar with the window's p(swapped). A title line gives
the verdict. Drawn with Pillow, so no plotting library is needed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

from stereofix import features as feats
from stereofix import media
from stereofix.borders import crop
from stereofix.inputs import read_model_frames
from stereofix.models import FRAME_HEIGHT, FRAME_WIDTH
from stereofix.windows import Window, frame_times

TILE_W = 256  # pixels per window tile
MAX_TILES = 16


def audio_side(audio: np.ndarray) -> tuple[float, float]:
    """Broadband (ILD dB, ITD microseconds) of a [2, N] 16 kHz window; positive = left louder / earlier."""
    f = feats.stereo_features(torch.from_numpy(np.ascontiguousarray(audio[None, :2])))
    level = 10 ** f["bands"][0, 0]  # relative band power
    ild = float((f["bands"][0, 1] * level).sum() / level.sum() * 10)
    lag = int(f["gcc"][0].mean(-1).argmax()) - feats.GCC_MAX_LAG * feats.GCC_UPSAMPLE
    itd_us = lag / feats.GCC_UPSAMPLE / feats.SAMPLE_RATE * 1e6
    return ild, itd_us


def plot_check(path: str | Path, result, out: str | Path, analyzer=None) -> Path:
    """Draw `result` (a CheckResult for `path`) to the PNG `out`."""
    out = Path(out)
    v = result.verdict
    scored = [w for w in v.windows if w.logit is not None][:MAX_TILES]
    tiles: list[Image.Image] = []
    if scored and analyzer is not None and analyzer.model is not None:
        model = analyzer.model
        fps = model.cfg.fps
        for w in scored:
            win = Window(w.start, w.end)
            times = frame_times(win, fps)
            frames, _, bars = read_model_frames(path, None, [times], skip_b_frames=False)
            audio = media.read_audio(path, result.audio_stream, feats.SAMPLE_RATE, start=w.start, duration=w.end - w.start)[:2]
            n = model.cfg.n_samples
            audio = np.pad(audio[:, :n], ((0, 0), (0, max(0, n - audio.shape[1]))))
            with torch.inference_mode():
                fr = torch.from_numpy(frames).permute(0, 3, 1, 2)[None].to(analyzer.device)
                _, parts = model(fr, torch.from_numpy(audio)[None].to(analyzer.device), return_parts=True)
            att = parts["attention"][0].mean(0).cpu().numpy()
            shown, _ = media.read_frames(path, [times[len(times) // 2]], long_side=TILE_W)
            if bars is not None:  # the picture the model saw, without its letterbox or pillarbox bars
                shown = crop(shown, bars)
            tiles.append(_tile(shown[0], att, audio_side(audio), w.p_swapped, w.start, w.end))
    width = max(1, len(tiles)) * TILE_W
    height = (tiles[0].height if tiles else 40) + 40
    canvas = Image.new("RGB", (max(width, 640), height), (250, 250, 250))
    d = ImageDraw.Draw(canvas)
    title = f"{Path(result.path).name}: {v.verdict}"
    if v.p_swapped is not None:
        title += f"   p(swapped) = {v.p_swapped:.3f}"
    if v.stretches:
        title += "   flipped " + ", ".join(f"{a:.1f}-{b:.1f}s" for a, b in v.stretches)
    if v.reason:
        title += f"   ({v.reason})"
    d.text((8, 6), title, fill=(0, 0, 0))
    d.text((8, 22), "heat = where the model sees the sounding thing; triangle = where the audio alone puts it; bar = p(swapped)",
           fill=(90, 90, 90))  # fmt: skip
    for i, t in enumerate(tiles):
        canvas.paste(t, (i * TILE_W, 40))
    out.parent.mkdir(parents=True, exist_ok=True)
    canvas.save(out)
    return out


def _tile(frame: np.ndarray, att: np.ndarray, side: tuple[float, float], p: float, start: float, end: float) -> Image.Image:
    h = int(round(TILE_W * FRAME_HEIGHT / FRAME_WIDTH))
    img = Image.fromarray(frame).resize((TILE_W, h), Image.BILINEAR).convert("RGB")
    heat = att / (att.max() + 1e-9)
    heat_img = Image.fromarray((heat * 255).astype(np.uint8)).resize((TILE_W, h), Image.BILINEAR)
    red = Image.new("RGB", (TILE_W, h), (255, 40, 0))
    img = Image.composite(red, img, heat_img.point(lambda x: int(x * 0.55)))
    tile = Image.new("RGB", (TILE_W, h + 44), (250, 250, 250))
    tile.paste(img, (0, 0))
    d = ImageDraw.Draw(tile)
    ild, itd = side
    # Audio marker: positive ILD/ITD = left; scale 10 dB or 500 us to the picture's edge.
    score = np.clip(0.5 * np.tanh(ild / 10) + 0.5 * np.tanh(itd / 500), -1, 1)
    x = int((0.5 - 0.5 * score) * (TILE_W - 1))
    d.polygon([(x - 7, h - 1), (x + 7, h - 1), (x, h - 14)], fill=(0, 120, 255), outline=(255, 255, 255))
    bar_w = int(p * (TILE_W - 4))
    colour = (200, 40, 40) if p >= 0.5 else (40, 160, 60)
    d.rectangle([2, h + 4, 2 + bar_w, h + 14], fill=colour)
    d.rectangle([2, h + 4, TILE_W - 3, h + 14], outline=(120, 120, 120))
    d.text((4, h + 18), f"{start:.1f}-{end:.1f}s p={p:.2f} ILD {ild:+.1f}dB ITD {itd:+.0f}us", fill=(0, 0, 0))
    return tile
