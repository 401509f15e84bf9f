"""Pictures: photographic backgrounds, sprites for objects, animation, camera and compression.

Objects are sprites (RGBA float arrays) drawn at a handful of animation levels and cached, so a
frame costs a few alpha blends. A sounding object is animated by its own sound's envelope: a face
opens its mouth, other things bounce, grow and brighten at onsets. Objects are composited on a
canvas a little larger than the picture; the camera (shake and zoom) crops and resizes it.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

OBJECT_KINDS = ("face", "photo_face", "instrument", "hands", "speaker", "patch")
ANIM_LEVELS = 8  # distinct animation states drawn per object
CANVAS_MARGIN = 1.25  # canvas size / picture size, room for shake and zoom
ASPECTS = {"16:9": (16, 9), "4:3": (4, 3), "9:16": (9, 16), "3:4": (3, 4)}


def frame_size(aspect: str, long_side: int) -> tuple[int, int]:
    """(H, W), both even, for an aspect name and a long side in pixels."""
    a, b = ASPECTS[aspect]
    if a >= b:
        w, h = long_side, long_side * b / a
    else:
        h, w = long_side, long_side * a / b
    return int(round(h / 2)) * 2, int(round(w / 2)) * 2


def dead_leaves(rng: np.random.Generator, h: int = 384, w: int = 512) -> np.ndarray:
    """A procedural picture [h, w, 3] uint8: overlapping shapes of random colours whose sizes follow
    a power law (the "dead leaves" model, whose statistics are close to natural images'), then
    film grain and a little blur.

    The bank has 16 training photographs; a gate that learns what a sounding thing looks like
    against them alone closed on the test split's three (README "Design notes"). Training may draw
    these instead (`render_scene(texture_share=...)`), an unbounded supply of backgrounds and patches.
    """
    # A few colours around one random mean, some pictures nearly grey, as photographs mostly are.
    palette = np.clip(rng.uniform(40, 215, 3) + rng.uniform(0.2, 1.0) * rng.normal(0, 60, (int(rng.integers(2, 8)), 3)), 0, 255)
    img = Image.new("RGB", (w, h), tuple(int(c) for c in palette[0]))
    d = ImageDraw.Draw(img)
    rmin, rmax = 3.0, max(h, w) / 3
    for _ in range(int(rng.integers(400, 1500))):
        # Radius density ~ r^-2 between rmin and rmax (inverse CDF): enough large shapes to cover
        # the picture, with detail at every scale.
        r = 1.0 / (1.0 / rmin - rng.random() * (1.0 / rmin - 1.0 / rmax))
        x, y = rng.uniform(-r, w + r), rng.uniform(-r, h + r)
        c = np.clip(palette[int(rng.integers(len(palette)))] + rng.normal(0, 20, 3), 0, 255)
        fill = tuple(int(v) for v in c)
        shape = rng.random()
        if shape < 0.5:
            a = rng.uniform(0.4, 1.0)
            d.ellipse([x - r, y - r * a, x + r, y + r * a], fill=fill)
        elif shape < 0.8:
            d.rectangle([x - r, y - r * rng.uniform(0.2, 1.0), x + r, y + r * rng.uniform(0.2, 1.0)], fill=fill)
        else:
            angles = np.sort(rng.uniform(0, 2 * np.pi, int(rng.integers(3, 7))))
            d.polygon([(x + r * np.cos(t), y + r * np.sin(t)) for t in angles], fill=fill)
    blur = rng.uniform(0, 1.5)
    if blur > 0.3:
        img = img.filter(ImageFilter.GaussianBlur(blur))
    light = 1 + rng.uniform(-0.35, 0.35) * np.linspace(-1, 1, w)[None, :, None] + rng.uniform(-0.35, 0.35) * np.linspace(-1, 1, h)[:, None, None]
    a = np.asarray(img, np.float32) * light.astype(np.float32) + rng.normal(0, rng.uniform(0, 12), (h, w, 1)).astype(np.float32)
    return np.clip(a, 0, 255).astype(np.uint8)


def background(rng: np.random.Generator, photo: np.ndarray, hc: int, wc: int) -> np.ndarray:
    """A random crop of `photo` resized to the canvas [hc, wc, 3] float32 0..255, maybe mirrored and recoloured."""
    ph, pw = photo.shape[:2]
    target = wc / hc
    scale = rng.uniform(0.5, 1.0)
    ch = int(min(ph, pw / target) * scale)
    cw = int(ch * target)
    y0 = int(rng.integers(0, ph - ch + 1))
    x0 = int(rng.integers(0, pw - cw + 1))
    img = Image.fromarray(photo[y0:y0 + ch, x0:x0 + cw]).resize((wc, hc), Image.BILINEAR)
    a = np.asarray(img, np.float32)
    if rng.random() < 0.5:
        a = a[:, ::-1]
    a = a * rng.uniform(0.75, 1.15, 3)[None, None, :] + rng.uniform(-20, 20)
    return np.clip(a, 0, 255)


def _rgba(img: Image.Image) -> np.ndarray:
    return np.asarray(img, np.float32) / 255.0


class Sprite:
    """An object's look at ANIM_LEVELS animation states, drawn lazily; get(level) -> [h, w, 4]."""

    def __init__(self, kind: str, size: int, rng: np.random.Generator, photo: np.ndarray | None = None,
                 face: np.ndarray | None = None):
        self.kind, self.size = kind, max(8, size)
        self.colour = tuple(int(c) for c in rng.integers(40, 230, 3))
        self.skin = tuple(int(c) for c in np.array([230, 190, 160]) * rng.uniform(0.45, 1.05))
        self.variant = int(rng.integers(0, 4))
        self.patch = None
        if kind == "patch" and photo is not None:
            ph, pw = photo.shape[:2]
            s = int(min(ph, pw) * rng.uniform(0.15, 0.4))
            y0, x0 = int(rng.integers(0, ph - s + 1)), int(rng.integers(0, pw - s + 1))
            self.patch = np.asarray(Image.fromarray(photo[y0:y0 + s, x0:x0 + s]).resize((self.size, self.size)), np.float32) / 255
        if kind == "photo_face" and face is not None:
            g = np.asarray(Image.fromarray(face).resize((self.size, self.size), Image.BILINEAR), np.float32) / 255
            tint = np.array(self.skin, np.float32) / 200
            self.patch = np.clip(g[..., None] * tint[None, None, :] * 1.2, 0, 1)
        self.cache: dict[int, np.ndarray] = {}

    def get(self, level: int) -> np.ndarray:
        level = int(np.clip(level, 0, ANIM_LEVELS - 1))
        if level not in self.cache:
            self.cache[level] = self._draw(level / (ANIM_LEVELS - 1))
        return self.cache[level]

    def _draw(self, a: float) -> np.ndarray:
        s = self.size
        k = self.kind
        if k in ("patch", "photo_face"):
            yy, xx = np.mgrid[0:s, 0:s]
            r = ((yy - s / 2 + 0.5) / (s / 2)) ** 2 + ((xx - s / 2 + 0.5) / (s / 2 * (0.8 if k == "photo_face" else 1))) ** 2
            alpha = np.clip((1 - r) * 8, 0, 1)[..., None]
            rgb = self.patch * (1 + 0.5 * a) if k == "patch" else self.patch.copy()
            if k == "photo_face":  # a mouth that opens with the voice
                mh, mw = int(s * (0.02 + 0.12 * a)), int(s * 0.14)
                cy, cx = int(s * 0.78), s // 2
                rgb[max(0, cy - mh):cy + mh + 1, cx - mw:cx + mw + 1] = (0.25, 0.05, 0.05)
            return np.concatenate([np.clip(rgb, 0, 1), alpha], axis=-1).astype(np.float32)
        img = Image.new("RGBA", (s, s), (0, 0, 0, 0))
        d = ImageDraw.Draw(img)
        c = self.colour
        if k == "face":
            d.ellipse([s * 0.12, s * 0.05, s * 0.88, s * 0.95], fill=self.skin + (255,))
            d.ellipse([s * 0.1, 0, s * 0.9, s * 0.3], fill=tuple(v // 3 for v in c) + (255,))  # hair
            for ex in (0.35, 0.65):
                d.ellipse([s * (ex - 0.06), s * 0.38, s * (ex + 0.06), s * 0.48], fill=(255, 255, 255, 255))
                d.ellipse([s * (ex - 0.03), s * 0.40, s * (ex + 0.03), s * 0.46], fill=(20, 20, 20, 255))
            mh = s * (0.015 + 0.13 * a)
            d.ellipse([s * 0.36, s * 0.72 - mh, s * 0.64, s * 0.72 + mh], fill=(110, 20, 30, 255))
        elif k == "instrument":
            if self.variant == 0:  # guitar
                d.ellipse([s * 0.15, s * 0.45, s * 0.75, s * 0.98], fill=c + (255,))
                d.ellipse([s * 0.25, s * 0.25, s * 0.65, s * 0.62], fill=c + (255,))
                d.ellipse([s * 0.38, s * 0.6, s * 0.52, s * 0.74], fill=(20, 20, 20, 255))
                d.rectangle([s * 0.41, s * 0.02, s * 0.49, s * 0.6], fill=(90, 60, 30, 255))
            elif self.variant == 1:  # drum
                d.rectangle([s * 0.1, s * 0.35, s * 0.9, s * 0.85], fill=c + (255,))
                d.ellipse([s * 0.1, s * 0.2, s * 0.9, s * 0.5], fill=(235, 235, 225, 255))
            elif self.variant == 2:  # keyboard
                d.rectangle([s * 0.02, s * 0.35, s * 0.98, s * 0.7], fill=(250, 250, 250, 255), outline=(0, 0, 0, 255))
                for i in range(1, 10):
                    x = s * (0.02 + 0.096 * i)
                    d.line([x, s * 0.35, x, s * 0.7], fill=(0, 0, 0, 255))
                    if i % 7 not in (3, 0):
                        d.rectangle([x - s * 0.02, s * 0.35, x + s * 0.02, s * 0.55], fill=(10, 10, 10, 255))
            else:  # horn
                d.polygon([(s * 0.1, s * 0.45), (s * 0.7, s * 0.2), (s * 0.7, s * 0.8)], fill=(220, 180, 60, 255))
                d.ellipse([s * 0.6, s * 0.2, s * 0.8, s * 0.8], fill=(240, 200, 80, 255))
        elif k == "hands":
            d.ellipse([s * 0.25, s * 0.45, s * 0.75, s * 0.95], fill=self.skin + (255,))
            for i, fx in enumerate((0.28, 0.4, 0.52, 0.64)):
                lift = s * 0.15 * a * (1.0 if i % 2 == 0 else 0.5)
                d.rounded_rectangle([s * fx, s * 0.12 + lift, s * (fx + 0.09), s * 0.6], radius=s * 0.04, fill=self.skin + (255,))
            d.rounded_rectangle([s * 0.72, s * 0.45, s * 0.85, s * 0.75], radius=s * 0.05, fill=self.skin + (255,))
        elif k == "speaker":
            d.rectangle([s * 0.15, s * 0.02, s * 0.85, s * 0.98], fill=(40, 40, 45, 255))
            r = s * (0.22 + 0.06 * a)
            d.ellipse([s / 2 - r, s * 0.62 - r, s / 2 + r, s * 0.62 + r], fill=c + (255,))
            d.ellipse([s * 0.4, s * 0.12, s * 0.6, s * 0.32], fill=(150, 150, 150, 255))
        rgba = _rgba(img)
        if k != "face":
            rgba[..., :3] = np.clip(rgba[..., :3] * (1 + 0.35 * a), 0, 1)
        return rgba


def paste(canvas: np.ndarray, sprite: np.ndarray, cx: float, cy: float, scale: float = 1.0) -> None:
    """Alpha-blend `sprite` [h, w, 4] (0..1) centred at canvas pixel (cx, cy), scaled by `scale`."""
    if abs(scale - 1.0) > 0.03:
        h, w = sprite.shape[:2]
        nh, nw = max(2, int(h * scale)), max(2, int(w * scale))
        ys = (np.arange(nh) * h / nh).astype(int)
        xs = (np.arange(nw) * w / nw).astype(int)
        sprite = sprite[ys][:, xs]
    h, w = sprite.shape[:2]
    y0, x0 = int(round(cy - h / 2)), int(round(cx - w / 2))
    H, W = canvas.shape[:2]
    sy0, sx0 = max(0, -y0), max(0, -x0)
    y1, x1 = min(H, y0 + h), min(W, x0 + w)
    if y1 <= max(0, y0) or x1 <= max(0, x0):
        return
    sp = sprite[sy0:sy0 + y1 - max(0, y0), sx0:sx0 + x1 - max(0, x0)]
    region = canvas[max(0, y0):y1, max(0, x0):x1]
    alpha = sp[..., 3:4]
    region[:] = region * (1 - alpha) + sp[..., :3] * 255.0 * alpha


def camera_crop(canvas: np.ndarray, h: int, w: int, cx: float, cy: float, zoom: float) -> np.ndarray:
    """Crop the canvas around (cx, cy) with a window (h, w) / zoom and resize it to (h, w), uint8."""
    ch, cw = h / zoom, w / zoom
    # Clamp the window inside the canvas: shake at large sizes can push it past an edge.
    x0 = min(max(cx - cw / 2, 0.0), canvas.shape[1] - cw)
    y0 = min(max(cy - ch / 2, 0.0), canvas.shape[0] - ch)
    img = Image.fromarray(np.clip(canvas, 0, 255).astype(np.uint8))
    return np.asarray(img.resize((w, h), Image.BILINEAR, box=(x0, y0, x0 + cw, y0 + ch)))


def jpeg(frame: np.ndarray, quality: int) -> np.ndarray:
    """Round-trip one frame through JPEG at `quality` (compression artefacts)."""
    buf = io.BytesIO()
    Image.fromarray(frame).save(buf, format="JPEG", quality=int(quality))
    buf.seek(0)
    return np.asarray(Image.open(buf).convert("RGB"))
