"""Where to look in a file: pure functions from durations (seconds) to window start times.

`check` reads a bounded number of windows spread over the whole file, so its cost is nearly
flat in the file's length; starts snap to keyframes so each window decodes from the keyframe it
begins at instead of from one up to a GOP earlier.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

WINDOW_S = 2.0  # seconds of audio (and frames under it) the model judges at once
MAX_WINDOWS = 16  # windows read from any one file
MIN_WINDOW_S = 1.0  # a file shorter than this gets one zero-padded window
FRAME_HEIGHT = 72  # pixels the model sees of a frame; any aspect is stretched (horizontal position is preserved)
FRAME_WIDTH = 128
MODEL_FPS = 4.0  # frames the model sees per second of window
# Seconds at the start of each judged window whose every frame is decoded for the picture-sound
# synchrony (stereofix.sync): a mouth or a strike follows its sound at a few tens of milliseconds,
# which the model's frames, a quarter second apart, cannot show (README "Design notes", session 32).
SYNC_SPAN_S = 1.0
# A short file is tiled by windows this fraction of a window apart (at most MAX_WINDOWS of them).
# A quarter, not a half: the model's frames sit at fixed instants of a window, so windows a half
# (1 s) apart see the same instants, and windows 0.53 s apart see new ones. On the validation clips
# that took the clear-sided abstention from 14.9% to 13.4% (README "Design notes", session 28).
SHORT_HOP = 0.25
# Files up to SHORT_FILE_S are tiled with up to SHORT_WINDOWS_FACTOR times the window cap (24 by
# default): reading them densely is cheap, and a clip's verdict gains from more views of it. Longer
# files keep the cap, so `check`'s cost stays flat in their length.
SHORT_FILE_S = 15.0
SHORT_WINDOWS_FACTOR = 1.0


@dataclass(frozen=True)
class Window:
    start: float  # seconds, container timeline
    end: float

    @property
    def mid(self) -> float:
        return 0.5 * (self.start + self.end)


def plan_windows(
    start: float,
    duration: float,
    window_s: float = WINDOW_S,
    max_windows: int = MAX_WINDOWS,
    keyframes: Sequence[float] | None = None,
) -> list[Window]:
    """Evenly spread windows over [start, start + duration), snapped to keyframes where possible.

    Short files are tiled by windows SHORT_HOP of a window apart; long files get `max_windows` windows
    spread evenly, so the start, middle and end of the file are all seen.
    """
    if duration <= 0:
        return []
    if duration <= window_s:
        return [Window(start, start + window_s)]
    # Windows overlap on short files: more views of the same sound, and finer edges for `mixed`
    # stretches, at a cost that only matters on files too long to be tiled anyway.
    cap = short_cap(max_windows) if duration <= SHORT_FILE_S else max_windows
    n = min(cap, math.ceil((duration - window_s) / (window_s * SHORT_HOP) - 1e-9) + 1)
    span = duration - window_s
    targets = [start + span * i / (n - 1) for i in range(n)] if n > 1 else [start]
    if keyframes and n == cap and span / (n - 1) >= window_s / 2:
        # Sparse windows over a long file: start each at a keyframe so it decodes no earlier GOP.
        # Short files get exact, overlapping windows instead (snapped, they would pile up on the
        # few keyframes there are); their decode cost is small anyway.
        targets = [_snap(t, keyframes, start, start + span) for t in targets]
    starts = sorted(set(round(t, 6) for t in targets))
    return [Window(s, s + window_s) for s in starts]


def short_cap(max_windows: int) -> int:
    """Windows a file of at most SHORT_FILE_S may get when the cap for other files is `max_windows`."""
    return max(max_windows, math.ceil(max_windows * SHORT_WINDOWS_FACTOR - 1e-9))


def planning_key() -> str:
    """How short files are tiled, for caches of decoded windows ("" for the first way)."""
    key = "" if SHORT_HOP == 0.5 else f"|hop{SHORT_HOP}"
    return key if SHORT_WINDOWS_FACTOR == 1.0 else f"{key}|short{SHORT_FILE_S}x{SHORT_WINDOWS_FACTOR}"


def _snap(t: float, keyframes: Sequence[float], lo: float, hi: float) -> float:
    """The keyframe inside [lo, hi] nearest to `t`, or `t` when none is within two windows of it."""
    inside = [k for k in keyframes if lo <= k <= hi]
    if not inside:
        return t
    best = min(inside, key=lambda k: abs(k - t))
    return float(best) if abs(best - t) <= WINDOW_S * 2 else t


def slot_centres(n: int, fps: float) -> list[float]:
    """Seconds from a window's start of its `n` frames: centred in `fps` slots (training renders there too)."""
    return [(i + 0.5) / fps for i in range(n)]


def frame_times(window: Window, fps: float) -> list[float]:
    """Times of the frames the model sees in a window: centred in `fps` slots."""
    n = max(1, int(round((window.end - window.start) * fps)))
    return [window.start + c for c in slot_centres(n, fps)]
