"""Find, verify and load model weights.

Lookup order: an explicit path (`--weights`), the STEREOFIX_WEIGHTS environment variable, the
`weights/` folder shipped beside the package, then the user cache folder. Shipped files are named
`<name>-<sha8>.pt` where sha8 is the first 8 hex digits of the file's sha256, and that prefix is
checked on load; a checkpoint is `{"kind", "config", "state_dict", "calibration", "meta"}` and is
loaded with `weights_only=True` (no pickled classes).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path

import platformdirs
import torch

from stereofix.errors import WeightsError
from stereofix.models import FlipConfig, FlipNet
from stereofix.verdict import Calibration

ENV_VAR = "STEREOFIX_WEIGHTS"
REPO_WEIGHTS = Path(__file__).resolve().parent.parent / "weights"
CACHE_WEIGHTS = Path(platformdirs.user_cache_dir("stereofix")) / "weights"
_HASHED = re.compile(r"^(?P<name>.+)-(?P<sha>[0-9a-f]{8})\.pt$")


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def resolve(name: str = "flip-v1", path: str | Path | None = None) -> Path:
    """The weights file to use for model `name`.

    Raises:
        WeightsError: an explicit path does not exist, or no file for `name` is found anywhere.
    """
    explicit = path or os.environ.get(ENV_VAR)
    if explicit:
        p = Path(explicit).expanduser()
        if not p.is_file():
            raise WeightsError(f"weights file not found: {p}")
        return p
    for folder in (REPO_WEIGHTS, CACHE_WEIGHTS):
        if folder.is_dir():
            found = sorted(folder.glob(f"{name}-*.pt")) + sorted(folder.glob(f"{name}.pt"))
            if found:
                return found[0]
    raise WeightsError(f"no weights for {name!r}: pass --weights or set {ENV_VAR}")


def load_checkpoint(path: str | Path) -> dict:
    """Load and verify a checkpoint dict (sha prefix in the file name, when present)."""
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"weights file not found: {path}")
    m = _HASHED.match(path.name)
    if m and not sha256_of(path).startswith(m.group("sha")):
        raise WeightsError(f"{path}: checksum does not match its name (corrupt or altered file)")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for a bad file
        raise WeightsError(f"{path}: not a stereofix weights file ({type(exc).__name__})") from None
    if not isinstance(ckpt, dict) or "state_dict" not in ckpt:
        raise WeightsError(f"{path}: not a stereofix weights file")
    return ckpt


def load_flip_model(path: str | Path | None = None, device: str = "cpu") -> tuple[FlipNet, Calibration, Path]:
    """The flip classifier in eval mode, its calibration, and the file it came from."""
    p = resolve("flip-v1", path)
    ckpt = load_checkpoint(p)
    if ckpt.get("kind", "flip") != "flip":
        raise WeightsError(f"{p}: holds a {ckpt.get('kind')!r} model, not the flip classifier")
    model = FlipNet(FlipConfig.from_dict(ckpt.get("config", {})))
    try:
        model.load_state_dict(ckpt["state_dict"])
    except RuntimeError:
        raise WeightsError(f"{p}: weights do not fit this version's flip model") from None
    return model.eval().to(device), Calibration.from_dict(ckpt.get("calibration")), p


def _plain(x):
    """JSON types only (numpy scalars become Python numbers), so the file loads with weights_only=True."""
    return json.loads(json.dumps(x, default=lambda v: v.item() if hasattr(v, "item") else str(v)))


def save_checkpoint(path: Path, model: FlipNet, calibration: Calibration | None = None, meta: dict | None = None) -> Path:
    """Write a checkpoint; the caller may rename it to its hashed name with `hashed_name`."""
    from dataclasses import asdict

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save(
        {
            "kind": "flip",
            "config": model.cfg.to_dict(),
            "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
            "calibration": _plain(asdict(calibration or Calibration())),
            "meta": _plain(meta or {}),
        },
        tmp,
    )
    os.replace(tmp, path)
    return path


def hashed_name(path: Path, name: str = "flip-v1") -> Path:
    """Rename `path` to `<name>-<sha8>.pt` beside it and return the new path."""
    target = path.with_name(f"{name}-{sha256_of(path)[:8]}.pt")
    os.replace(path, target)
    return target
