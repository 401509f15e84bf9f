"""stereofix: find and repair swapped stereo channels by comparing the audio with the picture.

    from stereofix import Analyzer, check, repair
    analyzer = Analyzer.load()            # the shipped flip classifier
    result = check("clip.mp4", analyzer)  # result.verdict.verdict in VERDICTS
    repair("clip.mp4", None, analyzer=analyzer, inplace=True)
"""

from stereofix.errors import InputError, OutputError, StereofixError, WeightsError
from stereofix.infer import Analyzer, CheckResult, RepairReport, check, repair
from stereofix.verdict import VERDICTS, Calibration, Verdict

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
