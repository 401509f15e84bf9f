"""Write scenes as ordinary mp4 files (H.264 + AAC) with a manifest.json of their truth."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable, Sequence

from stereofix.media.encode import write_clip
from stereofix.synth.scene import SCENE_TYPES, render_scene


def export_scenes(out_dir: str | Path, n: int, seed: int, split: str = "test", *, duration_s: float = 8.0,
                  sample_rate: int = 48000, fps: float = 25.0, long_side: int = 640,
                  scene_types: Sequence[str] | None = None, bank=None,
                  progress: Callable[[int, int], None] | None = None) -> Path:
    """Render scenes seed, seed + 1, ... seed + n - 1 and write out_dir/scene_XXXX.mp4 + manifest.json.

    Scene types cycle through `scene_types` (default: all of SCENE_TYPES) so every type is present.

    Returns:
        The path of manifest.json: {"split", "seed", "n", "scenes": [{"file", **truth}]}.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    types = tuple(scene_types) if scene_types else SCENE_TYPES
    entries = []
    for i in range(n):
        scene = render_scene(seed + i, split, duration_s=duration_s, sample_rate=sample_rate, fps=fps,
                             long_side=long_side, scene_type=types[i % len(types)], bank=bank)
        name = f"scene_{i:04d}.mp4"
        write_clip(out / name, scene.frames, fps, scene.audio, sample_rate, audio_codec="aac",
                   audio_bit_rate=192_000, video_options={"preset": "veryfast", "crf": "20"})
        entries.append({"file": name, **scene.truth})
        if progress:
            progress(i + 1, n)
    manifest = out / "manifest.json"
    manifest.write_text(json.dumps({"split": split, "seed": seed, "n": n, "scenes": entries}, indent=1))
    return manifest
