"""Training examples for the flip task: (frames, audio, label) from scenes or from the user's videos.

The flip task needs no labels: any stereo window whose channels agree with its picture becomes
a "flipped" example by exchanging the channels. Mirroring the picture AND exchanging the channels
keeps the label, which doubles what each scene teaches.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from stereofix.models import FRAME_HEIGHT, FRAME_WIDTH
from stereofix.train import where as where_truth

# Scene types whose every window has no side, wherever the (invisible or mixed-down) source is.
NO_SIDE_TYPES = ("offscreen", "dual_mono", "noise_only")
VIDEO_SUFFIXES = {".mp4", ".mov", ".mkv", ".webm", ".m4v", ".avi", ".ts", ".mts"}


def frames_to_model(frames: np.ndarray) -> torch.Tensor:
    """[T, H, W, 3] uint8 of any aspect -> [T, 3, 72, 128] uint8 (stretched; horizontal position kept)."""
    x = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2)
    if x.shape[-2:] != (FRAME_HEIGHT, FRAME_WIDTH):
        x = F.interpolate(x.float(), size=(FRAME_HEIGHT, FRAME_WIDTH), mode="bilinear", align_corners=False)
        x = x.round().clamp(0, 255).to(torch.uint8)
    return x


def scene_example(scene) -> dict:
    """A Scene as unflipped tensors plus the truth fields training reports by."""
    return scene_windows(scene, scene.truth.get("duration_s", 0.0) or len(scene.frames) / scene.truth["fps"])[0]


def scene_windows(scene, window_s: float) -> list[dict]:
    """Consecutive windows of a scene as unflipped examples, each with the side its own frames show.

    Cutting 2 s windows out of a 10 s scene is what `check` does to a clip: the animation is scaled
    by the whole scene's loudest moment (a window may barely move), pauses fill whole windows and a
    moving source is on one side in some windows and crossing in others. Training on 2 s scenes
    alone left a gap between the validation scenes and exported clips (README, Design notes).
    """
    t = scene.truth
    fps, rate = float(t["fps"]), int(scene.sample_rate)
    per_frames, per_samples = int(round(window_s * fps)), int(round(window_s * rate))
    n = max(1, min(len(scene.frames) // per_frames, scene.audio.shape[-1] // per_samples))
    frames = frames_to_model(scene.frames)
    audio = torch.from_numpy(np.ascontiguousarray(scene.audio[:2], dtype=np.float32))
    out = []
    for i in range(n):
        span = slice(i * per_frames, (i + 1) * per_frames)
        side = _window_side(t, span) if n > 1 else int(t.get("side", 0))
        where, in_view = where_truth.window_targets(t, span, per_frames)
        out.append({
            "frames": frames[i * per_frames:(i + 1) * per_frames],
            "audio": audio[:, i * per_samples:(i + 1) * per_samples],
            "scene_type": t.get("scene_type", "?"),
            "side": side,
            # Nothing in the window tells a side (centred, off-screen, dual mono, noise only, balanced
            # sources, a moving source crossing): the right answer is "no evidence", so the target is
            # 0.5 whichever way it is flipped.
            "no_side": side == 0,
            "where": where,  # where the sounding thing is, for the `--where` objective (train/where.py)
            "in_view": in_view,
        })
    return out


def _window_side(truth: dict, frames: slice) -> int:
    """The scene's side, or for one visible sounding source, the side it is on in these frames."""
    from stereofix.synth.scene import SIDE_MIN_DEG

    side = int(truth.get("side", 0))
    sounding = [o for o in truth.get("objects", []) if o.get("sounding")]
    if truth.get("scene_type") in NO_SIDE_TYPES or len(sounding) != 1 or not sounding[0].get("visible"):
        return side
    az = float(np.mean(sounding[0]["azimuth_deg"][frames]))
    return int(np.sign(az)) if abs(az) >= max(SIDE_MIN_DEG, 0.15 * truth["hfov_deg"] / 2) else 0


def jitter_colours(frames: torch.Tensor, rng: random.Random) -> torch.Tensor:
    """One random photometric change for a whole window ([T, 3, H, W] uint8 in and out): channel
    gains, contrast, brightness, sometimes grey or with the channels permuted.

    The same change for every frame, so what moves with the sound still moves with it; only how
    things look changes. Without it the gate learned what the training split's photographs and
    sprites look like, and closed on the test split's unseen ones (README "Design notes").
    """
    x = frames.float()
    if rng.random() < 0.25:
        x = x[:, list(rng.sample(range(3), 3))]
    x = x * torch.tensor([rng.uniform(0.75, 1.25) for _ in range(3)]).view(1, 3, 1, 1)
    mean = x.mean()
    x = (x - mean) * rng.uniform(0.6, 1.4) + mean + rng.uniform(-30.0, 30.0)
    if rng.random() < 0.2:
        x = x.mean(1, keepdim=True).expand_as(x)
    return x.round().clamp(0, 255).to(torch.uint8)


def augment(frames: torch.Tensor, audio: torch.Tensor, rng: random.Random, no_side: bool = False,
            colour_jitter: float = 0.0) -> tuple[torch.Tensor, torch.Tensor, float, bool]:
    """Random flip (label 1) and random mirror+swap (label unchanged) of one unflipped example;
    the last item says whether the picture was mirrored (its "where" targets mirror with it).

    With `no_side` the label is 0.5 either way (the synthesizer knows there is nothing to judge).
    With probability `colour_jitter` the picture's colours change too (jitter_colours).
    """
    if colour_jitter > 0 and rng.random() < colour_jitter:
        frames = jitter_colours(frames, rng)
    mirrored = rng.random() < 0.5
    if mirrored:
        frames = frames.flip(-1)
        audio = audio.flip(0)
    label = 0.0
    if rng.random() < 0.5:
        audio = audio.flip(0)
        label = 1.0
    gain = 10 ** (rng.uniform(-20, 6) / 20)  # level does not tell the side
    return frames, audio * gain, 0.5 if no_side else label, mirrored


class ReplayPool:
    """A ring of recent examples: fresh scenes stream in while each is seen a few times.

    Rendering one scene costs about as much as one training step on a few examples, so reusing each
    scene (under different random flips and mirrors) keeps two CPU cores busy with the model.
    """

    def __init__(self, capacity: int, seed: int, colour_jitter: float = 0.0) -> None:
        self.capacity = capacity
        self.colour_jitter = colour_jitter
        self.items: list[dict] = []
        self.next = 0
        self.rng = random.Random(seed)

    def add(self, ex: dict) -> None:
        if len(self.items) < self.capacity:
            self.items.append(ex)
        else:
            self.items[self.next] = ex
            self.next = (self.next + 1) % self.capacity

    def batch(self, size: int) -> dict[str, torch.Tensor]:
        picks = [self.items[self.rng.randrange(len(self.items))] for _ in range(size)]
        fr, au, lb, mi = zip(*(augment(p["frames"], p["audio"], self.rng, p.get("no_side", False), self.colour_jitter) for p in picks))
        n = min(a.shape[-1] for a in au)
        unknown = torch.full((fr[0].shape[0], where_truth.MAX_SOUNDING, 4), float("nan"))
        wh = [p.get("where", unknown) for p in picks]
        return {
            "frames": torch.stack(fr),
            "audio": torch.stack([a[:, :n] for a in au]),
            "label": torch.tensor(lb),
            "where": torch.stack([where_truth.mirror(w) if m else w for w, m in zip(wh, mi)]),
            "in_view": torch.tensor([float(p.get("in_view", float("nan"))) for p in picks]),
        }


def video_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in VIDEO_SUFFIXES and p.is_file())


class VideoWindows(torch.utils.data.IterableDataset):
    """Random windows from a folder of the user's own stereo videos (self-supervised fine-tuning).

    Windows whose audio the diagnostics call not-spatial (mono, dual-mono, silence ...) are skipped:
    they teach nothing about sides.
    """

    def __init__(self, folder: Path, window_s: float, fps: float, seed: int = 0) -> None:
        super().__init__()
        self.files = video_files(folder)
        self.window_s, self.fps, self.seed = window_s, fps, seed

    def __iter__(self) -> Iterator[dict]:
        from stereofix import diagnostics, media
        from stereofix.errors import StereofixError
        from stereofix.windows import Window, frame_times
        from stereofix.inputs import read_model_frames

        info = torch.utils.data.get_worker_info()
        rng = random.Random(self.seed + (info.id if info else 0))
        durations: dict[Path, float] = {}
        misses = 0
        while self.files:
            path = rng.choice(self.files)
            try:
                if path not in durations:
                    mi = media.probe(path)
                    a, v = mi.default_audio(), mi.default_video()
                    ok = a is not None and v is not None and (a.channels or 0) >= 2
                    durations[path] = (mi.duration or 0.0) if ok else 0.0
                span = durations[path] - self.window_s
                if span <= 0:
                    misses += 1
                    if misses > 50 * len(self.files):
                        return
                    continue
                t0 = rng.uniform(0, span)
                w = Window(t0, t0 + self.window_s)
                audio = media.read_audio(path, None, 16000, start=w.start, duration=self.window_s)[:2]
                if diagnostics.diagnose([audio]).reason is not None:
                    continue
                # As `check` sees them (letterbox and pillarbox bars cut), all frames decoded: training
                # renders each frame at its slot's centre.
                frames, _, _ = read_model_frames(path, None, [frame_times(w, self.fps)], skip_b_frames=False)
            except StereofixError:
                durations[path] = 0.0
                continue
            yield {"frames": frames_to_model(frames), "audio": torch.from_numpy(audio), "scene_type": "video", "side": 0, "no_side": False}
