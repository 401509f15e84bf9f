"""Read the source bank (see bank.py) once per process: sound clips by split and kind, photographs,
faces and the HRTF of each split. Audio is memory-mapped, so worker processes share the pages."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
from scipy.signal import resample_poly

from stereofix.synth.bank import build_bank, default_cache_dir
from stereofix.synth.spatial import Hrtf
from stereofix.synth.splits import check_split

_BANKS: dict[str, "Bank"] = {}


class Bank:
    """The source bank at `path`: clips, photographs, faces and HRTFs, each with its split."""

    def __init__(self, path: Path):
        self.path = Path(path)
        meta = json.loads((self.path / "bank.json").read_text())
        self.items = meta["items"]
        self.image_split = meta["images"]
        self.face_split = meta["faces"]
        self._audio: dict[int, np.ndarray] = {}
        self._images = None
        self._faces = None
        self._hrtf_data = None
        self._hrtf: dict[tuple[str, int], Hrtf] = {}
        # groups[split][kind] -> {group: [item index, ...]}
        self.groups: dict[str, dict[str, dict[str, list[int]]]] = {}
        for i, it in enumerate(self.items):
            self.groups.setdefault(it["split"], {}).setdefault(it["kind"], {}).setdefault(it["group"], []).append(i)

    def audio(self, rate: int) -> np.ndarray:
        if rate not in self._audio:
            self._audio[rate] = np.load(self.path / f"audio_{rate}.npy", mmap_mode="r")
        return self._audio[rate]

    def clip(self, i: int, rate: int) -> np.ndarray:
        """Clip i as float32 at `rate` (16 and 48 kHz stored; other rates resampled from 48 kHz)."""
        it = self.items[i]
        src = rate if f"off{rate}" in it else 48000
        a = self.audio(src)
        x = np.asarray(a[it[f"off{src}"]: it[f"off{src}"] + it[f"len{src}"]], np.float32) / 32767.0
        if src != rate:
            g = np.gcd(rate, src)
            x = resample_poly(x, rate // g, src // g).astype(np.float32)
        return x

    def sound_groups(self, split: str, kinds: tuple[str, ...]) -> list[tuple[str, str]]:
        """(kind, group) pairs of `split` whose kind is in `kinds`, sorted (deterministic)."""
        by_kind = self.groups.get(check_split(split), {})
        return sorted((k, g) for k in kinds for g in by_kind.get(k, {}))

    def group_items(self, split: str, kind: str, group: str) -> list[int]:
        return self.groups[split][kind][group]

    @property
    def images(self) -> dict[str, np.ndarray]:
        if self._images is None:
            with np.load(self.path / "images.npz") as z:
                self._images = {k: z[k] for k in z.files}
        return self._images

    def image_names(self, split: str) -> list[str]:
        return sorted(k for k, s in self.image_split.items() if s == split and k in self.images)

    @property
    def faces(self) -> np.ndarray:
        if self._faces is None:
            self._faces = np.load(self.path / "faces.npy")
        return self._faces

    def face_indices(self, split: str) -> list[int]:
        return [i for i, s in enumerate(self.face_split) if s == split]

    def hrtf(self, split: str, rate: int) -> Hrtf:
        key = (split, rate)
        if key not in self._hrtf:
            if self._hrtf_data is None:
                with np.load(self.path / "hrtf.npz") as z:
                    self._hrtf_data = {k: z[k] for k in z.files}
            d = self._hrtf_data
            if f"ir{rate // 1000}" in d and rate % 1000 == 0:
                irs = d[f"ir{rate // 1000}"]
            else:
                g = np.gcd(rate, 48000)
                irs = resample_poly(d["ir48"], rate // g, 48000 // g, axis=-1).astype(np.float32)
            self._hrtf[key] = Hrtf(d["positions"], irs, split)
        return self._hrtf[key]


def get_bank(path: str | Path | None = None) -> Bank:
    """The bank at `path` (default: $STEREOFIX_BANK or the platformdirs cache), loaded once per
    process; it is built first (minutes, progress on stderr) if it does not exist yet."""
    path = Path(path) if path is not None else default_cache_dir()
    key = str(path.resolve())
    if key not in _BANKS:
        if not (path / "bank.json").exists():
            build_bank(path, progress=lambda s: print(s, file=sys.stderr, flush=True))
        _BANKS[key] = Bank(path)
    return _BANKS[key]
