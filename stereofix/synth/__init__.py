"""The scene synthesizer: frames, stereo audio and truth from a seed (see scene.py for conventions).

    from stereofix.synth import build_bank, render_scene
    build_bank()                      # once: renders the source bank into the cache
    scene = render_scene(7, "train")  # frames [T, H, W, 3], audio [2, N], truth

Material splits ("train" / "val" / "test") are documented in stereofix/synth/splits.py.
"""

from stereofix.synth.bank import build_bank
from stereofix.synth.export import export_scenes
from stereofix.synth.scene import SCENE_TYPES, Scene, render_scene
from stereofix.synth.spatial import MIC_MODELS
from stereofix.synth.splits import SPLITS
from stereofix.synth.stream import SceneStream

__all__ = ["render_scene", "Scene", "SCENE_TYPES", "SceneStream", "export_scenes", "build_bank", "MIC_MODELS", "SPLITS"]
