"""The material split: every pool of material is cut into disjoint "train", "val" and "test" parts.

The rule is one deterministic function of the item's key, so that it is the same on every machine
and in every bank build:

- Within a pool, items are sorted by their key (a string: voice name, GM program number written
  with three digits, image name, procedural variant number) and numbered i = 0, 1, 2, ...
- ``i % 6 == 4`` goes to "val", ``i % 6 == 5`` goes to "test", everything else to "train"
  (two thirds of the material for training, a sixth each for calibration and the benchmark).
- HRTF directions (MIT KEMAR, used by the "binaural_kemar" microphone model) are split by ring:
  "train" renders through the measured elevations -30, -20, -10, +10, +20 and +30 degrees (every
  azimuth of those rings); "val" and "test" render only through the elevation-0 ring, "val"
  through its azimuths with an even index on the 5-degree grid (0, 10, 20, ...) and "test" through
  the odd ones (5, 15, 25, ...). Training therefore never hears a direction measured at elevation 0.
"""

from __future__ import annotations

SPLITS = ("train", "val", "test")

# Position in a cycle of six: which split an item with that index belongs to.
_CYCLE = ("train", "train", "train", "train", "val", "test")


def split_of_index(i: int) -> str:
    """The split of the i-th item (0-based) of a pool sorted by key."""
    return _CYCLE[i % len(_CYCLE)]


def assign_splits(keys: list[str]) -> dict[str, str]:
    """Map each key of one pool to its split (sorted-key rule, see the module docstring)."""
    return {k: split_of_index(i) for i, k in enumerate(sorted(set(keys)))}


def check_split(split: str) -> str:
    """Validate a split name."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, not {split!r}")
    return split
