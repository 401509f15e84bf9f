"""From per-window "flipped" logits to one verdict per file, with a calibrated probability.

The model scores windows independently; this module pools them. Calibration constants are
fitted on the synthesizer's validation split (never on the benchmark) and travel inside the
weights file, so a retrained model brings its own.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

VERDICTS = ("ok", "swapped", "mixed", "uncertain", "not-spatial", "polarity", "no-audio", "no-video")


@dataclass(frozen=True)
class Calibration:
    """Fitted on the validation split by `stereofix train flip` (see weights/README.md)."""

    window_temperature: float = 1.0  # window logit / T -> calibrated window probability
    clip_scale: float = 1.0  # mean calibrated window logit * scale -> clip logit
    clip_bias: float = 0.0  # kept 0: swapping the channels must exactly flip the answer
    decide: float = 0.9  # clip probability needed to call ok / swapped
    window_decide: float = 0.9  # window probability needed to count a window as clearly flipped/not
    min_windows: int = 1  # scored windows needed before deciding anything

    @classmethod
    def from_dict(cls, d: dict | None) -> "Calibration":
        if not d:
            return cls()
        known = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        return cls(**known)


@dataclass
class WindowScore:
    start: float  # seconds, container timeline
    end: float
    logit: float | None  # raw model logit; None when the window was skipped
    p_swapped: float | None  # calibrated
    skipped: str | None = None  # e.g. "silence"


@dataclass
class Verdict:
    verdict: str
    probability: float | None  # probability that `verdict` is right (ok/swapped/mixed); None otherwise
    p_swapped: float | None
    windows: list[WindowScore] = field(default_factory=list)
    stretches: list[tuple[float, float]] = field(default_factory=list)  # flipped stretches (mixed)
    reason: str | None = None

    def to_dict(self) -> dict:
        d = asdict(self)
        d["stretches"] = [list(s) for s in self.stretches]
        return d


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, x))))


def decide(windows: list[WindowScore], cal: Calibration) -> Verdict:
    """Pool window logits into ok / swapped / mixed / uncertain.

    Each window's logit is temperature-scaled into a probability. The clip logit is the scaled mean
    of the window logits (so it is exactly antisymmetric: swapping every window flips the verdict).
    `mixed` needs at least two clearly flipped and two clearly unflipped windows, each group at least a
    fifth of the scored windows, so one confused window cannot split a file.
    """
    for w in windows:
        if w.logit is not None:
            w.p_swapped = _sigmoid(w.logit / cal.window_temperature)
    scored = [w for w in windows if w.logit is not None]
    if len(scored) < cal.min_windows or not scored:
        return Verdict("uncertain", None, None, windows, reason="no window with sound to judge")
    mean = sum(w.logit / cal.window_temperature for w in scored) / len(scored)
    p = _sigmoid(cal.clip_scale * mean + cal.clip_bias)
    flipped = [w for w in scored if w.p_swapped >= cal.window_decide]
    straight = [w for w in scored if w.p_swapped <= 1 - cal.window_decide]
    share = max(2, math.ceil(0.2 * len(scored)))
    if len(flipped) >= share and len(straight) >= share:
        clear = len(flipped) + len(straight)
        return Verdict("mixed", clear / len(scored), p, windows, _stretches(scored, cal.window_decide))
    if p >= cal.decide:
        return Verdict("swapped", p, p, windows)
    if p <= 1 - cal.decide:
        return Verdict("ok", 1 - p, p, windows)
    return Verdict("uncertain", None, p, windows, reason="evidence too weak to decide")


def _stretches(scored: list[WindowScore], threshold: float) -> list[tuple[float, float]]:
    """Runs of consecutive clearly flipped windows, as (start, end) stretches.

    Windows of a long file have gaps between them; a run's edges are put halfway between its outer
    windows and their scored neighbours, which is where the evidence changes side.
    """
    ws = sorted(scored, key=lambda w: w.start)
    out: list[tuple[float, float]] = []
    i = 0
    while i < len(ws):
        if ws[i].p_swapped < threshold:
            i += 1
            continue
        j = i
        while j + 1 < len(ws) and ws[j + 1].p_swapped >= threshold:
            j += 1
        lo = ws[i].start if i == 0 else max(ws[i].start - 0.5 * max(0.0, ws[i].start - ws[i - 1].end), ws[i - 1].end)
        hi = ws[j].end if j == len(ws) - 1 else min(ws[j].end + 0.5 * max(0.0, ws[j + 1].start - ws[j].end), ws[j + 1].start)
        out.append((round(lo, 3), round(hi, 3)))
        i = j + 1
    return out
