"""From per-window "flipped" logits to one verdict per file, with a calibrated probability.

The model scores windows independently; this module pools them. Calibration constants are
fitted on the synthesizer's validation split (never on the benchmark) and travel inside the
weights file, so a retrained model brings its own.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from stereofix.diagnostics import AudioDiagnosis

VERDICTS = ("ok", "swapped", "mixed", "uncertain", "not-spatial", "polarity", "no-audio", "no-video")
EXIT_OK, EXIT_SWAP, EXIT_ERROR, EXIT_UNDETERMINED = 0, 1, 2, 3
VERDICT_EXIT = {
    "ok": EXIT_OK,
    "swapped": EXIT_SWAP,
    "mixed": EXIT_SWAP,
    "polarity": EXIT_SWAP,
    "uncertain": EXIT_UNDETERMINED,
    "not-spatial": EXIT_UNDETERMINED,
    "no-audio": EXIT_ERROR,
    "no-video": EXIT_ERROR,
}
MAX_SEGMENTS = 3  # a `mixed` file's stretches: one flipped stretch at its start, its end or in between


@dataclass(frozen=True)
class Calibration:
    """Fitted on the validation split by `stereofix train flip` (see weights/README.md)."""

    window_temperature: float = 1.0  # window logit / T -> calibrated window probability
    clip_scale: float = 1.0  # mean calibrated window logit * scale -> clip logit
    clip_bias: float = 0.0  # kept 0: swapping the channels must exactly flip the answer
    decide: float = 0.9  # clip probability needed to call ok / swapped
    # Probability each stretch of a `mixed` file needs (a stretch's mean window logit, scaled like a
    # clip's). Files calibrated before this existed carried a per-window threshold instead, which
    # from_dict ignores: they get this default until recalibrated.
    segment_decide: float = 0.9
    # The probability given with `mixed`: sigmoid(mixed_scale * logit(least sure stretch) + mixed_bias),
    # fitted on how often the validation clips' `mixed` verdicts were right (identity: not fitted).
    mixed_scale: float = 1.0
    mixed_bias: float = 0.0
    min_windows: int = 1  # scored windows needed before deciding anything
    # Picture-sound synchrony (stereofix.sync) a file needs before anything but `uncertain` is said:
    # below it nothing in view is seen to change with the sound. None: no such gate (files
    # calibrated before session 28).
    min_sync: float | None = None
    # Two tiers of synchrony: a file at least `min_sync` but below `sure_sync` (a picture that barely
    # follows the sound, as chance makes an off-screen scene's) is decided only at `decide_weak_sync`
    # or surer and never called `mixed`. None: one tier (files calibrated before session 31).
    sure_sync: float | None = None
    decide_weak_sync: float = 1.0
    # Which synchrony reading the gate was fitted on (stereofix.sync.file_sync): "model", the model's
    # frames and the best cell alone (files calibrated before session 32), or "whole".
    sync_reading: str = "model"
    # How strongly the file's synchrony map (stereofix.sync.file_sync_map: where, over the judged
    # windows, the picture follows the sound) steers the network's attention: this times the map is
    # added to the attention's logits (FlipNet.attend's prior). 0: the network alone (files
    # calibrated before session 33).
    attention_prior: float = 0.0
    # A split at least this sure but below `segment_decide` makes the file `uncertain`: its windows
    # disagree in stretches too much for one verdict on the whole file, too weakly for `mixed`.
    # None: no such threshold (files calibrated before session 35; README "Design notes").
    doubt_split: float | None = None

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


@dataclass
class CheckResult:
    """What `check` says of one file: the verdict, and the audio facts behind it."""

    path: str
    verdict: Verdict
    audio_stream: int | None = None
    diagnosis: AudioDiagnosis | None = None
    duration: float | None = None
    picture_cut: tuple[float, float] | None = None  # share of the width, height cut off each side (borders)
    picture_sync: float | None = None  # how much the picture changes with the sound (stereofix.sync)

    @property
    def exit_code(self) -> int:
        return VERDICT_EXIT[self.verdict.verdict]

    def to_dict(self) -> dict:
        d = {"file": self.path, **self.verdict.to_dict(), "audio_stream": self.audio_stream, "duration": self.duration}
        if self.picture_cut is not None:
            d["picture_cut"] = [round(x, 4) for x in self.picture_cut]
        if self.picture_sync is not None:
            d["picture_sync"] = round(self.picture_sync, 4)
        if self.diagnosis is not None:
            d["audio"] = {
                "reason": self.diagnosis.reason,
                "rms_dbfs": [round(x, 2) for x in self.diagnosis.rms_dbfs],
                "side_to_mid_db": round(self.diagnosis.side_to_mid_db, 2),
                "low_band_correlation": round(self.diagnosis.low_band_correlation, 4),
                "coherence": round(self.diagnosis.coherence, 4),
            }
        return d


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, x))))


def decide(windows: list[WindowScore], cal: Calibration, sync: float | None = None) -> Verdict:
    """Pool window logits into ok / swapped / mixed / uncertain.

    Each window's logit is temperature-scaled into a probability. The clip logit is the scaled mean
    of the window logits (so it is exactly antisymmetric: swapping every window flips the verdict).
    `mixed` comes first: when the windows, in time order, split into two or three stretches that
    alternate sides and each stretch on its own is as sure as `segment_decide`, the file is mixed,
    whatever the mean says. A stretch needs at least two windows and a fifth of them, so one
    confused window cannot split a file. Judging stretches rather than single windows is what
    finds a half-swapped file whose one half is heard clearly and the other faintly: its mean
    follows the loud half, and no single faint window is sure (README "Design notes").

    sync: the file's picture-sound synchrony (stereofix.sync); below `cal.min_sync` (or unmeasured
    where the calibration asks for it) the file is `uncertain` whatever the windows say: the sound
    may come from outside the frame, credited to a silent thing in view. Below `cal.sure_sync` it
    is decided only when the clip probability reaches `cal.decide_weak_sync`, and never `mixed`.
    A split short of `segment_decide` but at least `cal.doubt_split` sure makes the file `uncertain`.
    """
    for w in windows:
        if w.logit is not None:
            w.p_swapped = _sigmoid(w.logit / cal.window_temperature)
    scored = sorted((w for w in windows if w.logit is not None), key=lambda w: w.start)
    if len(scored) < cal.min_windows or not scored:
        return Verdict("uncertain", None, None, windows, reason="no window with sound to judge")
    z = [w.logit / cal.window_temperature for w in scored]
    p = _sigmoid(cal.clip_scale * sum(z) / len(z) + cal.clip_bias)
    if cal.min_sync is not None and (sync is None or sync < cal.min_sync):
        return Verdict("uncertain", None, p, windows, reason="nothing in view changes with the sound (it may be off-screen)")
    # Between the two tiers the picture barely follows the sound: no `mixed`, a surer verdict needed.
    weak = cal.sure_sync is not None and (sync is None or sync < cal.sure_sync)
    split = None if weak else best_split(z, cal.clip_scale)
    if split is not None and split[0] >= cal.segment_decide:
        outer = (min(w.start for w in windows), max(w.end for w in windows))
        return Verdict("mixed", mixed_probability(split[0], cal), p, windows, _stretches(scored, split[1], z, outer))
    if split is not None and cal.doubt_split is not None and split[0] >= cal.doubt_split:
        return Verdict("uncertain", None, p, windows,
                       reason="the windows disagree: some stretches one way, some the other, not surely enough for mixed")
    threshold = cal.decide_weak_sync if weak else cal.decide
    if p >= threshold:
        return Verdict("swapped", p, p, windows)
    if p <= 1 - threshold:
        return Verdict("ok", 1 - p, p, windows)
    reason = "the picture barely changes with the sound, and the evidence is not strong enough for that" if weak else "evidence too weak to decide"
    return Verdict("uncertain", None, p, windows, reason=reason)


def logit(q: float) -> float:
    """log(q / (1 - q)), with q kept off 0 and 1 so a saturated probability stays finite."""
    q = min(max(q, 1e-12), 1 - 1e-12)
    return math.log(q / (1 - q))


def mixed_probability(sure: float, cal: Calibration) -> float:
    """That a `mixed` verdict is right, from how sure its least sure stretch is (calibrate fits the map)."""
    return _sigmoid(cal.mixed_scale * logit(sure) + cal.mixed_bias)


def best_split(z: list[float], scale: float) -> tuple[float, tuple[int, ...]] | None:
    """How the time-ordered calibrated window logits `z` best split into stretches of alternating
    sides: (the least sure stretch's probability, the cut indices), or None when no split into
    2..MAX_SEGMENTS such stretches exists.

    For each number of stretches the cuts are where the windows change most (the split whose
    stretch means explain most of the logits, as in least-squares change-point detection, so a faint
    window at an edge goes to the side it leans to); of those splits the one whose least sure
    stretch is surest is kept. A stretch's probability is the clip rule applied to it alone
    (sigmoid(scale * mean)), so a file and its stretches are judged on one scale; calibration fits
    how sure a stretch must be.
    """
    n = len(z)
    share = max(2, math.ceil(0.2 * n))
    prefix = [0.0]
    for x in z:
        prefix.append(prefix[-1] + x)
    best: tuple[float, tuple[int, ...]] | None = None
    for k in range(1, MAX_SEGMENTS):
        fitted: tuple[float, tuple[int, ...], list[float]] | None = None
        for cuts in itertools.combinations(range(share, n - share + 1), k):
            edges = (0, *cuts, n)
            if any(b - a < share for a, b in zip(edges, edges[1:])):
                continue
            means = [(prefix[b] - prefix[a]) / (b - a) for a, b in zip(edges, edges[1:])]
            if any(m1 * m2 >= 0 for m1, m2 in zip(means, means[1:])):
                continue
            explained = sum((b - a) * m * m for (a, b), m in zip(zip(edges, edges[1:]), means))
            if fitted is None or explained > fitted[0]:
                fitted = (explained, cuts, means)
        if fitted is not None:
            sure = min(_sigmoid(scale * abs(m)) for m in fitted[2])
            if best is None or sure > best[0]:
                best = (sure, fitted[1])
    return best


def _stretches(scored: list[WindowScore], cuts: tuple[int, ...], z: list[float],
               outer: tuple[float, float]) -> list[tuple[float, float]]:
    """The flipped stretches of a split, as (start, end) times.

    Windows of a long file have gaps between them (and short files' windows overlap); a stretch's
    edge is put halfway between the last window of one stretch and the first of the next, which
    is where the evidence changes side. The first and last stretches run to the outermost windows
    read, silent ones included (the plan spans the whole file), so `repair --segments` also
    exchanges a flipped file's quiet tail, as nothing says the side changed there.
    """
    n = len(scored)
    edges = (0, *cuts, n)
    out: list[tuple[float, float]] = []
    for a, b in zip(edges, edges[1:]):
        if sum(z[a:b]) <= 0:
            continue
        lo = outer[0] if a == 0 else 0.5 * (scored[a - 1].end + scored[a].start)
        hi = outer[1] if b == n else 0.5 * (scored[b - 1].end + scored[b].start)
        out.append((round(lo, 3), round(hi, 3)))
    return out
