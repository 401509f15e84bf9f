"""Letterbox and pillarbox bars: found in a file's frames and cut off before the model looks.

A phone's portrait video published in a landscape frame, or a 4:3 film in a 16:9 one, carries black
bars that the synthesizer never draws. Stretched to the model's 72x128 with its bars, a portrait
picture fills a third of the width and every source sits near the centre: measured on the
validation clips padded that way, the clear-sided abstention went from 11% to 41% (README "Design
notes"). Cutting the bars restores the picture the model was trained on.

The cut is always the same on both sides (the smaller of the two bars), so the picture's centre never
moves and nothing left of centre can end up right of it: a dark picture with one dark edge is left
as it is. A bar is a run of edge columns (or rows) darker than BLACK_LIMIT in every frame read from
the file, which a real scene almost never is, or, for bars padded in another colour (white, grey),
a run as flat as FLAT_RANGE in every frame and of one shade on both sides.

Phones also publish a portrait video in a landscape frame (or a landscape one in a portrait frame)
over a blurred, enlarged copy of itself instead of black bars. Those sides are found by what makes
them: they carry little detail (`COPY_DETAIL`), the step to the picture is at the same distance from
both edges, and what they show is the picture itself scaled up to cover the frame (`COPY_MATCH`,
the correlation of the sides with that scaled copy, on a coarse grid so the blur does not matter).
The three thresholds were chosen on validation clips as rendered and re-encoded that way (README
"Design notes"); a picture whose own sides are plain (a defocused background) fails the third.
A smoothly graded wall or sky fits a scaled-up picture too (a gradient looks like itself scaled),
but it fits the picture's own edge carried outward as well, which a scaled copy does not: the
sides must fit the scaled picture better by `COPY_MARGIN` (the scale check).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

BLACK_LIMIT = 24  # luma (0-255) a bar's pixels stay under in every frame (ffmpeg cropdetect's default)
FLAT_RANGE = 10  # luma levels every pixel of a plain bar of another colour stays within, in every frame
MIN_BAR = 0.015  # bars narrower than this share of the side are left alone (a codec's edge, a few pixels)
MIN_KEPT = 0.25  # a picture narrower than this share is not trusted to be a picture: nothing is cut
_LUMA = np.array([0.299, 0.587, 0.114], np.float32)

COPY_SCREEN = 0.5  # outer tenths' detail / centre's, at the model's size, below which a copy is looked for
COPY_DETAIL = 0.4  # the sides' detail / the picture's, at the found seam, must be below this
COPY_MATCH = 0.8  # and the sides must correlate at least this well with the picture scaled to cover
COPY_MARGIN = 0.1  # and fit it better, by this much, than the picture unscaled (its edge carried outward)
COPY_SCALE = 4  # a possible copy is looked for in frames decoded at this many times the model's size
_COPY_FRAMES = 32  # frames (evenly spread) the copy test reads: enough, and bounded in memory
COPY_PROBE_FRAMES = 16  # frames near the windows' keyframes that must show a copy before all are decoded larger
# How far those few frames may fall short of (COPY_DETAIL, COPY_MATCH, COPY_MARGIN) and still have
# all frames read: twice the largest shortfall of the probe frames on the validation copies,
# rounded up to 0.05 (README "Design notes", session 27). The cut itself is the strict test's.
PROBE_SLACK = (0.05, 0.15, 0.10)
_STRICT = (0.0, 0.0, 0.0)


@dataclass(frozen=True)
class Bars:
    """Share of the width cut on each side, share of the height cut at top and bottom."""

    x: float
    y: float

    @property
    def kept(self) -> tuple[float, float]:
        """Share of (width, height) that is picture."""
        return 1 - 2 * self.x, 1 - 2 * self.y


def find_bars(frames: np.ndarray) -> Bars | None:
    """The bars of frames [N, H, W, 3] uint8 (all taken from one file), or None when there are none:
    black ones, or plain ones of any one colour (`_flat_bar`)."""
    if frames.size == 0:
        return None
    luma = frames.reshape(-1, *frames.shape[-3:]) @ _LUMA  # [N, H, W]
    x = _bar(luma.max(axis=(0, 1))) or _flat_bar(luma)
    y = _bar(luma.max(axis=(0, 2))) or _flat_bar(luma.swapaxes(1, 2))
    return Bars(x, y) if x or y else None


def _bar(profile: np.ndarray) -> float:
    """Share cut on each side of a max-luma profile along one axis: the shorter dark run at its ends."""
    n = profile.size
    bright = np.flatnonzero(profile > BLACK_LIMIT)
    if bright.size == 0:
        return 0.0  # black throughout: no picture to find
    cut = min(int(bright[0]), n - 1 - int(bright[-1]))
    share = cut / n
    if share < MIN_BAR or 1 - 2 * share < MIN_KEPT:
        return 0.0
    return share


def _flat_bar(luma: np.ndarray) -> float:
    """Share cut on each side along the last axis of luma [N, H, W] where both sides are plain bars
    of one colour: columns whose every pixel, in every frame, is within FLAT_RANGE of the rest,
    the two sides' runs of one shade (within FLAT_RANGE). Black bars are `_bar`'s."""
    lo, hi, mean = luma.min(axis=(0, 1)), luma.max(axis=(0, 1)), luma.mean(axis=(0, 1))
    flat = hi - lo <= FLAT_RANGE
    n = flat.size
    if not (flat[0] and flat[-1]) or abs(mean[0] - mean[-1]) > FLAT_RANGE:
        return 0.0
    shade = (mean[0] + mean[-1]) / 2
    bar = flat & (np.abs(mean - shade) <= FLAT_RANGE)
    left = int(np.argmin(bar)) if not bar.all() else n
    right = int(np.argmin(bar[::-1])) if not bar.all() else n
    share = min(left, right) / n
    if share < MIN_BAR or 1 - 2 * share < MIN_KEPT:
        return 0.0
    return share


def might_have_copy(frames: np.ndarray) -> bool:
    """Whether frames [N, H, W, 3] (the model's size) may show a picture over a blurred copy of itself:
    the outer tenths on one axis carry far less detail than the middle. Cheap, and loose: it passes
    pictures with plain edges too (7% of the validation clips, 37% of test18's plainer ones), which
    then cost only a loose `find_copy_sides` on a few frames the first decode also gave larger
    (`PROBE_SLACK`, inputs.read_model_frames); only those that pass it are decoded again. A copy
    correlation at this size was tried as a tighter screen and dropped: the seam fitted at 128
    columns is too coarse to trust (README "Design notes", session 26)."""
    luma = _luma(frames)
    return any(_edge_ratio(_detail(v)) < COPY_SCREEN for v in (luma, luma.swapaxes(1, 2)))


def find_copy_sides(frames: np.ndarray, slack: tuple[float, float, float] = _STRICT) -> Bars | None:
    """The blurred-copy sides of frames [N, H, W, 3] from one file (decoded larger than the model's
    size, `COPY_SCALE`), as a cut on both sides (left/right or top/bottom), or None. `slack`
    loosens the three thresholds (`is_copy`) for a first look at a few frames."""
    luma = _luma(frames)
    cols = _copy_cut(luma, slack)
    if cols:
        return Bars(cols, 0.0)
    rows = _copy_cut(luma.swapaxes(1, 2), slack)
    return Bars(0.0, rows) if rows else None


def _luma(frames: np.ndarray) -> np.ndarray:
    frames = frames.reshape(-1, *frames.shape[-3:])
    pick = np.unique(np.linspace(0, len(frames) - 1, min(len(frames), _COPY_FRAMES)).round().astype(int))
    return frames[pick] @ _LUMA  # [n, H, W] float32


def _detail(luma: np.ndarray) -> np.ndarray:
    """Mean absolute step between neighbouring rows, per column: [W]. Blur flattens it."""
    return np.abs(np.diff(luma, axis=1)).mean(axis=(0, 1))


def _edge_ratio(d: np.ndarray) -> float:
    n = d.size
    e = max(1, n // 10)
    centre = d[int(n * 0.35): int(n * 0.65)].mean()
    return float(np.r_[d[:e], d[-e:]].mean() / (centre + 1e-6))


def _copy_cut(luma: np.ndarray, slack: tuple[float, float, float] = _STRICT) -> float:
    """Share cut on each side along the last axis of luma [n, H, W] where its sides are a copy."""
    fit = seam_fit(_detail(luma))
    if fit is None or fit[1] >= COPY_DETAIL + slack[0]:
        return 0.0  # sides as detailed as the picture: no correlation needed to say no
    k, ratio = fit
    return k / luma.shape[-1] if is_copy(ratio, _copy_match(luma, k), _copy_match(luma, k, 1.0), slack=slack) else 0.0


def is_copy(ratio: float, cover: float, unscaled: float, margin: float | None = None,
            slack: tuple[float, float, float] = _STRICT) -> bool:
    """The copy test on a fitted seam's statistics: the sides' detail over the picture's, and their
    correlation with the picture scaled to cover the frame and unscaled (`_copy_match`); `margin`
    defaults to COPY_MARGIN, and `slack` loosens the three thresholds. Separate so that
    benchmarks/copy_screen.py replays exactly this rule on recorded statistics."""
    margin = COPY_MARGIN if margin is None else margin
    d, c, m = slack
    return ratio < COPY_DETAIL + d and cover >= COPY_MATCH - c and cover - unscaled >= margin - m


def seam_fit(d: np.ndarray) -> tuple[int, float] | None:
    """The symmetric two-level fit of a per-column detail profile d [W]: the columns k cut on each
    side that best split it into outer and inner levels, and the outer level over the inner one."""
    w = d.size
    best = None
    for k in range(max(1, int(w * MIN_BAR)), int(w * (1 - MIN_KEPT) / 2) + 1):
        out, inside = np.r_[d[:k], d[w - k:]], d[k: w - k]
        sse = out.var() * out.size + inside.var() * inside.size
        if best is None or sse < best[0]:
            best = (sse, k, float(out.mean() / (inside.mean() + 1e-6)))
    return None if best is None else best[1:]


def _copy_match(luma: np.ndarray, k: int, scale: float | None = None) -> float:
    """Correlation of the sides (outside columns k..W-k) with the picture scaled up to cover the
    frame (or by `scale`; 1: its edge columns carried outward), both averaged over cells of 1/32 of
    the width (coarser than any blur that hides detail)."""
    n, h, w = luma.shape
    wp = w - 2 * k
    s = w / wp if scale is None else scale
    ys = np.clip(np.rint((np.arange(h) - h / 2 + 0.5) / s + h / 2 - 0.5).astype(int), 0, h - 1)
    xs = np.clip(np.rint((np.arange(w) - w / 2 + 0.5) / s + wp / 2 - 0.5).astype(int), 0, wp - 1)
    pred = luma[:, :, k: w - k][:, ys][:, :, xs]
    cell = max(2, w // 32)
    kc = k // cell
    if kc < 1:
        return 0.0
    gh, gw = h // cell, w // cell

    def coarse(a: np.ndarray) -> np.ndarray:
        return a[:, : gh * cell, : gw * cell].reshape(n, gh, cell, gw, cell).mean(axis=(2, 4))

    side = np.r_[np.arange(kc), np.arange(gw - kc, gw)]
    a, b = coarse(pred)[:, :, side].ravel(), coarse(luma)[:, :, side].ravel()
    a, b = a - a.mean(), b - b.mean()
    return float((a * b).sum() / np.sqrt((a * a).sum() * (b * b).sum() + 1e-9))


def crop(frames: np.ndarray, bars: Bars) -> np.ndarray:
    """frames [..., H, W, 3] with the bars cut off (same cut on opposite sides)."""
    h, w = frames.shape[-3:-1]
    dx, dy = int(round(bars.x * w)), int(round(bars.y * h))
    return frames[..., dy : h - dy, dx : w - dx, :]


def area_resize(frames: np.ndarray, height: int, width: int) -> np.ndarray:
    """frames [..., H, W, 3] uint8 resized to (height, width) by pixel-area averaging (FFmpeg's
    AREA, which decodes the model's frames, does the same for downscaling)."""
    h, w = frames.shape[-3:-1]
    if (h, w) == (height, width):
        return frames
    x = np.moveaxis(frames.astype(np.float32), -1, -3)  # [..., 3, H, W]
    out = np.moveaxis(_area(h, height) @ x @ _area(w, width).T, -3, -1)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def _area(n_in: int, n_out: int) -> np.ndarray:
    """[n_out, n_in] weights: each output pixel averages the input pixels it covers, by overlap."""
    edges = np.arange(n_out + 1) * (n_in / n_out)
    lo, hi = edges[:-1, None], edges[1:, None]
    px = np.arange(n_in)[None, :]
    overlap = np.clip(np.minimum(hi, px + 1) - np.maximum(lo, px), 0, None)
    return (overlap / overlap.sum(1, keepdims=True)).astype(np.float32)
