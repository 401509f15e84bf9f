"""The one writer behind `repair` and `upmix`: re-encode one audio stream, copy everything else.

Every other stream is stream-copied packet for packet (video, other audio, subtitles, data,
attachments), with its metadata, disposition and display matrix; container tags and chapters are
copied too. The repaired stream keeps its codec, sample rate and (for a swap) layout, and at
least its source bitrate. Uncompressed PCM is swapped inside the packets (bit-exact, timing
untouched); FLAC is decoded, permuted as integers and re-encoded (bit-exact samples); lossy codecs
are decoded, swapped and re-encoded, the encoder's priming (AAC 1024, AC-3 256, Opus 312 samples)
carried by the muxer as an edit list / codec delay so that the audio does not move against video.

Priming in containers without an edit list (MPEG-TS; Matroska, which states it as CodecDelay): the
first packet carries the priming and starts one priming length earlier; the first audible sample
keeps its time against the picture (checked by correlating decoded output with the input).
Fragmented MP4 (standard output): written with delay_moov so the moov carries edit lists (and
AC-3 can be written); the repaired track is also padded with silence so that it starts at the
picture's first decode time, which keeps A/V sync for readers that ignore fMP4 edit lists too
(a source whose audio starts before that time relies on the edit list alone).
Text subtitles a container cannot hold are converted, not dropped: mov_text -> SubRip for Matroska,
SubRip -> mov_text for MP4/MOV (text kept, mov_text style boxes and SubRip tags are not).

Known limits (FFmpeg's muxers, not ours): the container-level `encoder` tag is rewritten by the
muxer; an MP4 chapter track is not copied as a stream but rebuilt from the chapters (as FFmpeg
does); timestamp gaps inside the repaired audio stream are closed (its samples become contiguous).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from stereofix.errors import InputError, OutputError
from stereofix.media.safe_write import atomic_output

# Left/right channel-name pairs a mirror exchanges; FC, LFE, BC, TC stay where they are.
MIRROR_PAIRS = (
    ("FL", "FR"), ("SL", "SR"), ("BL", "BR"), ("FLC", "FRC"), ("TFL", "TFR"), ("TBL", "TBR"),
    ("WL", "WR"), ("SDL", "SDR"), ("TSL", "TSR"), ("TTL", "TTR"), ("BFL", "BFR"), ("LFE1", "LFE2"),
    ("DL", "DR"),
)
_LAYOUT_BY_CHANNELS = {1: "mono", 2: "stereo", 3: "2.1", 4: "quad", 5: "5.0", 6: "5.1", 7: "6.1", 8: "7.1"}
# Decoder name -> encoder name where they differ (the wheel's FFmpeg has no native mp3/opus encoder of note).
_ENCODER_FOR = {"mp3float": "libmp3lame", "mp3": "libmp3lame", "opus": "libopus", "ac3_fixed": "ac3"}
# File suffix -> FFmpeg muxer name.
_MUXER_FOR_SUFFIX = {
    ".mp4": "mp4", ".m4v": "mp4", ".m4a": "ipod", ".mov": "mov", ".mkv": "matroska", ".mka": "matroska",
    ".webm": "webm", ".ts": "mpegts", ".m2ts": "mpegts", ".mts": "mpegts", ".wav": "wav", ".flac": "flac",
    ".mp3": "mp3", ".ogg": "ogg", ".oga": "ogg", ".opus": "ogg", ".ac3": "ac3", ".aac": "adts",
}
_FRAGMENTED_MP4 = {"movflags": "frag_keyframe+empty_moov+delay_moov+default_base_moof"}
_SEEKABLE_NEEDED = {"mp4", "mov", "ipod"}  # muxers that must seek back (moov) unless fragmented
DEFAULT_CROSSFADE_S = 0.02  # seconds of linear crossfade at each edge of a swapped range
_BITRATE_PROBE_S = 60.0  # seconds of packets read to estimate a bitrate the container does not state
_VERIFY_DURATION_TOL_S = 0.5  # seconds a re-probed stream may differ from the source's duration
_DISCARD_ALL = 48  # AVDISCARD_ALL: the demuxer's mark on MP4 chapter tracks


@dataclass(frozen=True)
class SwapChannels:
    """Exchange every left/right channel pair (stereo 0<->1; 5.1/7.1 FL/FR, SL/SR, BL/BR).

    Args:
        ranges: (start, end) in seconds on the container timeline to swap inside; None = everything.
        crossfade_s: length of the linear crossfade centred on each range edge.
    """

    ranges: tuple[tuple[float, float], ...] | None = None
    crossfade_s: float = DEFAULT_CROSSFADE_S


@dataclass(frozen=True)
class ReplaceAudio:
    """New samples for the stream, re-encoded with its codec and sample rate.

    Args:
        samples: [C, N] float32 in [-1, 1]; sample 0 sits at the stream's start time.
        sample_rate: rate of `samples` in Hz (resampled to the stream's rate if different).
    """

    samples: np.ndarray
    sample_rate: int


@dataclass
class RewriteResult:
    output: Path | None  # None when written to stdout
    audio_stream: int  # absolute index of the rewritten stream in the input
    bit_exact: bool  # PCM/FLAC path: samples are exact
    streams_copied: int  # streams stream-copied unchanged
    dropped: tuple[str, ...] = ()  # "index:type" of streams the output container cannot hold


Progress = Callable[[float], None]


# ----------------------------------------------------------------------------------------------
# Channel operations on arrays (pure numpy)


def mirror_permutation(channel_names: list[str]) -> np.ndarray:
    """Channel order that exchanges every left/right pair of a layout.

    Args:
        channel_names: FFmpeg channel names in stream order (e.g. FL FR FC LFE BL BR).

    Returns:
        perm: [C] int, so that `out = x[perm]` is the mirrored signal.

    Raises:
        InputError: the layout has no left/right pair (mono, or unknown 3+ channel order).
    """
    perm = np.arange(len(channel_names))
    index = {name: i for i, name in enumerate(channel_names)}
    found = False
    for left, right in MIRROR_PAIRS:
        if left in index and right in index:
            perm[index[left]], perm[index[right]] = index[right], index[left]
            found = True
    if not found and len(channel_names) == 2:  # unlabelled 2-channel stream: assume L, R
        perm = np.array([1, 0])
        found = True
    if not found:
        raise InputError(f"no left/right channel pair to exchange in layout {'+'.join(channel_names) or '?'}")
    return perm


def swap_weights(times_s: np.ndarray, ranges: tuple[tuple[float, float], ...], crossfade_s: float) -> np.ndarray:
    """How much of the swapped signal to use at each time: 1 inside ranges, 0 outside, linear seams.

    Args:
        times_s: [N] sample times in seconds on the container timeline.
        ranges: (start, end) seconds; each seam is a ramp of `crossfade_s` centred on the edge.

    Returns:
        [N] float32 weights in [0, 1].
    """
    w = np.zeros(times_s.shape, dtype=np.float64)
    half = max(crossfade_s, 1e-9) / 2
    for start, end in ranges:
        up = np.clip((times_s - (start - half)) / (2 * half), 0.0, 1.0)
        down = np.clip(((end + half) - times_s) / (2 * half), 0.0, 1.0)
        w = np.maximum(w, np.minimum(up, down))
    return w.astype(np.float32)


def _swap_block(x: np.ndarray, perm: np.ndarray, weights: np.ndarray | None) -> np.ndarray:
    """x: [C, N] in any dtype. Whole swap = a pure permutation (exact); ranges blend in float."""
    if weights is None:
        return x[perm]
    if not weights.any():
        return x
    if weights.min() >= 1.0:
        return x[perm]
    mixed = x.astype(np.float64) * (1.0 - weights) + x[perm].astype(np.float64) * weights
    if np.issubdtype(x.dtype, np.integer):
        info = np.iinfo(x.dtype)
        mixed = np.clip(np.rint(mixed), info.min, info.max)
    return mixed.astype(x.dtype)


# ----------------------------------------------------------------------------------------------
# Stream selection, formats


def _pick_audio_stream(container: av.container.InputContainer, audio_stream: int | None) -> av.stream.Stream:
    audio = [s for s in container.streams if s.type == "audio"]
    if audio_stream is not None:
        if not 0 <= audio_stream < len(container.streams) or container.streams[audio_stream].type != "audio":
            raise InputError(f"stream {audio_stream} is not an audio stream")
        return container.streams[audio_stream]
    if not audio:
        raise InputError("no audio stream")
    for s in audio:
        if s.disposition & av.stream.Disposition.default:
            return s
    return audio[0]


def _output_format(src: Path, in_format: str, dst: Path | None, container: str | None, to_stdout: bool) -> str:
    """The muxer name: named > dst suffix > same as input (stdout: matroska unless named)."""
    if container:
        return _MUXER_FOR_SUFFIX.get("." + container.lower().lstrip("."), container.lower())
    if to_stdout:
        return "matroska"
    if dst is not None and dst.suffix.lower() in _MUXER_FOR_SUFFIX:
        return _MUXER_FOR_SUFFIX[dst.suffix.lower()]
    names = in_format.split(",")
    if "mov" in names or "mp4" in names:
        return _MUXER_FOR_SUFFIX.get(src.suffix.lower(), "mp4") if src.suffix.lower() in (".mov", ".m4a", ".m4v") else "mp4"
    if "matroska" in names:
        return "webm" if src.suffix.lower() == ".webm" else "matroska"
    return names[0]


def _encoder_name(stream: av.stream.Stream) -> str:
    name = stream.codec_context.name
    return _ENCODER_FOR.get(name, name)


def _stated_bit_rate(stream: av.stream.Stream) -> int:
    return int(stream.codec_context.bit_rate or getattr(stream, "bit_rate", 0) or 0)


def _estimate_bit_rate(src: Path, index: int) -> int:
    """Bits per second of a stream from its first packets (Matroska states no bitrate)."""
    total_bytes, first, last = 0, None, None
    with av.open(str(src)) as probe:
        stream = probe.streams[index]
        for packet in probe.demux(stream):
            if packet.pts is None:
                continue
            t = float(packet.pts * packet.time_base)
            first = t if first is None else first
            last = t + float((packet.duration or 0) * packet.time_base)
            total_bytes += packet.size
            if last - first >= _BITRATE_PROBE_S:
                break
    if first is None or last is None or last <= first:
        return 0
    return int(total_bytes * 8 / (last - first))


# ----------------------------------------------------------------------------------------------
# Audio paths


class _PcmSwapper:
    """Whole-stream swap of interleaved PCM inside packets: bytes permuted, timing untouched."""

    def __init__(self, stream: av.stream.Stream, perm: np.ndarray):
        cc = stream.codec_context
        self.channels = cc.channels
        # pcm_s16le -> 2 bytes, pcm_s24be -> 3, pcm_f64le -> 8, pcm_u8 -> 1
        bits = re.search(r"(\d+)", cc.name)
        if bits is None or int(bits.group(1)) % 8:
            raise InputError(f"cannot swap {cc.name} samples in place")
        self.bytes_per_sample = int(bits.group(1)) // 8
        self.perm = perm

    def convert(self, packet: av.Packet, out_stream: av.stream.Stream) -> av.Packet:
        raw = np.frombuffer(bytes(packet), dtype=np.uint8)
        frame_bytes = self.channels * self.bytes_per_sample
        n = raw.size // frame_bytes
        body = raw[: n * frame_bytes].reshape(n, self.channels, self.bytes_per_sample)[:, self.perm]
        data = body.tobytes() + raw[n * frame_bytes :].tobytes()
        new = av.Packet(data)
        new.pts, new.dts, new.duration, new.time_base = packet.pts, packet.dts, packet.duration, packet.time_base
        new.is_keyframe = packet.is_keyframe
        new.stream = out_stream
        return new


class _AudioEncoder:
    """Feeds float/int frames through a FIFO into the stream's encoder at its frame size."""

    def __init__(self, out_stream: av.stream.Stream, layout: str, first_pts: int):
        self.stream = out_stream
        self.cc = out_stream.codec_context
        self.layout = layout
        self.fifo = av.AudioFifo()
        self.next_pts = first_pts  # in 1/sample_rate
        self.resampler: av.AudioResampler | None = None
        codec = self.cc.codec
        self.pad_last = not (codec.capabilities & av.codec.Capabilities.small_last_frame) and not (
            codec.capabilities & av.codec.Capabilities.variable_frame_size
        )

    def push(self, frame: av.AudioFrame) -> list[av.Packet]:
        if frame.format.name != self.cc.format.name:
            if self.resampler is None:
                self.resampler = av.AudioResampler(format=self.cc.format.name, layout=self.layout, rate=self.cc.sample_rate)
            frames = self.resampler.resample(frame)
        else:
            frames = [frame]
        for f in frames:
            f.pts = None
            self.fifo.write(f)
        return self._drain(final=False)

    def _encode(self, frame: av.AudioFrame | None) -> list[av.Packet]:
        if frame is not None:
            frame.pts = self.next_pts
            frame.time_base = Fraction(1, self.cc.sample_rate)
            self.next_pts += frame.samples
        return self.stream.encode(frame)

    def _drain(self, final: bool) -> list[av.Packet]:
        packets: list[av.Packet] = []
        size = self.cc.frame_size or 0
        if size <= 0:  # PCM and other frame-size-free encoders take whatever comes
            if self.fifo.samples:
                packets += self._encode(self.fifo.read())
            return packets
        while self.fifo.samples >= size:
            packets += self._encode(self.fifo.read(size))
        if final and self.fifo.samples:
            rest = self.fifo.read()
            if self.pad_last and rest.samples < size:
                arr = rest.to_ndarray()
                pad = np.zeros((arr.shape[0], (size - rest.samples) * (arr.shape[1] // rest.samples)), dtype=arr.dtype)
                padded = av.AudioFrame.from_ndarray(np.concatenate([arr, pad], axis=1), format=rest.format.name, layout=self.layout)
                padded.sample_rate = self.cc.sample_rate
                rest = padded
            packets += self._encode(rest)
        return packets

    def flush(self) -> list[av.Packet]:
        if self.resampler is not None:
            for f in self.resampler.resample(None):
                f.pts = None
                self.fifo.write(f)
        return self._drain(final=True) + self._encode(None)


def _frame_array(frame: av.AudioFrame) -> np.ndarray:
    """[C, N] copy of a decoded frame, planar or packed.

    Reads the planes directly: PyAV 18 reports C + 1 planes for 8-channel planar audio and its
    to_ndarray/from_ndarray crash or fail there.
    """
    channels = len(frame.layout.channels)
    dtype = np.dtype(_SAMPLE_DTYPE[frame.format.name.rstrip("p")])
    n = frame.samples
    if frame.format.is_planar:
        return np.stack([np.frombuffer(frame.planes[c], dtype=dtype, count=n) for c in range(channels)])
    return np.frombuffer(frame.planes[0], dtype=dtype, count=n * channels).reshape(n, channels).T


def _array_frame(arr: np.ndarray, like_format: av.AudioFormat, layout: str, sample_rate: int) -> av.AudioFrame:
    """An AudioFrame in `like_format` holding `arr` ([C, N], already of the format's dtype)."""
    channels, n = arr.shape
    frame = av.AudioFrame(format=like_format.name, layout=layout, samples=n)
    dtype = np.dtype(_SAMPLE_DTYPE[like_format.name.rstrip("p")])
    arr = arr.astype(dtype, copy=False)
    if like_format.is_planar:
        for c in range(channels):
            _fill_plane(frame.planes[c], np.ascontiguousarray(arr[c]))
    else:
        _fill_plane(frame.planes[0], np.ascontiguousarray(arr.T))
    frame.sample_rate = sample_rate
    return frame


def _fill_plane(plane, data: np.ndarray) -> None:
    view = np.frombuffer(plane, dtype=np.uint8)
    raw = data.view(np.uint8).reshape(-1)
    view[: raw.size] = raw


# Sample format (planar suffix stripped) -> numpy dtype.
_SAMPLE_DTYPE = {"u8": "u1", "s16": "<i2", "s32": "<i4", "s64": "<i8", "flt": "<f4", "dbl": "<f8"}


# ----------------------------------------------------------------------------------------------
# The writer


def rewrite(
    src: str | Path,
    dst: str | Path | None,
    operation: SwapChannels | ReplaceAudio,
    *,
    audio_stream: int | None = None,
    inplace: bool = False,
    keep_mtime: bool = False,
    overwrite: bool = False,
    container: str | None = None,
    progress: Progress | None = None,
) -> RewriteResult:
    """Rewrite `src` with one audio stream changed and every other stream copied.

    Args:
        src: input media file.
        dst: output path, "-" for standard output, or None with `inplace`.
        operation: SwapChannels (mirror left/right, optionally inside time ranges) or
            ReplaceAudio (new [C, N] float32 samples, e.g. an upmix).
        audio_stream: absolute stream index; None = the default (else first) audio stream.
        inplace: replace `src` atomically (temp file beside it, verified, fsynced, renamed).
        keep_mtime: with `inplace`, keep the original's modification time.
        overwrite: allow replacing an existing `dst`.
        container: muxer or suffix ("mkv", "mp4", ...); None = same as the input, or from the
            `dst` suffix. Standard output gets Matroska, or fragmented MP4 when "mp4" is named.
        progress: called with the fraction done in [0, 1].

    Returns:
        RewriteResult.

    Raises:
        InputError: `src` is missing or not media, or has no usable audio stream.
        OutputError: `dst` exists without `overwrite`, is the input, or cannot be written.
    """
    src = Path(src)
    if not src.is_file():
        raise InputError(f"no such file: {src}")
    to_stdout = not inplace and dst is not None and str(dst) == "-"
    if inplace:
        target: Path | None = src
    elif dst is None:
        raise OutputError("no output given (use an output path, '-' or inplace)")
    elif to_stdout:
        target = None
    else:
        target = Path(dst)
        if target.is_dir():
            target = target / src.name
        if target.exists() and target.resolve() == src.resolve():
            raise OutputError(f"output is the input ({src}); use in-place mode to replace it")
        if target.exists() and not overwrite:
            raise OutputError(f"output exists: {target} (allow overwriting to replace it)")
    try:
        probe = av.open(str(src))
    except (av.error.FFmpegError, OSError) as exc:
        raise InputError(f"cannot read {src}: {exc}") from None
    with probe:
        in_format = probe.format.name
        chosen = _pick_audio_stream(probe, audio_stream)
        index = chosen.index
    fmt = _output_format(src, in_format, target, container, to_stdout)

    if to_stdout:
        bit_exact, copied, dropped, *_ = _remux(src, sys.stdout.buffer, fmt, index, operation, progress, streaming=True)
        sys.stdout.buffer.flush()
        return RewriteResult(None, index, bit_exact, copied, dropped)
    assert target is not None
    with atomic_output(target, mode_from=src if inplace else None, keep_mtime_from=src if (inplace and keep_mtime) else None) as tmp:
        bit_exact, copied, dropped, expected, index_out, duration_s = _remux(
            src, tmp, fmt, index, operation, progress, streaming=False
        )
        _verify(tmp, expected, index_out, duration_s)
    if progress:
        progress(1.0)
    return RewriteResult(target, index, bit_exact, copied, dropped)


def _remux(
    src: Path,
    out_file,
    fmt: str,
    index: int,
    operation: SwapChannels | ReplaceAudio,
    progress: Progress | None,
    streaming: bool,
) -> tuple:
    """Do the work; returns (bit_exact, streams_copied, dropped, stream types, audio position, audio s)."""
    options: dict[str, str] = {}
    if streaming and fmt in _SEEKABLE_NEEDED:
        options.update(_FRAGMENTED_MP4)
    try:
        inp = av.open(str(src))
    except (av.error.FFmpegError, OSError) as exc:
        raise InputError(f"cannot read {src}: {exc}") from None
    out_target = _NonSeekable(out_file) if streaming else str(out_file)
    try:
        out = av.open(out_target, "w", format=fmt, options=options)
    except (av.error.FFmpegError, ValueError) as exc:
        inp.close()
        raise OutputError(f"cannot write a {fmt} file: {exc}") from None
    try:
        fragmented = streaming and fmt in _SEEKABLE_NEEDED
        return _remux_open(src, inp, out, index, operation, progress, fragmented)
    except OSError as exc:
        if isinstance(exc, av.error.FFmpegError) and getattr(exc, "errno", None) is None:
            raise OutputError(f"cannot write {fmt}: {exc}") from None
        raise
    finally:
        try:
            out.close()
        except Exception:  # noqa: BLE001 - closing after a failure must not mask it
            pass
        inp.close()


class _NonSeekable:
    """Write-only wrapper so muxers see a pipe (no seeking back) on standard output."""

    def __init__(self, raw):
        self._raw = raw

    def write(self, data) -> int:
        self._raw.write(data)
        return len(data)

    def flush(self) -> None:
        self._raw.flush()


def _remux_open(src: Path, inp, out, index: int, operation, progress: Progress | None, fragmented: bool = False) -> tuple:
    in_audio = inp.streams[index]
    in_cc = in_audio.codec_context
    sample_rate = in_cc.sample_rate
    codec_name = in_cc.name
    is_pcm = codec_name.startswith("pcm_")
    channel_names = [c.name for c in in_cc.layout.channels]
    if all(n.upper() in ("NONE", "") for n in channel_names) and in_cc.channels in _LAYOUT_BY_CHANNELS:
        # Unlabelled order (e.g. PCM in Matroska): FFmpeg's default layout for the count, as ffmpeg assumes.
        channel_names = [c.name for c in av.AudioLayout(_LAYOUT_BY_CHANNELS[in_cc.channels]).channels]

    # Decide the audio path.
    pcm_swapper = None
    perm = None
    if isinstance(operation, SwapChannels):
        perm = mirror_permutation(channel_names)
        if is_pcm and operation.ranges is None:
            pcm_swapper = _PcmSwapper(in_audio, perm)
    elif isinstance(operation, ReplaceAudio):
        if operation.samples.ndim != 2 or operation.samples.shape[0] < 1:
            raise InputError("replacement samples must be a [C, N] array")
    else:
        raise TypeError(f"unknown operation {operation!r}")

    mapping: dict[int, av.stream.Stream] = {}
    converters: dict[int, str] = {}  # input index -> text subtitle codec its packets are rewritten to
    copied = 0
    dropped: list[str] = []
    out_audio = None
    for s in inp.streams:
        if s.discard == _DISCARD_ALL and s.type == "data":
            continue  # MP4 chapter track: the muxer rebuilds it from the chapters
        if s.type == "data" and "timecode" in s.metadata and out.format.name in ("mov", "mp4", "ipod"):
            continue  # QuickTime timecode track: the muxer rebuilds it from the video's timecode tag
        if s.index == index and pcm_swapper is None:
            out_audio = _add_audio_encoder(src, out, in_audio, operation)
            new = out_audio
        else:
            try:
                new = out.add_stream_from_template(s)
            except (ValueError, av.error.FFmpegError, NotImplementedError):
                new = _add_text_subtitle(out, s)
                if new is None:
                    dropped.append(f"{s.index}:{s.type}")  # the output container cannot hold it
                    continue
                converters[s.index] = new.codec_context.name
            if s.index != index:
                copied += 1
        new.metadata.update(dict(s.metadata))
        new.disposition = s.disposition
        mapping[s.index] = new
    if pcm_swapper is not None:
        out_audio = mapping[index]
    out.metadata.update(dict(inp.metadata))
    chapters = inp.chapters()
    if chapters:
        out.set_chapters(chapters)

    total_s = float(inp.duration / av.time_base) if inp.duration else 0.0
    start_s = float(inp.start_time / av.time_base) if inp.start_time else 0.0
    last_reported = -1.0

    replace_samples = None
    if isinstance(operation, ReplaceAudio):
        replace_samples = _resample_replacement(operation, sample_rate)
    out_layout = out_audio.codec_context.layout.name if out_audio is not None else in_cc.layout.name
    ranges = operation.ranges if isinstance(operation, SwapChannels) else None

    # Samples the source stream plays (its edit list / duration trims the decoder's tail padding).
    limit = None
    if in_audio.duration and in_audio.time_base is not None:
        limit = int(round(in_audio.duration * in_audio.time_base * sample_rate))
    state = {"encoder": None, "fed": 0, "replace_pos": 0}
    # Fragmented MP4: the muxer writes the moov (with edit lists, thanks to delay_moov) after the
    # first fragment, but many fMP4 readers ignore edit lists and start every track at its own
    # first decode time, and an empty edit is rounded to the movie's 1/1000 s. So the re-encoded
    # track is padded with silence until its first packet, priming included, shares the picture's
    # first decode time: its first audible sample then lands where the source's was, either way.
    anchor_s = _first_video_dts(src) if fragmented and pcm_swapper is None else None

    def handle(frame: av.AudioFrame) -> None:
        if state["encoder"] is None:
            first = _first_pts(frame, in_audio, sample_rate)
            pad = 0
            if anchor_s is not None:
                priming = _encoder_delay(out_audio)
                pad = first - priming - int(round(anchor_s * sample_rate))
            pad = max(pad, 0)  # audio that starts earlier keeps its samples; the edit list places it
            state["encoder"] = _AudioEncoder(out_audio, out_layout, first - pad)
            if pad > 0:  # silence in the format of the frames that follow (one resampler setup)
                fmt, lay = (av.AudioFormat("fltp"), out_layout) if replace_samples is not None else (frame.format, frame.layout.name)
                silence = np.zeros((len(av.AudioLayout(lay).channels), pad), dtype=np.float64)
                for p in state["encoder"].push(_array_frame(silence, fmt, lay, sample_rate)):
                    out.mux(p)
        encoder = state["encoder"]
        n = frame.samples if limit is None else max(0, min(frame.samples, limit - state["fed"]))
        if n == 0:
            return
        if replace_samples is not None:
            pos = state["replace_pos"]
            chunk = replace_samples[:, pos : pos + n]
            state["replace_pos"] = pos + n
            if chunk.shape[1] == 0:
                return
            new_frame = _array_frame(chunk, av.AudioFormat("fltp"), out_layout, sample_rate)
        else:
            arr = _frame_array(frame)[:, :n]
            weights = None
            if ranges is not None:
                t0 = (encoder.next_pts + encoder.fifo.samples) / sample_rate
                if frame.pts is not None and frame.time_base is not None:
                    t0 = float(frame.pts * frame.time_base)
                weights = swap_weights(t0 + np.arange(n) / sample_rate, ranges, operation.crossfade_s)
            new_frame = _array_frame(_swap_block(arr, perm, weights), frame.format, frame.layout.name, sample_rate)
        state["fed"] += n
        for p in encoder.push(new_frame):
            out.mux(p)

    demux_streams = [inp.streams[i] for i in mapping]
    for packet in inp.demux(demux_streams):
        s_index = packet.stream.index
        if packet.dts is None and packet.pts is None and packet.size == 0:
            continue  # demuxer flush packet
        if s_index in converters:
            converted = _convert_text_packet(packet, converters[s_index], mapping[s_index])
            if converted is not None:
                out.mux(converted)
        elif s_index != index:
            packet.stream = mapping[s_index]
            out.mux(packet)
        elif pcm_swapper is not None:
            out.mux(pcm_swapper.convert(packet, out_audio))
        else:
            for frame in in_audio.decode(packet):
                handle(frame)
        if progress and total_s > 0 and packet.pts is not None and packet.time_base is not None:
            frac = min(max((float(packet.pts * packet.time_base) - start_s) / total_s, 0.0), 0.999)
            if frac - last_reported >= 0.01:
                last_reported = frac
                progress(frac)
    if pcm_swapper is None:
        for frame in in_audio.decode(None):
            handle(frame)
        encoder = state["encoder"]
        if encoder is None:
            raise InputError(f"audio stream {index} has no decodable samples")
        if replace_samples is not None and state["replace_pos"] < replace_samples.shape[1] and limit is None:
            chunk = replace_samples[:, state["replace_pos"] :]
            for p in encoder.push(_array_frame(chunk, av.AudioFormat("fltp"), out_layout, sample_rate)):
                out.mux(p)
        for p in encoder.flush():
            out.mux(p)
    bit_exact = is_pcm or codec_name == "flac"
    if isinstance(operation, ReplaceAudio):
        bit_exact = False
    expected = [st.type for st in out.streams]
    index_out = list(mapping).index(index)
    duration_s = float(in_audio.duration * in_audio.time_base) if in_audio.duration and in_audio.time_base else None
    return bit_exact, copied, tuple(dropped), expected, index_out, duration_s


# Text subtitle codecs a container takes, best first (MP4/MOV: mov_text only; Matroska: SubRip).
_TEXT_SUBTITLE_FOR = {"mp4": "mov_text", "mov": "mov_text", "ipod": "mov_text", "matroska": "subrip"}
_TEXT_SUBTITLE_CODECS = {"mov_text", "subrip", "srt", "text"}
_ASS_HEADER = (
    b"[Script Info]\r\nScriptType: v4.00+\r\nPlayResX: 384\r\nPlayResY: 288\r\n\r\n[V4+ Styles]\r\n"
    b"Format: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, OutlineColour, BackColour, Bold, Italic, "
    b"Underline, StrikeOut, ScaleX, ScaleY, Spacing, Angle, BorderStyle, Outline, Shadow, Alignment, MarginL, "
    b"MarginR, MarginV, Encoding\r\nStyle: Default,Arial,16,&Hffffff,&Hffffff,&H0,&H0,0,0,0,0,100,100,0,0,1,1,0,2,"
    b"10,10,10,0\r\n\r\n[Events]\r\nFormat: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text\r\n"
)


def _add_text_subtitle(out, s: av.stream.Stream) -> av.stream.Stream | None:
    """A text subtitle stream the output container takes, for a plain-text one it does not."""
    target = _TEXT_SUBTITLE_FOR.get(out.format.name)
    if s.type != "subtitle" or target is None or s.codec_context.name not in _TEXT_SUBTITLE_CODECS:
        return None
    try:
        new = out.add_stream(target)
    except (ValueError, av.error.FFmpegError, NotImplementedError):
        return None
    new.time_base = s.time_base
    # The text encoders refuse to open without an ASS header; packets are written by us, not them.
    new.codec_context.subtitle_header = _ASS_HEADER
    return new


def _convert_text_packet(packet: av.Packet, target: str, out_stream: av.stream.Stream) -> av.Packet | None:
    """The same cue in another text codec: mov_text is a 16-bit length + UTF-8 (+ style boxes,
    which are dropped), SubRip the bare UTF-8 text. Timing is kept."""
    raw = bytes(packet)
    if packet.stream.codec_context.name == "mov_text":
        n = int.from_bytes(raw[:2], "big") if len(raw) >= 2 else 0
        text = raw[2 : 2 + n]
    else:
        text = raw.rstrip(b"\0")
    if target == "mov_text":
        text = re.sub(rb"</?[ibu]>|</?font[^>]*>", b"", text)[:65535]
        data = len(text).to_bytes(2, "big") + text
    elif not text:
        return None  # an empty mov_text sample only ends the previous cue
    else:
        data = text
    new = av.Packet(data)
    new.pts, new.dts, new.duration, new.time_base = packet.pts, packet.dts, packet.duration, packet.time_base
    new.is_keyframe = True
    new.stream = out_stream
    return new


def _first_video_dts(src: Path) -> float | None:
    """Decode time (s) of the first packet of the first video stream (not a cover picture), if any."""
    with av.open(str(src)) as probe:
        video = [s for s in probe.streams.video if not (s.disposition & av.stream.Disposition.attached_pic)]
        if not video:
            return None
        for packet in probe.demux(video[0]):
            t = packet.dts if packet.dts is not None else packet.pts
            if t is not None and packet.time_base is not None:
                return float(t * packet.time_base)
    return None


def _encoder_delay(stream: av.stream.Stream) -> int:
    """Samples of priming the stream's encoder puts before the first input sample (AAC 1024, ...).

    Measured on a throwaway encoder with the same settings: the first packet's pts minus the
    first frame's, negated.
    """
    cc = stream.codec_context
    probe = av.CodecContext.create(cc.codec.name, "w")
    probe.sample_rate = cc.sample_rate
    probe.layout = cc.layout
    probe.format = cc.format
    if cc.bit_rate:
        probe.bit_rate = cc.bit_rate
    probe.time_base = Fraction(1, cc.sample_rate)
    try:
        probe.open()
        size = probe.frame_size or 1024
        frame = av.AudioFrame(format=probe.format.name, layout=cc.layout.name, samples=size)
        for plane in frame.planes:
            plane.update(bytes(plane.buffer_size))
        frame.sample_rate = cc.sample_rate
        frame.pts = 0
        frame.time_base = probe.time_base
        packets = probe.encode(frame) + probe.encode(None)
    except (av.error.FFmpegError, ValueError):
        return 0
    if not packets or packets[0].pts is None or packets[0].time_base is None:
        return 0
    return max(0, -int(round(packets[0].pts * packets[0].time_base * cc.sample_rate)))


def _first_pts(frame: av.AudioFrame, stream: av.stream.Stream, sample_rate: int) -> int:
    """The first decoded sample's time in 1/sample_rate."""
    if frame.pts is not None and frame.time_base is not None:
        return int(round(frame.pts * frame.time_base * sample_rate))
    if stream.start_time is not None:
        return int(round(stream.start_time * stream.time_base * sample_rate))
    return 0


def _resample_replacement(op: ReplaceAudio, sample_rate: int) -> np.ndarray:
    samples = np.ascontiguousarray(np.asarray(op.samples, dtype=np.float32))
    if op.sample_rate == sample_rate:
        return samples
    layout = _LAYOUT_BY_CHANNELS.get(samples.shape[0], f"{samples.shape[0]}c")
    resampler = av.AudioResampler(format="fltp", layout=layout, rate=sample_rate)
    frame = av.AudioFrame.from_ndarray(samples, format="fltp", layout=layout)
    frame.sample_rate = op.sample_rate
    frame.pts = 0
    frame.time_base = Fraction(1, op.sample_rate)
    parts = [f.to_ndarray() for f in resampler.resample(frame) + resampler.resample(None)]
    return np.concatenate(parts, axis=1) if parts else np.zeros((samples.shape[0], 0), np.float32)


def _add_audio_encoder(src: Path, out, in_audio: av.stream.Stream, operation) -> av.stream.Stream:
    """An encoder stream with the source's codec, rate, sample format and at least its bitrate."""
    in_cc = in_audio.codec_context
    if isinstance(operation, ReplaceAudio):
        channels = operation.samples.shape[0]
        layout = in_cc.layout.name if channels == in_cc.channels else _LAYOUT_BY_CHANNELS.get(channels, f"{channels}c")
    else:
        layout = in_cc.layout.name
    name = _encoder_name(in_audio)
    try:
        stream = out.add_stream(name, rate=in_cc.sample_rate, layout=layout)
    except (ValueError, av.error.FFmpegError) as exc:
        raise OutputError(f"cannot encode {in_cc.name} audio into {out.format.name}: {exc}") from None
    cc = stream.codec_context
    supported = [f.name for f in (cc.codec.audio_formats or [])]
    if in_cc.format is not None and in_cc.format.name in supported:
        cc.format = in_cc.format.name
    if in_cc.name == "flac" and getattr(in_cc, "bits_per_raw_sample", 0):
        try:
            cc.bits_per_raw_sample = in_cc.bits_per_raw_sample
        except AttributeError:
            pass
    if not in_cc.name.startswith("pcm_") and in_cc.name != "flac":
        rate = _stated_bit_rate(in_audio) or _estimate_bit_rate(src, in_audio.index)
        if rate:
            cc.bit_rate = rate
    cc.thread_count = 0  # let the encoder use what it can
    return stream


def _verify(out_path: Path, expected: list[str], index_out: int, duration_s: float | None) -> None:
    """Re-open the written file: every stream written is there, the audio duration is sane.

    Args:
        expected: stream types written, in order (the muxer may add an MP4 chapter track).
        index_out: position of the rewritten audio stream in `expected`.
        duration_s: the source audio stream's duration in seconds, if known.
    """
    try:
        with av.open(str(out_path)) as b:
            have = [s.type for s in b.streams]
            if have[: len(expected)] != expected:
                raise OutputError(f"verification failed: wrote streams {have}, expected {expected}")
            stream = b.streams[index_out]
            if duration_s and stream.duration and stream.time_base is not None:
                got = float(stream.duration * stream.time_base)
                if abs(got - duration_s) > max(_VERIFY_DURATION_TOL_S, 0.01 * duration_s):
                    raise OutputError(f"verification failed: audio lasts {got:.3f}s, expected {duration_s:.3f}s")
    except av.error.FFmpegError as exc:
        raise OutputError(f"verification failed: cannot re-open output: {exc}") from None
