"""Train the flip classifier on synthesized scenes, or fine-tune it on the user's own stereo videos.

    stereofix train flip --out runs/flip --steps 6000 --batch 32 --seed 0

Scenes stream in from worker processes into a replay pool (see data.ReplayPool); each step draws a
batch from the pool under random flips and mirrors. Every `ckpt_every` steps the run folder gets
`last.pt` (model, optimizer, step: `--resume` continues from it); every `val_every` steps the model
is scored on a fixed set of validation scenes (material training never sees) and `best.pt` keeps
the best. The log is JSON lines in `log.jsonl`.
"""

from __future__ import annotations

import json
import math
import random
import time
from functools import partial
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from stereofix.errors import InputError
from stereofix.models import OPTIONAL_TERMS, FlipConfig, FlipNet
from stereofix.train.data import ReplayPool, VideoWindows, scene_windows
from stereofix.train.where import TERMS as WHERE_TERMS, where_loss


@dataclass
class TrainConfig:
    out: Path = Path("runs/flip")
    steps: int = 6000
    batch: int = 32
    seed: int = 0
    workers: int = 1
    lr: float = 2e-3
    weight_decay: float = 1e-4
    soft_no_side: bool = True  # target 0.5 for synthesized scenes with no side (teaches abstention)
    no_side_weight: float = 1.0  # loss weight of those windows: > 1 makes a confident guess on them cost more
    # Weight of the "where" objective (train/where.py): the attention towards the sounding object in
    # view and the gate ranking in-view windows above off-screen ones, from the synthesizer's truth. 0: off.
    where_weight: float = 0.0
    where_terms: str = "both"  # "attention" or "gate": train one of the two terms alone (where.TERMS)
    pool: int = 3000  # examples kept for replay
    fresh_per_step: int = 6  # new examples (windows) pulled into the pool per step
    # Seconds of each synthesized scene, cut into consecutive windows (a multiple of the window):
    # 10 gives windows like those check cuts from a clip (see data.scene_windows).
    scene_s: float = 2.0
    warm_pool: int = 256  # scenes rendered before the first step
    val_scenes: int = 320
    val_every: int = 500
    ckpt_every: int = 250
    videos: Path | None = None
    init: Path | None = None
    resume: bool = True
    # Scene-type weights replacing SCENE_WEIGHTS' (e.g. {"distractors": 0.3}): more of the hard types.
    focus: dict[str, float] | None = None
    # Microphone-model weights (e.g. {"spaced_omni": 3}): more of the microphones the sound is weak for.
    mic_focus: dict[str, float] | None = None
    # Parameter-name prefixes that train (e.g. ("gate.", "range_gate.")); the rest, batch-norm
    # statistics included, stay as --init left them. Empty: everything trains.
    train_only: tuple[str, ...] = ()
    # Share of training windows whose picture colours change (data.jitter_colours); 0: off.
    colour_jitter: float = 0.0
    # Share of the scenes' photographs replaced by procedural pictures (synth.visuals.dead_leaves); 0: off.
    texture_share: float = 0.0
    model: FlipConfig = field(default_factory=FlipConfig)


def _render_kwargs(cfg: FlipConfig, scene_s: float | None = None) -> dict:
    # frame_phase 0.5: frames at the slot centres, where check samples them (windows.frame_times).
    return {"duration_s": scene_s or cfg.window_s, "sample_rate": 16000, "fps": cfg.fps, "long_side": 128, "frame_phase": 0.5}


def windows_per_scene(tc: TrainConfig) -> int:
    n = tc.scene_s / tc.model.window_s
    if n < 1 or abs(n - round(n)) > 1e-6:
        raise InputError(f"--scene-seconds {tc.scene_s:g}: must be a whole number of {tc.model.window_s:g} s windows")
    return int(round(n))


def _source(tc: TrainConfig, device: str):
    """An iterator of unflipped examples: synthesized scenes or windows of the user's videos."""
    if tc.videos is not None:
        if not tc.videos.is_dir():
            raise InputError(f"--videos {tc.videos}: not a folder")
        ds = VideoWindows(tc.videos, tc.model.window_s, tc.model.fps, tc.seed)
        if not ds.files:
            raise InputError(f"--videos {tc.videos}: no video files found")
    else:
        from stereofix.synth import SceneStream

        ds = SceneStream("train", base_seed=tc.seed * 10_000_000, transform=partial(scene_windows, window_s=tc.model.window_s),
                         scene_weights=tc.focus, mic_weights=tc.mic_focus, texture_share=tc.texture_share,
                         **_render_kwargs(tc.model, tc.scene_s))
    loader = torch.utils.data.DataLoader(
        ds, batch_size=None, num_workers=tc.workers, prefetch_factor=16 if tc.workers else None, persistent_workers=bool(tc.workers)
    )
    return iter(loader)


def validation_set(n: int, cfg: FlipConfig, seed: int = 1, scene_s: float | None = None) -> list[dict]:
    """A fixed list of `n` validation windows (split "val"), cut from scenes as long as training's."""
    from stereofix.synth import render_scene

    out: list[dict] = []
    i = 0
    while len(out) < n:
        out += scene_windows(render_scene(seed * 100_000 + i, "val", **_render_kwargs(cfg, scene_s)), cfg.window_s)
        i += 1
    return out[:n]


@torch.no_grad()
def window_logits(model: FlipNet, examples: list[dict], device: str, batch: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """Logits of each example as rendered (label 0) and with channels exchanged (label 1)."""
    model.eval()
    straight, flipped = [], []
    for i in range(0, len(examples), batch):
        chunk = examples[i : i + batch]
        n = min(e["audio"].shape[-1] for e in chunk)
        fr = torch.stack([e["frames"] for e in chunk]).to(device)
        au = torch.stack([e["audio"][:, :n] for e in chunk]).to(device)
        straight.append(model.predict(fr, au).cpu())
        flipped.append(model.predict(fr, au.flip(1)).cpu())
    return torch.cat(straight).numpy(), torch.cat(flipped).numpy()


def evaluate(model: FlipNet, examples: list[dict], device: str) -> dict:
    """Window accuracy on scenes with a clear side, and how near 0.5 the rest stay."""
    s, f = window_logits(model, examples, device)
    side = np.array([e["side"] for e in examples])
    types = np.array([e["scene_type"] for e in examples])
    logits = np.concatenate([s, f])
    labels = np.concatenate([np.zeros_like(s), np.ones_like(f)])
    clear = np.concatenate([side != 0, side != 0])
    loss = float(F.binary_cross_entropy_with_logits(torch.from_numpy(logits), torch.from_numpy(labels)).item())
    out = {"val_loss": loss}
    if clear.any():
        out["val_acc_clear"] = float(((logits[clear] > 0) == (labels[clear] > 0.5)).mean())
        out["val_loss_clear"] = float(
            F.binary_cross_entropy_with_logits(torch.from_numpy(logits[clear]), torch.from_numpy(labels[clear])).item()
        )
    if (~clear).any():
        p = 1 / (1 + np.exp(-logits[~clear]))
        out["val_abstain_mean_conf"] = float(np.abs(p - 0.5).mean() * 2)
    for t in sorted(set(types)):
        m = np.concatenate([types == t, types == t])
        out[f"acc_{t}"] = float(((logits[m] > 0) == (labels[m] > 0.5)).mean())
    return out


def window_loss(logits: torch.Tensor, labels: torch.Tensor, no_side_weight: float = 1.0) -> torch.Tensor:
    """Cross-entropy with the no-side windows (label 0.5) weighted; normalised by the weights, so the
    loss stays on one scale whatever the batch holds."""
    w = torch.where(labels == 0.5, torch.full_like(labels, no_side_weight), torch.ones_like(labels))
    return (F.binary_cross_entropy_with_logits(logits, labels, reduction="none") * w).sum() / w.sum().clamp_min(1e-9)


def _lr(step: int, tc: TrainConfig) -> float:
    warm = min(200, tc.steps // 10 + 1)
    if step < warm:
        return tc.lr * (step + 1) / warm
    return tc.lr * 0.5 * (1 + math.cos(math.pi * (step - warm) / max(1, tc.steps - warm)))


def trainable_parameters(model: FlipNet, prefixes: tuple[str, ...]) -> list[torch.nn.Parameter]:
    """The parameters whose names start with one of `prefixes` (all of them when none is given);
    the others are frozen. Training only the gate's heads asks what the network's existing codes can
    tell when nothing else may move (README, Design notes).

    Raises:
        InputError: a prefix that names no parameter of this network.
    """
    if not prefixes:
        return list(model.parameters())
    named = dict(model.named_parameters())
    for prefix in prefixes:
        if not any(name.startswith(prefix) for name in named):
            raise InputError(f"--train-only {prefix}: no parameter of this network starts with it")
    for name, param in named.items():
        param.requires_grad_(name.startswith(tuple(prefixes)))
    return [param for param in named.values() if param.requires_grad]


def freeze_batch_norm(model: FlipNet) -> None:
    """Batch norms whose parameters are frozen keep their running statistics too (eval mode)."""
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d) and not any(p.requires_grad for p in module.parameters()):
            module.eval()


def train(tc: TrainConfig, device: str = "cpu", log: Callable[[str], None] = print) -> Path:
    """Run (or resume) a training run; returns the path of the final weights file."""
    from stereofix.weights import load_checkpoint, save_checkpoint

    windows_per_scene(tc)  # bad --scene-seconds fails before anything is written
    if tc.where_terms not in WHERE_TERMS:
        raise InputError(f"--where-terms {tc.where_terms}: expected one of {', '.join(WHERE_TERMS)}")
    if tc.where_terms != "both" and tc.where_weight <= 0:
        # Choosing a part of an objective that is off would train nothing of it, silently.
        raise InputError(f"--where-terms {tc.where_terms} needs --where W > 0 (the objective is off without it)")
    torch.manual_seed(tc.seed)
    random.seed(tc.seed)
    last = tc.out / "last.pt"
    resuming = tc.resume and last.exists()
    init = load_checkpoint(tc.init) if tc.init is not None else None
    if init is not None:
        # Fine-tuning keeps the network of the weights it starts from; --sync / --instant / --onset can add
        # their (zero-initialised) terms to it. Resuming builds the same network (its weights come from last.pt).
        start = FlipConfig.from_dict(init.get("config", {}))
        tc.model = start.with_terms_of(tc.model)
    if tc.model.sync_gate and not tc.model.sync:
        where = f"--init {tc.init} has no sync term" if tc.init is not None else "the sync term is needed"
        raise InputError(f"--sync-gate reads the sync term's evidence: {where}; add --sync 8")
    model = FlipNet(tc.model).to(device)
    trained = trainable_parameters(model, tc.train_only)  # an unknown prefix fails before anything is written
    tc.out.mkdir(parents=True, exist_ok=True)
    opt = torch.optim.AdamW(trained, lr=tc.lr, weight_decay=tc.weight_decay)
    step = 0
    best = float("inf")
    if resuming:
        state = torch.load(last, map_location=device, weights_only=True)
        model.load_state_dict(state["state_dict"])
        opt.load_state_dict(state["optimizer"])
        step, best = int(state["step"]), float(state["best"])
        log(f"resumed from {last} at step {step}")
    elif init is not None:
        # A model saved without the optional terms initialises everything else; the new terms start
        # silent (models.FlipNet) and are learned in the fine-tune.
        missing, unexpected = model.load_state_dict(init["state_dict"], strict=False)
        if unexpected or any(not k.startswith(OPTIONAL_TERMS) for k in missing):
            raise InputError(f"--init {tc.init}: weights do not fit this model")
        log(f"initialised from {tc.init}" + (" (new terms from zero: " + ", ".join(sorted({k.split('.')[0] for k in missing})) + ")" if missing else ""))
    (tc.out / "config.json").write_text(json.dumps({**asdict(tc), "out": str(tc.out), "videos": str(tc.videos), "init": str(tc.init)}, default=str, indent=1))

    t0 = time.time()
    val = validation_set(tc.val_scenes, tc.model, scene_s=tc.scene_s) if tc.videos is None else []
    log(f"validation set: {len(val)} windows in {time.time() - t0:.1f}s")
    source = _source(tc, device)
    pool = ReplayPool(tc.pool, tc.seed + step, tc.colour_jitter)
    t0 = time.time()
    queue: list[dict] = []

    def fresh() -> dict:
        while not queue:  # a scene gives a list of windows, a user's video one window at a time
            got = next(source)
            queue.extend(got if isinstance(got, list) else [got])
        ex = queue.pop(0)
        if not tc.soft_no_side:
            ex["no_side"] = False
        return ex

    for _ in range(tc.warm_pool):
        pool.add(fresh())
    log(f"pool warmed with {tc.warm_pool} windows in {time.time() - t0:.1f}s")
    logf = open(tc.out / "log.jsonl", "a")
    t_start, seen = time.time(), 0
    running = []
    aux_running: dict[str, list[float]] = {}
    while step < tc.steps:
        model.train()
        if tc.train_only:
            freeze_batch_norm(model)
        for _ in range(tc.fresh_per_step):
            pool.add(fresh())
        seen += tc.fresh_per_step
        b = pool.batch(tc.batch)
        for g in opt.param_groups:
            g["lr"] = _lr(step, tc)
        logits, parts = model(b["frames"].to(device), b["audio"].to(device), return_parts=True)
        loss = window_loss(logits, b["label"].to(device), tc.no_side_weight)
        if tc.where_weight > 0:
            aux, aux_parts = where_loss(parts["attention"], parts["gate_logit"], b["where"].to(device), b["in_view"].to(device),
                                         tc.where_terms)
            loss = loss + tc.where_weight * aux
            for k, v in aux_parts.items():
                aux_running.setdefault(k, []).append(v)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()
        step += 1
        running.append(loss.item())
        if step % 50 == 0 or step == tc.steps:
            rec = {"step": step, "loss": float(np.mean(running)), "lr": _lr(step, tc), "scenes": seen, "elapsed_s": round(time.time() - t_start, 1)}
            rec.update({k: float(np.mean(v)) for k, v in aux_running.items()})
            running, aux_running = [], {}
            logf.write(json.dumps(rec) + "\n")
            logf.flush()
            log(f"step {step} loss {rec['loss']:.4f} ({rec['elapsed_s']}s, {seen} windows)")
        if step % tc.ckpt_every == 0 or step == tc.steps:
            torch.save({"state_dict": model.state_dict(), "optimizer": opt.state_dict(), "step": step, "best": best}, last.with_suffix(".tmp"))
            last.with_suffix(".tmp").replace(last)
        if val and (step % tc.val_every == 0 or step == tc.steps):
            metrics = evaluate(model, val, device)
            metrics["step"] = step
            logf.write(json.dumps(metrics) + "\n")
            logf.flush()
            log("val " + " ".join(f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}" for k, v in metrics.items()))
            if metrics["val_loss"] < best:
                best = metrics["val_loss"]
                save_checkpoint(tc.out / "best.pt", model, meta={"step": step, **metrics})
    logf.close()
    final = tc.out / "final.pt"
    save_checkpoint(final, model, meta={"step": step, "train_seconds": round(time.time() - t_start, 1)})
    return final
