"""The media choke point: the only package that imports PyAV.

Past this package, audio is a `[C, N]` float32 array plus a sample rate and video is
`[N, H, W, 3]` uint8 frames plus their timestamps.
"""

from stereofix.media.decode import WholeSpans, display_size, iter_audio, read_audio, read_audio_windows, read_frames, read_frames_also
from stereofix.media.encode import write_clip
from stereofix.media.probe import MediaInfo, StreamInfo, keyframe_times, probe
from stereofix.media.spool import spool_stdin

__all__ = [
    "MediaInfo",
    "StreamInfo",
    "WholeSpans",
    "display_size",
    "iter_audio",
    "keyframe_times",
    "probe",
    "read_audio",
    "read_audio_windows",
    "read_frames",
    "read_frames_also",
    "spool_stdin",
    "write_clip",
]
