"""The source bank: real sounds, photographs and HRTFs, rendered once into a cache folder.

Scene rendering in training must not call external synthesizers, so `build_bank` runs them once:

- speech: flite voices (awb, kal, kal16, rms, slt) and espeak-ng voices (many languages, each with a
  voice variant, pitch and speed), several utterances each;
- instruments: every General MIDI program rendered with fluidsynth from the FluidR3 GM sound font,
  playing short generated phrases (a tiny SMF writer below, no MIDI dependency); GM drum kits;
- ASMR-like and percussive sounds synthesized here: taps, scratches, crinkles, brushing, clicks and
  Karplus-Strong plucks;
- photographs: the real photographs in scikit-image's wheel (grey ones tinted), and the LFW faces;
- the MIT KEMAR HRTF (libmysofa's SOFA file), resampled to 16 and 48 kHz.

Layout of the bank folder::

    bank.json            version, items (pool, kind, group, key, split, offsets), images, faces
    audio_16000.npy      int16 [N16] every sound clip, concatenated (memory-mapped when read)
    audio_48000.npy      int16 [N48] the same clips at 48 kHz
    images.npz           uint8 photographs, [H, W, 3], long side <= IMAGE_LONG_SIDE
    faces.npy            uint8 [F, 25, 25] LFW faces
    hrtf.npz             positions [M, 2] (azimuth, elevation, degrees) and ir16 / ir48 [M, 2, L]

The Debian packages it needs are installed by ``make synth-deps`` (see mk/synth.mk).
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import wave
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable

import numpy as np
from scipy.signal import resample_poly, sosfilt, butter

from stereofix.synth.splits import assign_splits, split_of_index

BANK_VERSION = 2
BANK_RATE = 48000  # Hz, the rate sounds are made at; a 16 kHz copy is derived
RATES = (16000, 48000)  # Hz, the rates stored in the bank
CLIP_MAX_S = 4.0  # s, longest stored clip
IMAGE_LONG_SIDE = 640  # px, photographs are stored at most this large
SOFA_PATH = Path("/usr/share/libmysofa/MIT_KEMAR_normal_pinna.sofa")
SOUNDFONT = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")
HRTF_ELEVATIONS = (-30, -20, -10, 0, 10, 20, 30)  # degrees, rings kept from the SOFA file

FLITE_VOICES = ("awb", "kal", "kal16", "rms", "slt")
# espeak-ng language codes, each with a sentence set; voices are (language, variant) pairs.
ESPEAK_LANGS = {
    "en-us": ("Please put the cup on the table.", "The quick brown fox jumps over the lazy dog.",
              "I think it will rain later this afternoon.", "Turn left at the next corner and keep going."),
    "en-gb": ("Would you like another cup of tea?", "The train to London leaves at half past nine."),
    "de": ("Guten Morgen, wie geht es dir heute?", "Das Wetter ist heute wirklich schön."),
    "fr-fr": ("Bonjour, je voudrais un café, s'il vous plaît.", "Il fait beau aujourd'hui à Paris."),
    "es": ("Hola, ¿cómo estás? Hace mucho calor.", "Mañana vamos a la playa con mis amigos."),
    "it": ("Buongiorno, vorrei una pizza margherita.", "La stazione è vicino alla piazza."),
    "pt": ("Bom dia, tudo bem com você?", "O livro está em cima da mesa."),
    "nl": ("Goedemorgen, hoe gaat het met je?", "De fiets staat voor het huis."),
    "pl": ("Dzień dobry, jak się masz?", "Kot śpi na kanapie w salonie."),
    "ru": ("Доброе утро, как дела?", "Сегодня очень хорошая погода."),
    "sv": ("God morgon, hur mår du idag?", "Vi ska åka till stugan i helgen."),
    "fi": ("Hyvää huomenta, mitä kuuluu?", "Sataa lunta koko päivän."),
    "cs": ("Dobrý den, jak se máte?", "Na stole je šálek kávy."),
    "tr": ("Günaydın, nasılsın bugün?", "Yarın sabah erken kalkacağım."),
    "hi": ("नमस्ते, आप कैसे हैं?", "आज मौसम बहुत अच्छा है।"),
    "cmn": ("你好，今天天气很好。", "我们明天去公园散步。"),
    "ja": ("こんにちは、お元気ですか。", "今日はとても暑いです。"),
    "sw": ("Habari ya asubuhi, rafiki yangu.", "Tunakwenda sokoni kesho."),
    "el": ("Καλημέρα, τι κάνεις σήμερα;", "Ο καιρός είναι πολύ ωραίος."),
    "hu": ("Jó reggelt, hogy vagy ma?", "Holnap moziba megyünk."),
}
ESPEAK_VARIANTS = ("m1", "m2", "m3", "m4", "m5", "m6", "m7", "f1", "f2", "f3", "f4", "f5", "croak", "whisper")
ENGLISH = ESPEAK_LANGS["en-us"] + ESPEAK_LANGS["en-gb"] + (
    "She sells sea shells by the sea shore.", "Can you hear me on the left side?",
    "One, two, three, four, five, six, seven.", "This is a test of the stereo recording.")
ASMR_KINDS = ("tap", "scratch", "crinkle", "brush", "click", "pluck")
DRUM_KITS = (0, 8, 16, 24, 25, 32, 40, 48, 56)  # GM drum kit program numbers (bank 128)
# skimage photographs used as backgrounds (file names in skimage/data); grey ones are tinted.
PHOTOS = ("astronaut.png", "coffee.png", "chelsea.png", "rocket.jpg", "motorcycle_left.png",
          "motorcycle_right.png", "hubble_deep_field.jpg", "retina.jpg", "ihc.png", "color.png",
          "camera.png", "moon.png", "brick.png", "grass.png", "gravel.png", "coins.png", "page.png",
          "text.png", "clock_motion.png", "cell.png", "logo.png", "microaneurysms.png")


def default_cache_dir() -> Path:
    """platformdirs.user_cache_dir("stereofix")/bank, or $STEREOFIX_BANK when set."""
    env = os.environ.get("STEREOFIX_BANK")
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_cache_dir("stereofix")) / "bank"


# --------------------------------------------------------------------------------------------
# Tiny helpers


def _read_wav(path: Path) -> tuple[np.ndarray, int]:
    """Read a 16-bit PCM wav as mono float32."""
    with wave.open(str(path), "rb") as w:
        rate, ch, n = w.getframerate(), w.getnchannels(), w.getnframes()
        x = np.frombuffer(w.readframes(n), dtype="<i2").astype(np.float32) / 32768.0
    if ch > 1:
        x = x.reshape(-1, ch).mean(axis=1)
    return x, rate


def _to_rate(x: np.ndarray, rate: int, target: int) -> np.ndarray:
    if rate == target:
        return x.astype(np.float32)
    g = np.gcd(rate, target)
    return resample_poly(x, target // g, rate // g).astype(np.float32)


def _tidy(x: np.ndarray, rate: int, max_s: float = CLIP_MAX_S) -> np.ndarray | None:
    """Trim leading/trailing silence, cap the length, normalise the peak to 0.9."""
    if x.size == 0:
        return None
    thr = 0.01 * (np.abs(x).max() + 1e-9)
    idx = np.flatnonzero(np.abs(x) > thr)
    if idx.size == 0:
        return None
    x = x[max(0, idx[0] - rate // 100): idx[-1] + rate // 20][: int(max_s * rate)]
    if x.size < rate // 4:
        return None
    fade = min(x.size // 4, rate // 100)
    x = x.copy()
    x[:fade] *= np.linspace(0, 1, fade)
    x[-fade:] *= np.linspace(1, 0, fade)
    return (0.9 * x / (np.abs(x).max() + 1e-9)).astype(np.float32)


# --------------------------------------------------------------------------------------------
# Speech


def _speech_jobs(quick: bool) -> list[tuple[str, list[str]]]:
    """(voice name, command lists) for every utterance; the voice name is the split key."""
    jobs = []
    n_flite = 2 if quick else 4
    for v in FLITE_VOICES:
        for j in range(n_flite):
            text = ENGLISH[(j * 3 + len(v)) % len(ENGLISH)]
            jobs.append((f"flite:{v}", ["flite", "-voice", v, "-t", text, "-o", "{out}"]))
    langs = sorted(ESPEAK_LANGS)
    variants = ESPEAK_VARIANTS
    n_voices = 8 if quick else 96
    for i in range(n_voices):
        lang = langs[i % len(langs)]
        var = variants[(i * 5 + i // len(langs)) % len(variants)]
        pitch = 20 + (i * 37) % 60
        speed = 140 + (i * 23) % 60
        sentences = ESPEAK_LANGS[lang]
        for j in range(2):
            text = sentences[(i + j) % len(sentences)]
            jobs.append((f"espeak:{lang}+{var}",
                         ["espeak-ng", "-v", f"{lang}+{var}", "-p", str(pitch), "-s", str(speed),
                          "-w", "{out}", text]))
    return jobs


def _run_speech(job: tuple[str, list[str]], tmp: Path, k: int) -> tuple[str, np.ndarray | None]:
    voice, cmd = job
    out = tmp / f"speech_{k}.wav"
    cmd = [c.replace("{out}", str(out)) for c in cmd]
    try:
        subprocess.run(cmd, check=True, capture_output=True, timeout=60)
        x, rate = _read_wav(out)
    except (subprocess.SubprocessError, OSError, wave.Error):
        return voice, None
    return voice, _tidy(_to_rate(x, rate, BANK_RATE), BANK_RATE)


# --------------------------------------------------------------------------------------------
# MIDI (a minimal standard MIDI file writer) and fluidsynth


def _vlq(n: int) -> bytes:
    out = [n & 0x7F]
    n >>= 7
    while n:
        out.append(0x80 | (n & 0x7F))
        n >>= 7
    return bytes(reversed(out))


def write_smf(path: Path, events: list[tuple[float, bytes]], tempo_bpm: float = 120.0, tpq: int = 480) -> None:
    """Write a format-0 MIDI file from (time in seconds, raw MIDI message) events."""
    sec_per_tick = 60.0 / tempo_bpm / tpq
    track = bytearray(b"\x00\xff\x51\x03" + int(60e6 / tempo_bpm).to_bytes(3, "big"))
    last = 0
    for t, msg in sorted(events, key=lambda e: (e[0], e[1][0] & 0xF0 != 0xC0)):
        tick = int(round(t / sec_per_tick))
        track += _vlq(tick - last) + msg
        last = tick
    track += b"\x00\xff\x2f\x00"
    path.write_bytes(b"MThd" + struct.pack(">IHHH", 6, 0, 1, tpq) + b"MTrk" + struct.pack(">I", len(track)) + track)


PHRASE_SLOT_S = 4.0  # s, time given to each rendered phrase (notes stop 1 s before the end)


def _phrase_events(rng: np.random.Generator, slot: int, channel: int, program: int, drums: bool) -> list:
    t0 = slot * PHRASE_SLOT_S
    ev = []
    if drums:
        ev.append((t0, bytes([0xC9, program])))
        step = rng.uniform(0.12, 0.25)
        notes = (35, 36, 38, 40, 42, 44, 46, 39, 45, 47, 50, 49, 51, 54, 56, 60, 61, 62, 63, 64, 69, 70, 75, 76)
        pattern = rng.choice(notes, size=4, replace=False)
        t = t0
        while t < t0 + PHRASE_SLOT_S - 1.0:
            n = int(pattern[rng.integers(4)])
            vel = int(rng.integers(60, 127))
            ev += [(t, bytes([0x99, n, vel])), (t + 0.1, bytes([0x89, n, 0]))]
            t += step * rng.choice([1, 1, 2])
        return ev
    ev.append((t0, bytes([0xC0 | channel, program])))
    low = 36 if 32 <= program <= 39 or program in (43, 58, 70, 71) else 48
    scale = np.array([0, 2, 4, 5, 7, 9, 11, 12, 14, 16])
    root = low + int(rng.integers(0, 12))
    t = t0
    while t < t0 + PHRASE_SLOT_S - 1.2:
        dur = float(rng.choice([0.15, 0.25, 0.4, 0.6]))
        chord = rng.random() < 0.2
        degrees = [0, 2, 4] if chord else [0]
        base = int(rng.integers(0, len(scale) - 4))
        vel = int(rng.integers(50, 120))
        for d in degrees:
            n = root + int(scale[base + d])
            ev += [(t, bytes([0x90 | channel, n, vel])), (t + dur * 0.95, bytes([0x80 | channel, n, 0]))]
        t += dur + (float(rng.uniform(0.05, 0.4)) if rng.random() < 0.25 else 0.0)
    return ev


def _render_midi_batch(specs: list[tuple[int, bool]], tmp: Path, k: int) -> list[np.ndarray | None]:
    """Render phrases (program, is_drum_kit) in one fluidsynth call; returns one clip per spec."""
    events = []
    for slot, (program, drums) in enumerate(specs):
        rng = np.random.default_rng([program, int(drums), slot % 2, 7])
        channel = slot % 8  # rotate channels so a release tail never meets the next program change
        events += _phrase_events(rng, slot, channel, program, drums)
    mid, wav = tmp / f"batch_{k}.mid", tmp / f"batch_{k}.wav"
    write_smf(mid, events)
    cmd = ["fluidsynth", "-ni", "-q", "-g", "0.5", "-R", "0", "-C", "0", "-r", str(BANK_RATE),
           "-T", "wav", "-O", "s16", "-F", str(wav), str(SOUNDFONT), str(mid)]
    try:
        subprocess.run(cmd, check=True, capture_output=True, timeout=600)
        x, rate = _read_wav(wav)
    except (subprocess.SubprocessError, OSError, wave.Error):
        return [None] * len(specs)
    slot_len = int(PHRASE_SLOT_S * rate)
    return [_tidy(_to_rate(x[i * slot_len:(i + 1) * slot_len], rate, BANK_RATE), BANK_RATE)
            for i in range(len(specs))]


# --------------------------------------------------------------------------------------------
# Procedural ASMR-like and percussive sounds


def _bandpass(x: np.ndarray, lo: float, hi: float, rate: int = BANK_RATE) -> np.ndarray:
    sos = butter(2, [lo, min(hi, 0.45 * rate)], btype="band", fs=rate, output="sos")
    return sosfilt(sos, x).astype(np.float32)


def _burst_train(rng, n, times, dur_s, lo, hi, rate=BANK_RATE):
    x = np.zeros(n, np.float32)
    for t in times:
        i = int(t * rate)
        m = int(dur_s * rate * rng.uniform(0.5, 1.5))
        if i + m >= n:
            continue
        env = np.exp(-np.arange(m) / (m / 5.0))
        x[i:i + m] += rng.standard_normal(m).astype(np.float32) * env * rng.uniform(0.3, 1.0)
    return _bandpass(x, lo, hi, rate)


def _karplus(rng, n, rate=BANK_RATE) -> np.ndarray:
    y = np.zeros(n, np.float32)
    t = 0
    while t < n - rate // 4:
        f0 = 110.0 * 2 ** (rng.integers(0, 30) / 12)
        period = max(2, int(rate / f0))
        m = min(n - t, int(rng.uniform(0.3, 1.2) * rate))
        buf = np.zeros(m + period + 1, np.float32)
        buf[:period + 1] = rng.uniform(-1, 1, period + 1)
        decay = rng.uniform(0.990, 0.998)
        for i in range(period + 1, m + period, period):
            j = min(i + period, m + period)
            buf[i:j] = decay * 0.5 * (buf[i - period:j - period] + buf[i - period - 1:j - period - 1])
        y[t:t + m] += buf[period:period + m]
        t += int(rng.uniform(0.15, 0.6) * rate)
    return y


def synth_asmr(kind: str, variant: int, duration_s: float = 3.0, rate: int = BANK_RATE) -> np.ndarray:
    """One procedural sound of `kind` (see ASMR_KINDS); deterministic in (kind, variant)."""
    rng = np.random.default_rng([ASMR_KINDS.index(kind), variant, 11])
    n = int(duration_s * rate)
    if kind == "tap":
        times = np.cumsum(rng.uniform(0.08, 0.35, 40))
        lo = rng.uniform(200, 1500)
        x = _burst_train(rng, n, times[times < duration_s - 0.1], 0.02, lo, lo * rng.uniform(2, 6), rate)
    elif kind == "scratch":
        x = _bandpass(rng.standard_normal(n).astype(np.float32), rng.uniform(1500, 3000), rng.uniform(6000, 12000), rate)
        rate_hz = rng.uniform(2, 7)
        t = np.arange(n) / rate
        x *= np.clip(np.sin(2 * np.pi * rate_hz * t + rng.uniform(0, 6)), 0, None) ** 2
    elif kind == "crinkle":
        x = np.zeros(n, np.float32)
        k = int(rng.uniform(200, 1200) * duration_s)
        idx = rng.integers(0, n, k)
        x[idx] = rng.standard_normal(k) * rng.uniform(0.2, 1.0, k)
        x = _bandpass(x, rng.uniform(1000, 3000), 16000, rate)
        x *= (np.convolve(rng.random(n // 2400 + 2), np.ones(3) / 3, "same") > 0.4).repeat(2400)[:n]
    elif kind == "brush":
        x = _bandpass(rng.standard_normal(n).astype(np.float32), rng.uniform(300, 1000), rng.uniform(3000, 8000), rate)
        t = np.arange(n) / rate
        x *= (0.5 - 0.5 * np.cos(2 * np.pi * rng.uniform(0.6, 2.0) * t)) ** 1.5
    elif kind == "click":
        period = rng.uniform(0.15, 0.5)
        times = np.arange(0.05, duration_s - 0.1, period) + rng.normal(0, 0.01, int((duration_s - 0.15) / period) + 1)[: len(np.arange(0.05, duration_s - 0.1, period))]
        lo = rng.uniform(800, 4000)
        x = _burst_train(rng, n, times, 0.004, lo, lo * 3, rate)
    elif kind == "pluck":
        x = _karplus(rng, n, rate)
    else:
        raise ValueError(kind)
    return _tidy(x, rate) if np.any(x) else None


# --------------------------------------------------------------------------------------------
# Images and HRTF


def _load_photos() -> dict[str, np.ndarray]:
    from PIL import Image
    import skimage

    root = Path(skimage.__file__).parent / "data"
    out = {}
    for i, name in enumerate(PHOTOS):
        p = root / name
        if not p.exists():
            continue
        img = Image.open(p)
        grey = img.mode in ("L", "I", "I;16", "1", "LA")
        img = img.convert("RGB")
        s = IMAGE_LONG_SIDE / max(img.size)
        if s < 1:
            img = img.resize((round(img.width * s), round(img.height * s)), Image.BILINEAR)
        a = np.asarray(img, dtype=np.uint8)
        if grey:  # tint grey photographs so they do not all look alike
            tint = np.array([[1.0, 0.9, 0.75], [0.8, 0.95, 1.0], [1.0, 1.0, 1.0], [0.95, 1.0, 0.85]][i % 4])
            a = np.clip(a * tint, 0, 255).astype(np.uint8)
        out[Path(name).stem] = a
    return out


def _load_faces() -> np.ndarray:
    import skimage

    p = Path(skimage.__file__).parent / "data" / "lfw_subset.npy"
    faces = np.load(p)  # float [200, 25, 25] in [0, 1]
    return (np.clip(faces, 0, 1) * 255).astype(np.uint8)


def _load_hrtf() -> dict[str, np.ndarray]:
    import h5py

    with h5py.File(SOFA_PATH, "r") as f:
        ir = np.asarray(f["Data.IR"], dtype=np.float64)  # [M, 2 ears (0 = left), taps] at 44.1 kHz
        pos = np.asarray(f["SourcePosition"])[:, :2]  # azimuth ccw (+90 = left), elevation
        sofa_rate = int(np.asarray(f["Data.SamplingRate"]).ravel()[0])
    keep = np.isin(pos[:, 1], HRTF_ELEVATIONS)
    out = {"positions": pos[keep].astype(np.float32)}
    for rate in RATES:
        g = np.gcd(rate, sofa_rate)
        out[f"ir{rate // 1000}"] = resample_poly(ir[keep], rate // g, sofa_rate // g, axis=-1).astype(np.float32)
    return out


# --------------------------------------------------------------------------------------------
# The builder


def build_bank(cache_dir: Path | None = None, progress: Callable[[str], None] | None = None, *,
               quick: bool = False, workers: int | None = None) -> Path:
    """Render the source bank into `cache_dir` once; later calls return at once.

    Args:
        cache_dir: where to build; default ``platformdirs.user_cache_dir("stereofix")/bank``
            (or $STEREOFIX_BANK).
        progress: called with one line of text per stage (e.g. ``print`` to stderr); None: silent.
        quick: a small bank (a few voices, programs, variants) for tests, built in seconds.
        workers: parallel synthesizer processes (default: the CPU count).

    Returns:
        The bank folder.

    Raises:
        RuntimeError: a required tool or file (flite, espeak-ng, fluidsynth, the SOFA file,
            the sound font) is missing; install them with ``make synth-deps``.
    """
    cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    meta_path = cache_dir / "bank.json"
    if meta_path.exists():
        meta = json.loads(meta_path.read_text())
        if meta.get("version") == BANK_VERSION and (quick or not meta.get("quick")):
            return cache_dir
    missing = [t for t in ("flite", "espeak-ng", "fluidsynth") if shutil.which(t) is None]
    missing += [str(p) for p in (SOFA_PATH, SOUNDFONT) if not p.exists()]
    if missing:
        raise RuntimeError(f"the source bank needs {', '.join(missing)}: run `make synth-deps`")
    say = progress or (lambda s: None)
    workers = workers or os.cpu_count() or 2
    cache_dir.mkdir(parents=True, exist_ok=True)
    clips: list[tuple[dict, np.ndarray]] = []  # (item metadata, clip at BANK_RATE)

    with tempfile.TemporaryDirectory(prefix="stereofix-bank-") as tmpd, ThreadPoolExecutor(workers) as pool:
        tmp = Path(tmpd)
        jobs = _speech_jobs(quick)
        say(f"bank: speech, {len(jobs)} utterances (flite, espeak-ng)")
        for voice, x in pool.map(lambda kj: _run_speech(kj[1], tmp, kj[0]), enumerate(jobs)):
            if x is not None:
                clips.append(({"kind": "speech", "pool": "speech", "group": voice}, x))
        programs = list(range(0, 128, 10)) if quick else list(range(128))
        specs = [(p, False) for p in programs for _ in range(1 if quick else 2)]
        specs += [(k, True) for k in (DRUM_KITS[:3] if quick else DRUM_KITS) for _ in range(1 if quick else 2)]
        say(f"bank: instruments, {len(specs)} phrases (fluidsynth, {SOUNDFONT.name})")
        n_batch = max(1, min(workers * 2, len(specs) // 8))
        batches = [specs[i::n_batch] for i in range(n_batch)]
        for batch, rendered in zip(batches, pool.map(lambda kb: _render_midi_batch(kb[1], tmp, kb[0]), enumerate(batches))):
            for (prog, drums), x in zip(batch, rendered):
                if x is None:
                    continue
                if drums:
                    clips.append(({"kind": "percussion", "pool": "drumkit", "group": f"kit{prog:03d}"}, x))
                else:
                    clips.append(({"kind": "instrument", "pool": "gm", "group": f"gm{prog:03d}"}, x))
        n_var = 6 if quick else 30
        say(f"bank: ASMR-like and percussive sounds, {len(ASMR_KINDS) * n_var} clips")
        asmr_specs = [(k, v) for k in ASMR_KINDS for v in range(n_var)]
        for (k, v), x in zip(asmr_specs, pool.map(lambda kv: synth_asmr(*kv), asmr_specs)):
            if x is not None:
                clips.append(({"kind": "asmr", "pool": f"asmr_{k}", "group": f"{k}{v:03d}"}, x))
    if not clips:
        raise RuntimeError("no sound could be rendered for the bank")

    # Splits: per pool, by sorted group key (splits.py); sort items so the layout is deterministic.
    clips.sort(key=lambda c: (c[0]["pool"], c[0]["group"]))
    pools: dict[str, list[str]] = {}
    for m, _ in clips:
        pools.setdefault(m["pool"], []).append(m["group"])
    split_maps = {p: assign_splits(g) for p, g in pools.items()}
    say("bank: writing audio at " + ", ".join(f"{r} Hz" for r in RATES))
    items = [dict(m, split=split_maps[m["pool"]][m["group"]]) for m, _ in clips]
    for rate in RATES:
        parts, off = [], 0
        for it, (_, x) in zip(items, clips):
            y = _to_rate(x, BANK_RATE, rate)
            it[f"off{rate}"], it[f"len{rate}"] = off, int(y.size)
            parts.append(np.clip(np.round(y * 32767), -32767, 32767).astype(np.int16))
            off += y.size
        np.save(cache_dir / f"audio_{rate}.npy", np.concatenate(parts))

    say("bank: photographs, faces, HRTF")
    photos = _load_photos()
    np.savez(cache_dir / "images.npz", **photos)
    image_splits = assign_splits(list(photos))
    faces = _load_faces()
    np.save(cache_dir / "faces.npy", faces)
    face_splits = [split_of_index(i) for i in range(len(faces))]
    np.savez(cache_dir / "hrtf.npz", **_load_hrtf())
    meta = {"version": BANK_VERSION, "quick": quick, "rates": list(RATES), "items": items,
            "images": image_splits, "faces": face_splits}
    meta_path.write_text(json.dumps(meta))
    say(f"bank: done, {len(items)} sound clips, {len(photos)} photographs, {len(faces)} faces -> {cache_dir}")
    return cache_dir


def _main() -> None:  # python -m stereofix.synth.bank [--quick] [DIR]
    args = sys.argv[1:]
    quick = "--quick" in args
    rest = [a for a in args if a != "--quick"]
    build_bank(Path(rest[0]) if rest else None, progress=lambda s: print(s, file=sys.stderr, flush=True), quick=quick)


if __name__ == "__main__":
    _main()
