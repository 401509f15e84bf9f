"""stereofix: find and repair swapped stereo channels by comparing the audio with the picture.

    from stereofix import Analyzer, check, repair
    analyzer = Analyzer.load()            # the shipped flip classifier
    result = check("clip.mp4", analyzer)  # result.verdict.verdict in VERDICTS
    repair("clip.mp4", None, analyzer=analyzer, inplace=True)
"""

import importlib

from stereofix.errors import InputError, OutputError, StereofixError, WeightsError
from stereofix.verdict import VERDICTS, Calibration, CheckResult, Verdict

# Imported on first use: they bring in torch (about 1.5 s), which the CLI loads while a worker
# process is already decoding the first file (stereofix.prefetch).
_FROM_INFER = ("Analyzer", "RepairReport", "check", "repair")


def __getattr__(name: str):
    if name in _FROM_INFER:
        return getattr(importlib.import_module("stereofix.infer"), name)
    raise AttributeError(f"module 'stereofix' has no attribute {name!r}")


__version__ = "0.1.0"

__all__ = [
    "Analyzer",
    "Calibration",
    "CheckResult",
    "InputError",
    "OutputError",
    "RepairReport",
    "StereofixError",
    "VERDICTS",
    "Verdict",
    "WeightsError",
    "check",
    "repair",
]
