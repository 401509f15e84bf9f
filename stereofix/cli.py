"""Command line: parses arguments, calls the library, prints results. No media work happens here.

Exit codes (stable): 0 nothing wrong / done; 1 a defect was found (swapped, mixed, polarity);
2 usage or runtime error (bad input, unwritable output); 3 undetermined (uncertain,
not-spatial). A batch exits with the most severe code over its files, in the order 2 > 1 > 3 > 0.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

from stereofix.errors import InputError, StereofixError, WeightsError
from stereofix.verdict import EXIT_ERROR, EXIT_OK, EXIT_SWAP, EXIT_UNDETERMINED

_SEVERITY = {EXIT_OK: 0, EXIT_UNDETERMINED: 1, EXIT_SWAP: 2, EXIT_ERROR: 3}

app = typer.Typer(
    name="stereofix",
    help="Tell whether a video's left and right audio channels are swapped relative to its picture, "
    "repair it without touching anything else, and upmix mono to picture-following stereo.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
train_app = typer.Typer(help="Train the project's models (needs the synthesizer's source bank).", no_args_is_help=True)
app.add_typer(train_app, name="train")

log = logging.getLogger("stereofix")


class Device(str, Enum):
    auto = "auto"
    cpu = "cpu"
    cuda = "cuda"


FilesArg = Annotated[list[str], typer.Argument(help="Media files; '-' reads standard input.", show_default=False)]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object per file on stdout.")]
DeviceOpt = Annotated[Device, typer.Option("--device", help="Where the model runs.")]
WeightsOpt = Annotated[
    Optional[Path],
    typer.Option("--weights", envvar="STEREOFIX_WEIGHTS", help="Model weights file (default: the shipped flip-v1)."),
]
ThreadsOpt = Annotated[Optional[int], typer.Option("--threads", min=1, help="CPU threads for the model.")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="Only errors on stderr.")]
VerboseOpt = Annotated[bool, typer.Option("--verbose", "-v", help="Details on stderr.")]
OutOpt = Annotated[Optional[str], typer.Option("--output", "-o", help="Output file ('-' = standard output); one input only.")]
OutDirOpt = Annotated[Optional[Path], typer.Option("--output-dir", help="Write each output under this folder, same name.")]
InplaceOpt = Annotated[bool, typer.Option("--inplace", help="Replace the input atomically (temp file, verify, fsync, rename).")]
OverwriteOpt = Annotated[bool, typer.Option("--overwrite", help="Replace an existing output file.")]
KeepMtimeOpt = Annotated[bool, typer.Option("--keep-mtime", help="Keep the original's modification time (with --inplace).")]
ContainerOpt = Annotated[
    Optional[str],
    typer.Option("--format", help="Output container (e.g. matroska, mp4); default: the input's, or Matroska on stdout."),
]


def _stderr() -> Console:
    # Created per call, not at import: a module-level Console fixes its width too early.
    return Console(stderr=True, highlight=False, soft_wrap=True)


def _setup(quiet: bool, verbose: bool, threads: int | None = None) -> None:
    level = logging.ERROR if quiet else logging.DEBUG if verbose else logging.INFO
    # Our logger only: the root logger at INFO would also print torch's own INFO records (at exit).
    handler = logging.StreamHandler(sys.stderr)  # made per call: the stream may have been swapped
    handler.setFormatter(logging.Formatter("stereofix: %(message)s"))
    log.handlers[:] = [handler]
    log.setLevel(level)
    log.propagate = False
    _threads(threads)


def _threads(threads: int | None) -> None:
    if threads:
        import torch

        torch.set_num_threads(threads)


def _error(path: str, exc: Exception) -> None:
    """One line per failed file; a traceback only with --verbose, and only for our own bugs."""
    text = str(exc) if isinstance(exc, StereofixError) else f"unexpected {type(exc).__name__}: {exc}"
    _stderr().print(f"stereofix: error: {text}" if text.startswith(path) else f"stereofix: error: {path}: {text}", markup=False)
    if not isinstance(exc, StereofixError):
        log.debug("traceback", exc_info=exc)


@contextmanager
def _input(name: str) -> Iterator[Path]:
    """A readable path for `name`; '-' spools standard input to a temporary file."""
    if name != "-":
        yield Path(name)
        return
    from stereofix.media import spool_stdin

    tmp = spool_stdin()
    try:
        yield tmp
    finally:
        tmp.unlink(missing_ok=True)


@contextmanager
def _progress(enabled: bool, description: str) -> Iterator:
    """A progress callback; draws a bar only when stderr is a terminal."""
    if not enabled or not sys.stderr.isatty():
        yield None
        return
    from rich.progress import Progress

    with Progress(console=_stderr(), transient=True) as bar:
        task = bar.add_task(description, total=1.0)
        yield lambda f: bar.update(task, completed=f)


def _worst(codes: list[int]) -> int:
    return max(codes, key=_SEVERITY.__getitem__) if codes else EXIT_OK


def _load_analyzer(weights: Path | None, device: Device, required: bool):
    """The model, or None (with a warning) when no weights exist and the command can do without."""
    from stereofix.infer import Analyzer

    try:
        return Analyzer.load(weights, device.value)
    except WeightsError as exc:
        if required or weights is not None:
            raise
        log.warning("%s; audio-only diagnostics", exc)
        return None


def _describe(result) -> str:
    v = result.verdict
    text = f"{result.path}: {v.verdict}"
    if v.probability is not None:
        text += f" (p={v.probability:.2f})"
    elif v.p_swapped is not None:
        text += f" (p_swapped={v.p_swapped:.2f})"
    if v.stretches:
        text += " flipped " + ", ".join(f"{a:.1f}-{b:.1f}s" for a, b in v.stretches)
    if v.reason and v.verdict not in ("ok", "swapped", "mixed"):
        text += f" - {v.reason}"
    return text


@app.command()
def check(
    files: FilesArg,
    json_out: JsonOpt = False,
    device: DeviceOpt = Device.auto,
    weights: WeightsOpt = None,
    threads: ThreadsOpt = None,
    windows: Annotated[int, typer.Option("--windows", min=1, max=256, help="Windows read per file.")] = 16,
    jobs: Annotated[
        Optional[int],
        typer.Option("--jobs", "-j", min=0, help="Files decoded at once by worker processes while the model loads and "
                     "judges (0: all in this process; default: one per core, at most 4)."),
    ] = None,
    plot: Annotated[Optional[Path], typer.Option("--plot", help="Draw the evidence to this PNG (one input only).")] = None,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Report per file: ok, swapped, mixed, uncertain, not-spatial, polarity, no-audio or no-video.

    Exit code: 0 ok, 1 swapped/mixed/polarity, 2 error, 3 undetermined; a batch gives the most severe.
    """
    _setup(quiet, verbose)
    if plot is not None and len(files) != 1:
        _usage("--plot takes exactly one input file")
    from stereofix.prefetch import Prefetcher, default_jobs

    # Started before torch is imported (by the model's loading) so the workers fork without it.
    ahead = [None if name == "-" else name for name in files]
    with Prefetcher(ahead, default_jobs(len(files)) if jobs is None else jobs, max_windows=windows) as prefetcher:
        _threads(threads)
        try:
            analyzer = _load_analyzer(weights, device, required=False)
        except StereofixError as exc:
            _fail(exc)
        codes = _check_files(files, analyzer, prefetcher, windows, plot, json_out, quiet)
    raise typer.Exit(_worst(codes))


def _check_files(files: list[str], analyzer, prefetcher, windows: int, plot: Path | None, json_out: bool, quiet: bool) -> list[int]:
    from stereofix.infer import check as run_check

    codes: list[int] = []
    for i, name in enumerate(files):
        try:
            with _input(name) as path, _progress(not quiet, f"checking {name}") as cb:
                decoded = prefetcher.get(i)
                result = run_check(path, analyzer, max_windows=windows, progress=cb, decoded=decoded)
                result.path = name
                if plot is not None:
                    from stereofix.plot import plot_check

                    plot_check(path, result, plot, analyzer)
        except Exception as exc:  # noqa: BLE001 - one bad file must not stop the batch
            _error(name, exc)
            codes.append(EXIT_ERROR)
            continue
        if json_out:
            typer.echo(json.dumps(result.to_dict()))
        else:
            typer.echo(_describe(result))
        if result.exit_code == EXIT_ERROR:
            log.error("%s: %s", name, result.verdict.reason)
        if result.picture_cut is not None:
            x, y = result.picture_cut
            log.debug("%s: judged the picture inside its borders (%.1f%% of the width and %.1f%% of the height "
                      "cut from each side: black bars or a blurred copy)", name, 100 * x, 100 * y)
        codes.append(result.exit_code)
    return codes


def _fail(exc: StereofixError) -> None:
    """A command-wide failure (no weights, bad training folder): one line, exit 2."""
    _stderr().print(f"stereofix: error: {exc}", markup=False)
    raise typer.Exit(EXIT_ERROR)


def _usage(message: str) -> None:
    _stderr().print(f"stereofix: usage error: {message}", markup=False)
    raise typer.Exit(EXIT_ERROR)


def _destinations(files: list[str], output: str | None, output_dir: Path | None, inplace: bool, dry_run: bool) -> list[str | None]:
    """Where each input goes: a path, '-' (stdout), or None for in place."""
    chosen = sum(x is not None and x is not False for x in (output, output_dir, inplace or None))
    if chosen != 1 and not (dry_run and chosen == 0):
        _usage("choose exactly one of --inplace, -o/--output, --output-dir")
    if output is not None and len(files) != 1:
        _usage("-o/--output takes exactly one input; use --output-dir for several")
    if inplace and "-" in files:
        _usage("--inplace cannot rewrite standard input; use -o")
    if output_dir is not None:
        if "-" in files:
            _usage("--output-dir needs named inputs; use -o for standard input")
        if not output_dir.is_dir():
            _usage(f"--output-dir {output_dir}: not a folder")
        return [str(output_dir / Path(f).name) for f in files]
    if output is not None:
        return [output]
    return [None] * len(files)


@app.command()
def repair(
    files: FilesArg,
    inplace: InplaceOpt = False,
    output: OutOpt = None,
    output_dir: OutDirOpt = None,
    force: Annotated[bool, typer.Option("--force", help="Swap without asking the model.")] = False,
    segments: Annotated[bool, typer.Option("--segments", help="For 'mixed' files, swap only the flipped stretches.")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Say what would be done; write nothing.")] = False,
    overwrite: OverwriteOpt = False,
    keep_mtime: KeepMtimeOpt = False,
    container: ContainerOpt = None,
    json_out: JsonOpt = False,
    device: DeviceOpt = Device.auto,
    weights: WeightsOpt = None,
    threads: ThreadsOpt = None,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Exchange left and right where `check` says the file is swapped (or always, with --force).

    Everything else in the file is stream-copied: video packets, other tracks, subtitles, chapters,
    tags and dispositions. Files that are not swapped are left alone. Exit code: 0 done, 2 error,
    3 undetermined files left alone.
    """
    _setup(quiet, verbose, threads)
    dests = _destinations(files, output, output_dir, inplace, dry_run)
    to_stdout = output == "-"
    out = _stderr() if to_stdout else None
    codes: list[int] = []
    analyzer = None
    if not force:
        try:
            analyzer = _load_analyzer(weights, device, required=True)
        except StereofixError as exc:
            _stderr().print(f"stereofix: error: {exc} (or use --force)", markup=False)
            raise typer.Exit(EXIT_ERROR)
    from stereofix.infer import repair as run_repair

    for name, dest in zip(files, dests):
        try:
            with _input(name) as path, _progress(not quiet and not to_stdout, f"repairing {name}") as cb:
                report = run_repair(
                    path,
                    dest,
                    analyzer=analyzer,
                    inplace=inplace,
                    force=force,
                    segments=segments,
                    dry_run=dry_run,
                    overwrite=overwrite,
                    keep_mtime=keep_mtime,
                    container=container,
                    progress=cb,
                )
                report.path = name
        except Exception as exc:  # noqa: BLE001 - one bad file must not stop the batch
            _error(name, exc)
            codes.append(EXIT_ERROR)
            continue
        line = json.dumps(report.to_dict()) if json_out else report.describe()
        if out is not None:
            out.print(line, markup=False)
        else:
            typer.echo(line)
        codes.append(report.exit_code)
    raise typer.Exit(_worst(codes))


@app.command()
def upmix(
    files: FilesArg,
    inplace: InplaceOpt = False,
    output: OutOpt = None,
    output_dir: OutDirOpt = None,
    overwrite: OverwriteOpt = False,
    keep_mtime: KeepMtimeOpt = False,
    container: ContainerOpt = None,
    json_out: JsonOpt = False,
    device: DeviceOpt = Device.auto,
    weights: WeightsOpt = None,
    threads: ThreadsOpt = None,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Turn mono or dual-mono audio into stereo that follows the picture (full band, source rate)."""
    _setup(quiet, verbose, threads)
    _destinations(files, output, output_dir, inplace, False)
    _stderr().print(
        "stereofix: error: upmix needs the upmixer model, which is not trained yet in this version", markup=False
    )
    raise typer.Exit(EXIT_ERROR)


@app.command()
def synth(
    out: Annotated[Path, typer.Option("--out", help="Folder to write scene_XXXX.mp4 and manifest.json into.")],
    n: Annotated[int, typer.Option("--n", min=1, help="Number of scenes.")] = 12,
    seed: Annotated[int, typer.Option("--seed", help="First scene's seed; scene i uses seed + i.")] = 0,
    split: Annotated[str, typer.Option("--split", help="Material split: train, val or test (held out).")] = "test",
    duration: Annotated[float, typer.Option("--duration", min=0.5, help="Seconds per scene.")] = 8.0,
    scene_type: Annotated[
        Optional[list[str]],
        typer.Option("--type", help="Scene type to cycle through (repeatable; repeat one to weight it). Default: every type in turn."),
    ] = None,
    quiet: QuietOpt = False,
) -> None:
    """Write synthetic scenes with known truth as ordinary mp4 files (H.264 + AAC) plus manifest.json."""
    _setup(quiet, False, None)
    from stereofix.synth import export_scenes

    if split not in ("train", "val", "test"):
        _usage("--split must be train, val or test")
    from stereofix.synth.scene import SCENE_TYPES

    unknown = sorted(set(scene_type or ()) - set(SCENE_TYPES))
    if unknown:
        _usage(f"--type {unknown[0]}: not a scene type (one of {', '.join(SCENE_TYPES)})")
    out.mkdir(parents=True, exist_ok=True)
    try:
        manifest = export_scenes(out, n, seed, split, duration_s=duration, scene_types=scene_type)
    except StereofixError as exc:
        _fail(exc)
    typer.echo(str(manifest))


@train_app.command("flip")
def train_flip(
    out: Annotated[Path, typer.Option("--out", help="Run folder: checkpoints, log, final weights.")] = Path("runs/flip"),
    steps: Annotated[int, typer.Option("--steps", min=1, help="Optimizer steps.")] = 6000,
    batch: Annotated[int, typer.Option("--batch", min=2, help="Windows per step.")] = 32,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    workers: Annotated[int, typer.Option("--workers", min=0, help="Scene-rendering worker processes.")] = 1,
    videos: Annotated[
        Optional[Path], typer.Option("--videos", help="Folder of your own stereo videos: self-supervised fine-tuning.")
    ] = None,
    init: Annotated[Optional[Path], typer.Option("--init", help="Start from these weights (fine-tuning).")] = None,
    resume: Annotated[bool, typer.Option("--resume/--no-resume", help="Continue from the run folder's last checkpoint.")] = True,
    lr: Annotated[float, typer.Option("--lr", min=0.0, help="Peak learning rate (cosine decay to 0).")] = 2e-3,
    val_scenes: Annotated[int, typer.Option("--val-scenes", min=0, help="Validation scenes scored every --val-every steps.")] = 320,
    val_every: Annotated[int, typer.Option("--val-every", min=1, help="Steps between validations.")] = 1000,
    warm_pool: Annotated[int, typer.Option("--warm-pool", min=1, help="Examples rendered before the first step.")] = 256,
    focus: Annotated[
        Optional[list[str]],
        typer.Option("--focus", help="TYPE=WEIGHT: draw this scene type with this weight instead of its default share; MICROPHONE=WEIGHT (e.g. spaced_omni=3): draw this microphone model with this weight, the others weighing 1 (repeatable; see README)."),
    ] = None,
    sync: Annotated[int, typer.Option("--sync", min=0, help="Size of the audio-visual sync term (0: none; the shipped model has 8; kept from --init weights; see README).")] = 0,
    scene_seconds: Annotated[
        float, typer.Option("--scene-seconds", min=0.0, help="Length of each synthesized scene, cut into windows (a multiple of 2; 10 looks like a clip to check).")
    ] = 2.0,
    instant: Annotated[
        bool, typer.Option("--instant/--no-instant", help="Let the picture's attention hear the sound at each frame's own instant (see README).")
    ] = False,
    onset: Annotated[
        bool, typer.Option("--onset/--no-onset", help="Let the audio side also read level and phase differences at the sound's onsets, where reflections have not yet blurred them (see README).")
    ] = False,
    onset_gcc: Annotated[
        bool, typer.Option("--onset-gcc/--no-onset-gcc", help="Let the audio side also read the time difference at the sound's onsets as a correlation over lags, which does not wrap for widely spaced microphones (see README).")
    ] = False,
    sync_gate: Annotated[
        bool, typer.Option("--sync-gate/--no-sync-gate", help="Let the picture's confidence also read the sync evidence, so a silent visible object is not trusted for its looks alone; needs --sync or --init weights with it (see README).")
    ] = False,
    stabilize: Annotated[
        bool, typer.Option("--stabilize/--no-stabilize", help="Take the picture's motion after compensating the camera's own (shake, pans), by phase correlation between frames; kept from --init weights (see README).")
    ] = False,
    audio_gate: Annotated[
        bool, typer.Option("--audio-gate/--no-audio-gate", help="Let the picture's confidence also hear how the sound is placed (far to one side, diffuse), so a sound no visible thing makes is not credited to one; kept from --init weights (see README).")
    ] = False,
    attention_gate: Annotated[
        bool, typer.Option("--attention-gate/--no-attention-gate", help="Let the picture's confidence also read how focused the attention is (a sound nothing in view makes leaves it spread); kept from --init weights (see README).")
    ] = False,
    range_gate: Annotated[
        bool, typer.Option("--range-gate/--no-range-gate", help="Let the picture's confidence also weigh how far to one side the sound is against how far from the centre the attended place is (a sound further out than anything in view is not credited to it); kept from --init weights (see README).")
    ] = False,
    train_only: Annotated[
        Optional[list[str]],
        typer.Option("--train-only", help="PREFIX: train only the parameters whose names start with it (repeatable; e.g. gate. range_gate.); the rest of the --init weights stay as they are (see README)."),
    ] = None,
    no_side_weight: Annotated[
        float, typer.Option("--no-side-weight", min=0.0, help="Loss weight of windows that must abstain (off-screen, centred, dual mono ...) relative to the others; above 1 trades confidence for fewer confident guesses.")
    ] = 1.0,
    where: Annotated[
        float, typer.Option("--where", min=0.0, help="Weight of the 'where' objective: teach the attention where the sounding object is and the picture's confidence whether it is in view, from the synthesizer's truth (0: off; ignored on --videos, which have no truth; see README).")
    ] = 0.0,
    where_terms: Annotated[
        str, typer.Option("--where-terms", help="Which part of the 'where' objective --where trains: both, attention (where the sounding object is) or gate (whether it is in view).")
    ] = "both",
    colour_jitter: Annotated[
        float, typer.Option("--colour-jitter", min=0.0, max=1.0, help="Share of training windows whose picture colours change at random (gains, contrast, brightness, grey, channel order), so the model does not learn the training split's colours (0: off; see README).")
    ] = 0.0,
    texture_share: Annotated[
        float, typer.Option("--texture-share", min=0.0, max=1.0, help="Share of the synthesized scenes' photographs (backgrounds, patches) replaced by procedural pictures, for appearances the few bundled photographs lack (0: off; validation scenes keep photographs; see README).")
    ] = 0.0,
    device: DeviceOpt = Device.auto,
    threads: ThreadsOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Train the flip classifier on synthesized scenes (or fine-tune on your own stereo videos)."""
    _setup(quiet, False, threads)
    from stereofix.infer import resolve_device
    from stereofix.models import FlipConfig
    from stereofix.train.flip import TrainConfig, train

    try:
        scene_focus, mic_focus = _focus_weights(focus)
        cfg = TrainConfig(
            out=out, steps=steps, batch=batch, seed=seed, workers=workers, videos=videos, init=init, resume=resume,
            lr=lr, val_scenes=val_scenes, val_every=val_every, warm_pool=warm_pool, model=FlipConfig(sync=sync, instant=instant, onset=onset, onset_gcc=onset_gcc, sync_gate=sync_gate, stabilize=stabilize, audio_gate=audio_gate, attention_gate=attention_gate, range_gate=range_gate),
            no_side_weight=no_side_weight, where_weight=where, where_terms=where_terms,
            focus=scene_focus, mic_focus=mic_focus, scene_s=scene_seconds, train_only=tuple(train_only or ()),
            colour_jitter=colour_jitter, texture_share=texture_share,
        )  # fmt: skip
        final = train(cfg, device=resolve_device(device.value), log=lambda msg: log.info("%s", msg))
    except StereofixError as exc:
        _fail(exc)
    typer.echo(str(final))


def _focus_weights(items: list[str] | None) -> tuple[dict[str, float] | None, dict[str, float] | None]:
    """--focus NAME=WEIGHT ... -> ({scene type: weight}, {microphone model: weight}), checked against
    the synthesizer's scene types and microphone models."""
    from stereofix.synth.scene import SCENE_TYPES, type_probabilities
    from stereofix.synth.spatial import MIC_MODELS, mic_probabilities

    scenes: dict[str, float] = {}
    mics: dict[str, float] = {}
    for item in items or []:
        name, _, value = item.partition("=")
        name = name.strip()
        try:
            weight = float(value)
        except ValueError:
            raise InputError(f"--focus {item}: expected TYPE=WEIGHT or MICROPHONE=WEIGHT, e.g. distractors=0.3") from None
        if name in MIC_MODELS:
            mics[name] = weight
        elif name in SCENE_TYPES:
            scenes[name] = weight
        else:
            raise InputError(f"--focus {item}: {name!r} is neither a scene type ({', '.join(SCENE_TYPES)}) "
                             f"nor a microphone model ({', '.join(MIC_MODELS)})")
    try:
        type_probabilities(scenes)
        mic_probabilities(mics)
    except ValueError as exc:
        raise InputError(f"--focus: {exc}") from None
    return scenes or None, mics or None


@train_app.command("calibrate")
def train_calibrate(
    weights: Annotated[Path, typer.Argument(help="Trained checkpoint (e.g. runs/flip/best.pt).")],
    clips: Annotated[list[Path], typer.Option("--clips", help="Folder of validation clips from `stereofix synth --split val` (repeatable).")],
    out: Annotated[Path, typer.Option("--out", help="Calibrated weights file to write.")] = Path("weights/flip-v1.pt"),
    scores: Annotated[
        Optional[Path],
        typer.Option("--scores", help="JSON file of the clips' window scores: reused when it was written for the same weights and clips, else written."),
    ] = None,
    cache: Annotated[
        Optional[Path],
        typer.Option("--cache", help="Folder keeping each clip's decoded model inputs: scoring another model on the same clips then skips decoding (about 11 MB per 10 s clip)."),
    ] = None,
    two_tiers: Annotated[
        bool,
        typer.Option("--two-tiers/--one-tier", help="Also try a second synchrony line below which only very sure verdicts are given (a rule that then decides a must-abstain clip at p >= 0.8 is passed over where another avoids it)."),
    ] = True,
    attention_prior: Annotated[
        float,
        typer.Option("--attention-prior", min=0.0, help="How strongly the file's picture-sound synchrony map steers the network's attention (0: the network alone; README \"Design notes\")."),
    ] = 10.0,
    weak_margin: Annotated[
        float,
        typer.Option("--weak-margin", min=0.0, help="Logits by which the second line's threshold must clear every must-abstain validation clip below that line that the network is 0.8 sure of (0: none, as the shipped file was fitted; README \"Design notes\", session 34)."),
    ] = 0.0,
    sync_margin: Annotated[
        float,
        typer.Option("--sync-margin", min=0.0, help="Synchrony by which the line above which a must-abstain validation clip that the network is 0.8 sure of would be decided must clear it (0: none, as the shipped file was fitted; README \"Design notes\", session 35)."),
    ] = 0.0,
    mixed_scope: Annotated[
        str,
        typer.Option("--mixed-scope", help="Which validation clips `mixed` is judged on: \"clear\" (clear-sided ones: the stretch budget and the map of the probability given with `mixed`, as files before session 35 were fitted) or \"every\" (every clip where nothing is exchanged: the default since session 35; README \"Design notes\")."),
    ] = "every",
    doubt_splits: Annotated[
        bool,
        typer.Option("--doubt-splits/--no-doubt-splits", help="With --mixed-scope every: files whose windows split into stretches of alternating sides too weakly for `mixed` are `uncertain`, not given one verdict for the whole file (the default since session 35; README \"Design notes\")."),
    ] = True,
    device: DeviceOpt = Device.auto,
    threads: ThreadsOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Fit the verdict thresholds and probability calibration on validation clips (never the benchmark)."""
    _setup(quiet, False, threads)
    from stereofix.infer import Analyzer
    from stereofix.train.calibrate import MIXED_SCOPES, fit, load_scores, save_scores, score_clips
    from stereofix import windows
    from stereofix.weights import load_checkpoint, save_checkpoint, sha256_of

    try:
        if mixed_scope not in MIXED_SCOPES:  # before the scoring, which can take an hour
            raise InputError(f"--mixed-scope {mixed_scope}: expected one of {', '.join(MIXED_SCOPES)}")
        analyzer = Analyzer.load(weights, device.value)
        sha = sha256_of(weights)
        by_folder = load_scores(scores, sha, attention_prior) if scores is not None else {}
        missing = [f for f in clips if str(f) not in by_folder]
        if len(missing) < len(clips):
            log.info("reusing the window scores in %s for %d of %d folders", scores, len(clips) - len(missing), len(clips))
        if missing:
            with _progress(not quiet, "scoring validation clips") as cb:
                for k, folder in enumerate(missing):
                    step = (lambda i, n, k=k: cb((k + i / n) / len(missing))) if cb else None
                    by_folder[str(folder)] = score_clips(analyzer, folder, progress=step, cache=cache,
                                                         attention_prior=attention_prior)
            if scores is not None:
                save_scores(scores, by_folder, sha, attention_prior)
        cal, figures = fit([x for folder in clips for x in by_folder[str(folder)]], tiers=two_tiers,
                           attention_prior=attention_prior, weak_margin=weak_margin, sync_margin=sync_margin,
                           mixed_scope=mixed_scope, doubt_splits=doubt_splits)
        for key, what in (("decide_found", "clip"), ("segment_decide_found", "stretch (so `mixed` will hardly ever be reported)")):
            if not figures[key]:
                log.warning("no %s threshold meets the calibration rule on these clips; the strictest is used", what)
        if figures["val_abstain_decided_high_confidence"]:
            log.warning("every rule tried decides some must-abstain clip at p >= 0.8; the best of them is used")
        meta = dict(load_checkpoint(weights).get("meta", {}))
        meta["calibration_figures"] = figures
        meta["short_hop"] = windows.SHORT_HOP  # the verdict's thresholds hold for windows planned this way
        meta["short_windows"] = [windows.SHORT_FILE_S, windows.SHORT_WINDOWS_FACTOR]
        save_checkpoint(out, analyzer.model.cpu(), cal, meta)
    except StereofixError as exc:
        _fail(exc)
    typer.echo(json.dumps({"weights": str(out), **figures}))


@train_app.command("average")
def train_average(
    base: Annotated[Path, typer.Argument(help="The starting checkpoint of a fine-tune.")],
    tuned: Annotated[Path, typer.Argument(help="The checkpoint fine-tuned from BASE.")],
    weight: Annotated[float, typer.Option("--weight", help="Share of TUNED in the average (0 = BASE, 1 = TUNED).")] = 0.5,
    out: Annotated[Path, typer.Option("--out", help="Averaged weights file to write (calibrate it next).")] = Path("runs/average.pt"),
    quiet: QuietOpt = False,
) -> None:
    """Average a model's weights with its fine-tuned descendant's (WiSE-FT); see README."""
    _setup(quiet, False, None)
    from stereofix.train.average import average_checkpoints

    try:
        written = average_checkpoints(base, tuned, weight, out)
    except StereofixError as exc:
        _fail(exc)
    typer.echo(str(written))


def main() -> None:
    """Entry point; turns anything unexpected into one line and exit code 2.

    The process ends here: with torch loaded, the interpreter's own teardown adds about 0.4 s to
    every run (measured on a 2-core machine), so once the command has closed its files and the
    output is flushed, it exits without it. In-process use goes through `app`, not this.
    """
    try:
        app(standalone_mode=True)
        code = EXIT_OK
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else EXIT_ERROR if exc.code else EXIT_OK
        if code == 130:  # typer's answer to Ctrl-C inside a command
            sys.stderr.write("stereofix: interrupted\n")
        if type(sys.stdout).__name__ == "PacifyFlushWrapper":
            # typer met a closed stdout (`| head`) and exits 1, which here means "swapped": not so.
            code = EXIT_OK
    except KeyboardInterrupt:
        sys.stderr.write("stereofix: interrupted\n")
        code = 130
    except BrokenPipeError:
        # Downstream of a pipe closed early (e.g. `| head`): not an error of ours.
        _stdout_to_devnull()
        code = EXIT_OK
    except Exception as exc:  # noqa: BLE001 - last resort: never a traceback for the user
        if _interrupted(exc):
            sys.stderr.write("stereofix: interrupted\n")
            code = 130
        else:
            sys.stderr.write(f"stereofix: error: {type(exc).__name__}: {exc}\n")
            code = EXIT_ERROR
    _exit(code)


def _interrupted(exc: BaseException) -> bool:
    """Whether a Ctrl-C is what `exc` wraps: one during an import (torch's takes seconds on a busy
    machine) can surface as a RuntimeError from `__set_name__`, with the KeyboardInterrupt as cause."""
    seen: set[int] = set()
    e: BaseException | None = exc
    while e is not None and id(e) not in seen:
        if isinstance(e, KeyboardInterrupt):
            return True
        seen.add(id(e))
        e = e.__cause__ or e.__context__
    return False


def _exit(code: int) -> None:
    logging.shutdown()
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        _stdout_to_devnull()
    except (OSError, ValueError):
        pass
    try:
        sys.stderr.flush()
    except (OSError, ValueError):
        pass
    if "torch" not in sys.modules:
        sys.exit(code)
    os._exit(code)


def _stdout_to_devnull() -> None:
    """Nobody reads stdout any more: what is still buffered for it goes nowhere, quietly."""
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
