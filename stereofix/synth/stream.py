"""A training stream: an infinite torch IterableDataset of rendered scenes."""

from __future__ import annotations

from typing import Any, Callable, Iterator

import torch

from stereofix.synth.scene import Scene, render_scene
from stereofix.synth.splits import check_split


class SceneStream(torch.utils.data.IterableDataset):
    """Scenes of `split`, rendered on the fly, forever.

    Worker w of W (torch.utils.data.get_worker_info) renders seeds base_seed + w, base_seed + w + W,
    ... so workers never repeat each other's scenes; without workers, seeds base_seed, base_seed + 1, ...

    Args:
        split: "train", "val" or "test".
        base_seed: the first seed.
        transform: optional callable applied to each Scene in the worker (e.g. to tensors), so the
            DataLoader's collate sees its result instead of Scene objects.
        **render_kwargs: passed to render_scene (duration_s, sample_rate, fps, long_side, scene_type, bank).
    """

    def __init__(self, split: str = "train", base_seed: int = 0, transform: Callable[[Scene], Any] | None = None,
                 **render_kwargs):
        super().__init__()
        self.split = check_split(split)
        self.base_seed = int(base_seed)
        self.transform = transform
        self.render_kwargs = render_kwargs

    def __iter__(self) -> Iterator[Any]:
        info = torch.utils.data.get_worker_info()
        wid, nw = (info.id, info.num_workers) if info is not None else (0, 1)
        seed = self.base_seed + wid
        while True:
            scene = render_scene(seed, self.split, **self.render_kwargs)
            yield self.transform(scene) if self.transform else scene
            seed += nw
