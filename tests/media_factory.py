"""Generate test media with the ffmpeg CLI and inspect it with ffprobe / PyAV (tests only).

Each audio channel carries its own low-passed noise (a different seed), so a channel can be
identified after a lossy round trip by correlation.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from pathlib import Path

import av
import numpy as np

FFMPEG = shutil.which("ffmpeg")
FFPROBE = shutil.which("ffprobe")
LAYOUTS = {1: "mono", 2: "stereo", 6: "5.1", 8: "7.1"}
SR = 48000  # Hz
FPS = 25
VIDEO_FOR = {"webm": "libvpx-vp9", "mpegts": "libx264", "ts": "libx264"}
MUXER_EXT = {"mp4": "mp4", "mov": "mov", "mkv": "mkv", "webm": "webm", "mpegts": "ts"}


def ffmpeg(*args: str) -> None:
    subprocess.run([FFMPEG, "-v", "error", "-y", "-nostdin", *args], check=True)


def probe(path: Path) -> dict:
    out = subprocess.run(
        [FFPROBE, "-v", "error", "-show_streams", "-show_format", "-show_chapters", "-of", "json", str(path)],
        check=True, capture_output=True, text=True,
    ).stdout
    return json.loads(out)


def packet_hashes(path: Path, selector: str) -> list[tuple[str, str, str]]:
    """(pts_time, dts_time, md5) of every packet of the selected stream, via ffprobe."""
    out = subprocess.run(
        [FFPROBE, "-v", "error", "-select_streams", selector, "-show_packets", "-show_data_hash", "md5",
         "-show_entries", "packet=pts_time,dts_time,data_hash", "-of", "json", str(path)],
        check=True, capture_output=True, text=True,
    ).stdout
    return [(p.get("pts_time"), p.get("dts_time"), p["data_hash"]) for p in json.loads(out)["packets"]]


def file_hash(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def noise_audio_graph(channels: int, seconds: float, first_input: int) -> tuple[list[str], str]:
    """ffmpeg inputs and a filter that join `channels` distinct noises into one stream [a]."""
    inputs: list[str] = []
    for c in range(channels):
        inputs += ["-f", "lavfi", "-i", f"anoisesrc=seed={c + 11}:color=pink:amplitude=0.3:r={SR}:d={seconds}"]
    labels = "".join(f"[{first_input + c}:a]" for c in range(channels))
    if channels == 1:
        graph = f"{labels}lowpass=f=6000[a]"
    else:
        graph = f"{labels}join=inputs={channels}:channel_layout={LAYOUTS[channels]},lowpass=f=6000[a]"
    return inputs, graph


def make_clip(
    path: Path,
    audio_codec: str,
    *,
    channels: int = 2,
    seconds: float = 2.0,
    video: bool = True,
    audio_args: tuple[str, ...] = (),
    extra: tuple[str, ...] = (),
) -> Path:
    """A small clip: testsrc2 video (160x120, 25 fps, H.264 or VP9 for webm) and noise audio."""
    path = Path(path)
    ext = path.suffix.lstrip(".")
    args: list[str] = []
    first_audio = 0
    if video:
        args += ["-f", "lavfi", "-i", f"testsrc2=s=160x120:r={FPS}:d={seconds}"]
        first_audio = 1
    inputs, graph = noise_audio_graph(channels, seconds, first_audio)
    args += inputs + ["-filter_complex", graph]
    if video:
        vcodec = VIDEO_FOR.get(ext, "libx264")
        args += ["-map", "0:v", "-c:v", vcodec, "-g", "12", "-pix_fmt", "yuv420p"]
        if vcodec == "libx264":
            args += ["-preset", "veryfast", "-bf", "2"]
        else:
            args += ["-deadline", "realtime", "-cpu-used", "8", "-b:v", "200k"]
    args += ["-map", "[a]", "-c:a", audio_codec, *audio_args]
    if audio_codec in ("aac", "libmp3lame", "libopus"):
        args += ["-b:a", "192k"] if channels <= 2 else ["-b:a", "384k"]
    if audio_codec == "ac3":
        args += ["-b:a", "384k"]
    if audio_codec == "flac" and ext == "mp4":
        args += ["-strict", "experimental"]
    if audio_codec == "libopus":
        args += ["-ar", "48000"]
    ffmpeg(*args, *extra, str(path))
    return path


def decode(path: Path, stream_index: int) -> tuple[np.ndarray, float, int]:
    """All samples of one stream as [C, N] float64, the first sample's time (s), the rate."""
    with av.open(str(path)) as c:
        s = c.streams[stream_index]
        parts, start = [], None
        for frame in c.decode(s):
            if start is None:
                start = float(frame.pts * frame.time_base)
            parts.append(_frame_array(frame))
        rate = s.codec_context.sample_rate
    x = np.concatenate(parts, axis=1)
    return x, start or 0.0, rate


def decode_raw(path: Path, stream_index: int) -> np.ndarray:
    """Samples in their native integer/float dtype (for bit-exact comparisons), [C, N]."""
    with av.open(str(path)) as c:
        s = c.streams[stream_index]
        parts = []
        for frame in c.decode(s):
            parts.append(_frame_array(frame))
    return np.concatenate(parts, axis=1)


def aligned_similarity(ref: np.ndarray, ref_start: float, test: np.ndarray, test_start: float, rate: int,
                       max_lag_s: float = 0.01) -> tuple[float, float]:
    """(peak normalised correlation, lag in seconds) of `test` against `ref` on the common timeline.

    Lag 0 means the two are aligned on the container timeline; a positive lag means `test` is late.
    """
    offset = int(round((test_start - ref_start) * rate))  # where test[0] sits in ref's samples
    # Put both on ref's sample grid.
    if offset >= 0:
        a, b = ref[offset:], test
    else:
        a, b = ref, test[-offset:]
    n = min(a.size, b.size) - 2 * int(max_lag_s * rate)
    margin = int(max_lag_s * rate)
    a_mid = a[margin : margin + n]
    best, best_lag = -2.0, 0
    for lag in range(-margin, margin + 1):
        seg = b[margin + lag : margin + lag + n]
        r = float(np.dot(a_mid, seg) / (np.linalg.norm(a_mid) * np.linalg.norm(seg) + 1e-12))
        if r > best:
            best, best_lag = r, lag
    return best, best_lag / rate


def _frame_array(frame) -> np.ndarray:
    """[C, N]; reads planes itself (PyAV 18's to_ndarray crashes on 8-channel planar audio)."""
    channels, n = len(frame.layout.channels), frame.samples
    dtype = {"u8": "u1", "s16": "<i2", "s32": "<i4", "flt": "<f4", "dbl": "<f8"}[frame.format.name.rstrip("p")]
    if frame.format.is_planar:
        return np.stack([np.frombuffer(frame.planes[c], dtype=dtype, count=n) for c in range(channels)])
    return np.frombuffer(frame.planes[0], dtype=dtype, count=n * channels).reshape(n, channels).T


def stream_of(info: dict, index: int) -> dict:
    return next(s for s in info["streams"] if s["index"] == index)
