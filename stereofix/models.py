"""The flip classifier: frames + both channels in, one "flipped" logit out.

Structure (after "Telling Left from Right", made small enough for a CPU):

    audio [B,2,N] -> stereo_features -> AudioSide  -> alpha [B,S->T,D]   (where the sound is, per step)
                                     -> AudioContent -> gamma [B,T,C]    (what is sounding, per frame)
    frames [B,T,3,H,W] + motion -> VisualEncoder, FiLM(gamma) -> "sounding" map -> column attention
                                -> beta [B,T,D] (where the sounding thing is in the picture)
    logit = mean_t sum_k alpha[t,k] * beta[t,k] * gate[t]

With `FlipConfig.instant` the FiLM conditioning also hears the sound at each frame's own instant
(64 ms feature step) and its change since the previous frame, not only the mean over the frame's
250 ms slot: the synthesizer (and the world) animates a sounding thing by the sound of the moment.

With `FlipConfig.sync` > 0 (8 in the shipped weights) the "sounding" map has a second, explicit
term: a learned cross-correlation over the window's frames between how each place in the picture
changes and how the sound's content changes at the frames' instants (sync). A silent object that
stands still or moves to its own rhythm correlates with nothing heard; the sounding one does. The
per-frame FiLM path only sees that cue one frame at a time.

With `FlipConfig.sync_gate` (needs `sync`) the picture's confidence (the gate) also reads the sync
evidence: at the attended place and the strongest anywhere. The sync term alone only moves the
attention; a silent visible object that attracts it still got a confident gate from its looks
(a static face while someone speaks off-screen), which is how off-screen clips leak and distractors
get credited. Zero-initialised, like the other optional terms.

With `FlipConfig.audio_gate` the gate also hears how the sound is placed, by codes that do not
change when the channels are exchanged: the even part of the audio side, a(f) + a(swap f), and the
size of the odd part, |alpha|. A sound that is far to one side, or diffuse, says "perhaps nothing
in view makes it" before the picture is looked at (off-screen speakers, the leak that binds the
decision threshold); the picture alone cannot know that. Even under a swap, so the logit stays
exactly odd; unchanged by predict's mirrored pass, so it stays mirror-symmetric. Zero-initialised.

With `FlipConfig.attention_gate` the gate also reads how focused the attention is: its entropy (as a
share of the most it can be) and its peak. With nothing in view making the sound the attention
spreads: on the seventh revision, over 600 windows of validation-material scenes, the entropy tells
off-screen windows from clear-sided ones with AUC 0.85, the peak 0.82, against 0.73 for the gate's
looks term, but the strongest sync (0.82), which the sync gate already reads, is nearly as telling
(`python benchmarks/gate_inputs.py`). Zero-initialised. In the eighth revision (stage 12) its
trained weights stayed tiny (|0.03| at most), so it barely acts yet.

With `FlipConfig.range_gate` the gate also weighs how far out the sound is against how far out the
attended place is: a bilinear read of |alpha| (swap-even) and the attention's mass per distance from
the picture's centre (columns folded left onto right: mirror-even). The leak that every revision
kept is a sound well outside the frame (45-70 degrees) credited to a silent object well inside it,
often on the other side, which turns the verdict into a confident `swapped`; the sound's placement
alone (`audio_gate`) cannot say that, the attention alone cannot either, only the pair can.
Zero-initialised; both symmetries kept. Trained with the whole network (stages 28-31, README) it
learned the expected shape but small weights and did not ship; trained with only the gate's heads
(stage 32, `train flip --train-only`) its weights grew, and its average with the ninth revision is
the tenth (stage 33). The same validation scenes still leak, less sure.

With `FlipConfig.onset` the audio side also reads level and phase differences weighted towards the
sound's onsets (features.onset_cues), where a room's reflections have not yet blurred them. With
`FlipConfig.onset_gcc` it reads the time difference at onsets as a correlation over lags
(features.onset_correlation), which does not wrap for widely spaced pairs as a band's phase does.

alpha is computed as a(f) - a(swap(f)), so swapping the channels negates the logit exactly; the
product with beta means the model can only be confident when BOTH the audio and the picture
place the source off centre, which is what makes centred, off-screen and dual-mono windows
come out near p = 0.5 (abstain) rather than a guess.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace

import torch
import torch.nn.functional as F
from torch import nn

from stereofix import features as feats
from stereofix.motion import aligned_previous
from stereofix.windows import FRAME_HEIGHT, FRAME_WIDTH, MODEL_FPS, slot_centres  # noqa: F401 - re-exported

# Parameter names of the optional terms; each starts at zero, so weights without them load with
# strict=False and keep their function (fine-tuning with --sync/--instant/--onset, train average).
OPTIONAL_TERMS = ("sync_", "film_instant.", "audio_side.onset_in.", "audio_side.onset_gcc_in.", "audio_gate.", "attention_gate.",
                  "range_gate.")


def sync_evidence(att: torch.Tensor, sync: torch.Tensor) -> torch.Tensor:
    """[B, T, 2]: the sync at the attended place and the strongest anywhere (the sync gate's input).

    att: the attention [B, T, P]; sync: the sync map [B, P].
    """
    at_att = (att * sync.unsqueeze(1)).sum(-1)
    return torch.stack([at_att, sync.max(-1).values.unsqueeze(1).expand_as(at_att)], dim=-1)


def attention_by_distance(att: torch.Tensor, width: int) -> torch.Tensor:
    """[B, T, width // 2]: the attention's mass per column distance from the picture's centre, the
    outermost pair first (the range gate's picture input; the same for the mirrored picture).
    att: [B, T, P] over a grid `width` columns wide."""
    cols = att.reshape(*att.shape[:2], -1, width).sum(-2)
    return cols[..., : width // 2] + cols[..., width // 2 :].flip(-1)


def attention_spread(att: torch.Tensor) -> torch.Tensor:
    """[B, T, 2]: the attention's entropy as a share of its maximum, and its peak (the attention
    gate's input). att: [B, T, P]."""
    entropy = -(att * att.clamp_min(1e-12).log()).sum(-1) / math.log(att.shape[-1])
    return torch.stack([entropy, att.max(-1).values], dim=-1)


@dataclass(frozen=True)
class FlipConfig:
    dim: int = 16  # size of the shared "side" space of alpha and beta
    audio_hidden: int = 128
    content: int = 48
    visual: tuple[int, int, int] = (24, 48, 64)
    window_s: float = 2.0
    fps: float = MODEL_FPS
    sync: int = 0  # size of the audio-visual sync code (0: no sync term; `train flip --sync 8`)
    instant: bool = False  # FiLM also hears the sound at each frame's instant (`train flip --instant`)
    onset: bool = False  # the audio side also reads cues at the sound's onsets (`train flip --onset`)
    onset_gcc: bool = False  # ... and the onsets' GCC-PHAT (`train flip --onset-gcc`)
    sync_gate: bool = False  # the gate also reads the sync evidence (`train flip --sync-gate`; needs sync)
    stabilize: bool = False  # the motion channel follows the camera (`train flip --stabilize`; motion.py)
    audio_gate: bool = False  # the gate also hears how the sound is placed (`train flip --audio-gate`)
    attention_gate: bool = False  # the gate also reads how focused the attention is (`train flip --attention-gate`)
    range_gate: bool = False  # the gate also weighs how far out the sound is against the attended place (`train flip --range-gate`)

    @property
    def n_frames(self) -> int:
        return int(round(self.window_s * self.fps))

    @property
    def n_samples(self) -> int:
        return int(round(self.window_s * feats.SAMPLE_RATE))

    def to_dict(self) -> dict:
        d = asdict(self)
        d["visual"] = list(self.visual)
        return d

    def with_terms_of(self, other: "FlipConfig") -> "FlipConfig":
        """This network plus the optional terms `other` has: what a fine-tune adding them trains."""
        return replace(self, sync=self.sync or other.sync, instant=self.instant or other.instant,
                       onset=self.onset or other.onset, onset_gcc=self.onset_gcc or other.onset_gcc,
                       sync_gate=self.sync_gate or other.sync_gate, stabilize=self.stabilize or other.stabilize,
                       audio_gate=self.audio_gate or other.audio_gate,
                       attention_gate=self.attention_gate or other.attention_gate,
                       range_gate=self.range_gate or other.range_gate)

    @classmethod
    def from_dict(cls, d: dict) -> "FlipConfig":
        d = dict(d)
        if "visual" in d:
            d["visual"] = tuple(d["visual"])
        return cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})


class AudioSide(nn.Module):
    """Per-step direction code from ILD/phase/GCC features; odd under a channel swap by construction."""

    def __init__(self, cfg: FlipConfig) -> None:
        super().__init__()
        c_in = feats.BAND_FEATURES * feats.N_BANDS + feats.N_LAGS
        h = cfg.audio_hidden
        self.net = nn.Sequential(
            nn.Conv1d(c_in, h, 3, padding=1),
            nn.GELU(),
            nn.Conv1d(h, h, 3, padding=1),
            nn.GELU(),
            nn.Conv1d(h, cfg.dim, 1),
        )
        if cfg.onset:
            # Onset cues enter beside the first layer, zero-initialised like the sync term, so they
            # can be added to trained weights and fine-tuned from the same function.
            self.onset_in = nn.Conv1d(feats.ONSET_FEATURES * feats.N_BANDS, h, 3, padding=1)
            nn.init.zeros_(self.onset_in.weight)
            nn.init.zeros_(self.onset_in.bias)
        if cfg.onset_gcc:
            self.onset_gcc_in = nn.Conv1d(feats.N_LAGS, h, 3, padding=1)
            nn.init.zeros_(self.onset_gcc_in.weight)
            nn.init.zeros_(self.onset_gcc_in.bias)

    def _branch(self, f: dict[str, torch.Tensor]) -> torch.Tensor:
        b, c, k, s = f["bands"].shape
        x = self.net[0](torch.cat([f["bands"].reshape(b, c * k, s), f["gcc"]], dim=1))
        if "onset" in f:
            x = x + self.onset_in(f["onset"].reshape(b, -1, s))
        if "onset_gcc" in f:
            x = x + self.onset_gcc_in(f["onset_gcc"])
        return self.net[1:](x)

    def forward(self, f: dict[str, torch.Tensor]) -> torch.Tensor:
        """[B, D, S]"""
        return self.odd_and_even(f)[0]

    def odd_and_even(self, f: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """[B, D, S] twice: a(f) - a(swap f) (the side) and a(f) + a(swap f) (unchanged by a swap)."""
        both = {k: torch.cat([v, w]) for (k, v), w in zip(f.items(), feats.swap_features(f).values())}
        out = self._branch(both)
        a, a_swapped = out.chunk(2)
        return a - a_swapped, a + a_swapped


class AudioContent(nn.Module):
    """What is sounding and when (mid level per band): conditions the picture on the sound."""

    def __init__(self, cfg: FlipConfig) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv1d(feats.N_BANDS, cfg.content, 3, padding=1),
            nn.GELU(),
            nn.Conv1d(cfg.content, cfg.content, 3, padding=1),
        )

    def forward(self, f: dict[str, torch.Tensor]) -> torch.Tensor:
        """[B, C, S]"""
        return self.net(f["bands"][:, 0])


class VisualEncoder(nn.Module):
    """Small CNN over RGB + frame difference (motion), shared across frames.

    With `FlipConfig.stabilize` the difference is taken after warping the previous frame onto the
    current one by the camera's translation (motion.py), so a hand-held camera's shake does not
    light up every edge.

    A 4x4 stride-4 stem (a patch embedding) keeps the full 72x128 input, so small sources still
    cover a few cells, at a quarter of the cost of a 3x3 stride-2 stem.
    """

    def __init__(self, cfg: FlipConfig) -> None:
        super().__init__()
        self.stabilize = cfg.stabilize
        c1, c2, c3 = cfg.visual
        self.convs = nn.Sequential(
            nn.Conv2d(6, c1, 4, stride=4), nn.BatchNorm2d(c1), nn.GELU(),
            nn.Conv2d(c1, c2, 3, stride=2, padding=1), nn.BatchNorm2d(c2), nn.GELU(),
            nn.Conv2d(c2, c3, 3, padding=1), nn.BatchNorm2d(c3), nn.GELU(),
        )  # fmt: skip
        self.out_channels = c3

    def forward(self, frames: torch.Tensor, and_mirrored: bool = False) -> torch.Tensor:
        """frames [B, T, 3, H, W] float in [0, 1] -> [B, T, C, H/8, W/8]

        and_mirrored: also encode the mirrored frames, as batch items B..2B-1. The stem is a patch
        embedding (stride = kernel, W a multiple of it), so the mirrored picture's stem output is the
        mirror of the stem with mirrored kernels: one convolution with both kernel sets, and the
        input is prepared once.
        """
        b, t = frames.shape[:2]
        # The mirrored pass reuses this input: motion.aligned_previous mirrors exactly with the picture.
        prev = aligned_previous(frames) if self.stabilize else torch.cat([frames[:, :1], frames[:, :-1]], dim=1)
        x = torch.cat([frames - 0.5, (frames - prev) * 4.0], dim=2).flatten(0, 1)
        if and_mirrored:
            stem = self.convs[0]
            y = F.conv2d(x, torch.cat([stem.weight, stem.weight.flip(-1)]), torch.cat([stem.bias, stem.bias]), stride=stem.stride)
            straight, mirrored = y.chunk(2, dim=1)
            y = self.convs[1:](torch.cat([straight, mirrored.flip(-1)]))
            b = 2 * b
        else:
            y = self.convs(x)
        return y.reshape(b, t, *y.shape[1:])


class FlipNet(nn.Module):
    def __init__(self, cfg: FlipConfig | None = None) -> None:
        super().__init__()
        self.cfg = cfg = cfg or FlipConfig()
        if cfg.sync_gate and not cfg.sync:
            # Checked here, not in FlipConfig: a fine-tune's config asks for the gate before it is
            # merged with the --init weights' sync term (FlipConfig.with_terms_of).
            raise ValueError("sync_gate needs the sync term (sync > 0)")
        self.audio_side = AudioSide(cfg)
        self.audio_content = AudioContent(cfg)
        self.visual = VisualEncoder(cfg)
        c = self.visual.out_channels
        self.film = nn.Linear(cfg.content, 2 * c)
        self.sounding = nn.Conv2d(c, 1, 1)
        self.gate = nn.Linear(c, 1)
        cols = FRAME_WIDTH // 8
        self.column_code = nn.Parameter(torch.randn(cfg.dim, cols) * 0.1)
        if cfg.instant:
            # The sound at the frame's own instant and how it just changed: a mouth is open when the
            # voice is loud at that moment, which the slot's 250 ms mean blurs. Zero-init, as sync.
            self.film_instant = nn.Linear(2 * cfg.content, 2 * c)
            nn.init.zeros_(self.film_instant.weight)
            nn.init.zeros_(self.film_instant.bias)
        if cfg.sync:
            self.sync_visual = nn.Conv2d(c, cfg.sync, 1)
            self.sync_audio = nn.Linear(cfg.content, cfg.sync)
            # Zero: a new sync term starts silent, so it can be added to a trained model and fine-tuned.
            nn.init.zeros_(self.sync_audio.weight)
            nn.init.zeros_(self.sync_audio.bias)
        if cfg.sync_gate:
            # [sync at the attended place, strongest sync anywhere] -> gate; zero: starts silent.
            self.sync_gate = nn.Linear(2, 1)
            nn.init.zeros_(self.sync_gate.weight)
            nn.init.zeros_(self.sync_gate.bias)
        if cfg.audio_gate:
            # [even audio code, |alpha|] -> gate; zero: starts silent.
            self.audio_gate = nn.Linear(2 * cfg.dim, 1)
            nn.init.zeros_(self.audio_gate.weight)
            nn.init.zeros_(self.audio_gate.bias)
        if cfg.attention_gate:
            # [attention entropy / its maximum, attention peak] -> gate; zero: starts silent. A sound
            # nothing in view makes leaves the attention spread over the picture (README, Design notes).
            self.attention_gate = nn.Linear(2, 1)
            nn.init.zeros_(self.attention_gate.weight)
            nn.init.zeros_(self.attention_gate.bias)
        if cfg.range_gate:
            # |alpha| x attention by distance from the centre -> gate; zero: starts silent. A sound
            # further out than anything attended says the attended thing does not make it.
            self.range_gate = nn.Bilinear(cfg.dim, cols // 2, 1)
            nn.init.zeros_(self.range_gate.weight)
            nn.init.zeros_(self.range_gate.bias)

    def sync_map(self, v: torch.Tensor, instant: torch.Tensor) -> torch.Tensor:
        """[B, h*w]: covariance over frames of each place's change with the sound's change."""
        b, t, c, hh, ww = v.shape
        sv = self.sync_visual(v.flatten(0, 1)).reshape(b, t, -1, hh * ww)
        sa = self.sync_audio(instant)  # [B, T, K]
        sv = sv - sv.mean(1, keepdim=True)
        sa = sa - sa.mean(1, keepdim=True)
        return torch.einsum("btkp,btk->bp", sv, sa) / t

    def attend(self, frames: torch.Tensor, content: torch.Tensor, instant: torch.Tensor | None = None,
               and_mirrored: bool = False, prior: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """The picture's features conditioned on the sound, h [B, T, C, h, w]; the attention over
        places, [B, T, h*w]; and the sync map [B, h*w] (None without the sync term).

        prior: [B, rows, columns] added to the attention's logits after resampling to its grid
        (mirrored for the mirrored picture): where something outside the window, such as the whole
        file's synchrony (`sync.sync_map`), says the sounding thing is. None: the network alone, as
        trained; `check` adds the calibration's (`infer.read_picture`, README "Design notes", sessions
        30 and 33)."""
        v = self.visual(frames, and_mirrored)  # [B, T, C, h, w]
        film = self.film(content)
        if self.cfg.instant:
            change = instant - torch.cat([instant[:, :1], instant[:, :-1]], dim=1)
            film = film + self.film_instant(torch.cat([instant, change], dim=-1))
        scale, shift = film.unsqueeze(-1).unsqueeze(-1).chunk(2, dim=2)
        h = F.gelu(v * (1 + scale) + shift)
        logits = self.sounding(h.flatten(0, 1)).reshape(v.shape[0], v.shape[1], -1)
        sync = None
        if self.cfg.sync:
            sync = self.sync_map(v, instant)  # [B, h*w]
            logits = logits + sync.unsqueeze(1)
        if prior is not None:
            grid = F.interpolate(prior[:, None].float(), size=h.shape[3:], mode="bilinear", align_corners=True)[:, 0]
            if and_mirrored:
                grid = torch.cat([grid, grid.flip(-1)])
            logits = logits + grid.flatten(1).unsqueeze(1)
        return h, torch.softmax(logits, dim=-1), sync

    def side_of_picture(self, frames: torch.Tensor, content: torch.Tensor,
                        instant: torch.Tensor | None = None, and_mirrored: bool = False,
                        placement: torch.Tensor | None = None,
                        prior: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """beta [B, T, D], the attention map [B, T, h, w] over where the sounding thing is, and the
        gate's pre-activation [B, T] (how sure the picture is that the sounding thing is in view).

        content: the sound per frame slot (averaged over it); instant: the sound at the frames' instants;
        placement: the swap-even audio codes the gate hears with `audio_gate` and `range_gate` ([B, T, 2D]).
        and_mirrored: also for the mirrored frames (batch items B..2B-1; content, instant and
        placement given for all 2B). prior: see `attend` (given for the B straight pictures).
        """
        h, att_flat, sync = self.attend(frames, content, instant, and_mirrored, prior)
        att = att_flat.reshape(h.shape[0], h.shape[1], h.shape[3], h.shape[4])
        # Mirror-odd column code: a source at the picture's centre maps to zero.
        code = self.column_code - self.column_code.flip(-1)  # [D, w]
        beta = torch.einsum("bthw,dw->btd", att, code)
        gate_logit = sum(self.gate_terms(h, att_flat, sync, placement).values())  # [B, T, 1]
        return beta * F.softplus(gate_logit), att, gate_logit.squeeze(-1)

    def gate_terms(self, h: torch.Tensor, att_flat: torch.Tensor, sync: torch.Tensor | None,
                   placement: torch.Tensor | None) -> dict[str, torch.Tensor]:
        """The gate's pre-activation terms, each [B, T, 1], by name (their sum is the gate's input):
        the looks of the attended place, then the sync, audio and attention terms the config has.
        Kept apart so a diagnosis (benchmarks/gate_inputs.py) reads each one as the model adds it."""
        pooled = (h * att_flat.reshape(*att_flat.shape[:2], 1, h.shape[3], h.shape[4])).sum((-1, -2))  # [B, T, C]
        terms = {"looks": self.gate(pooled)}
        if self.cfg.sync_gate:
            terms["sync"] = self.sync_gate(sync_evidence(att_flat, sync))
        if self.cfg.audio_gate:
            terms["audio"] = self.audio_gate(placement)
        if self.cfg.attention_gate:
            terms["attention"] = self.attention_gate(attention_spread(att_flat))
        if self.cfg.range_gate:
            size = placement[..., self.cfg.dim :]  # |alpha|: how far to one side the sound is
            terms["range"] = self.range_gate(size, attention_by_distance(att_flat, h.shape[4]))
        return terms

    def frame_instants(self, batch: int, t: int, device=None) -> torch.Tensor:
        """[B, T] seconds from the window start: the slot centres where check samples frames."""
        return torch.tensor(slot_centres(t, self.cfg.fps), device=device).expand(batch, t)

    def hear(self, audio: torch.Tensor, t: int, frame_times: torch.Tensor | None = None):
        """The audio's parts for T frames: alpha [B, T, D], content [B, T, C], instant [B, T, C] or
        None, placement [B, T, 2D] (with `audio_gate` or `range_gate`) or None."""
        f = feats.stereo_features(audio, onset=self.cfg.onset, onset_gcc=self.cfg.onset_gcc)
        odd, even = self.audio_side.odd_and_even(f)
        alpha = F.adaptive_avg_pool1d(odd, t).transpose(1, 2)  # [B, T, D]
        placement = None
        if self.cfg.audio_gate or self.cfg.range_gate:
            placement = torch.cat([F.adaptive_avg_pool1d(even, t).transpose(1, 2), alpha.abs()], dim=-1)
        content_steps = self.audio_content(f)  # [B, C, S]
        content = F.adaptive_avg_pool1d(content_steps, t).transpose(1, 2)  # [B, T, C]
        instant = None
        if self.cfg.sync or self.cfg.instant:
            if frame_times is None:
                frame_times = self.frame_instants(audio.shape[0], t, audio.device)
            instant = feats.at_times(content_steps, frame_times)  # [B, T, C]: the sound each frame shows
        return alpha, content, instant, placement

    def forward(self, frames: torch.Tensor, audio: torch.Tensor, return_parts: bool = False,
                frame_times: torch.Tensor | None = None):
        """
        Args:
            frames: [B, T, 3, H, W] uint8 or float in [0, 1], T = cfg.n_frames, H x W = 72 x 128.
            audio: [B, 2, N] float32 at 16 kHz, channel 0 = left.
            frame_times: [B, T] seconds from the window's start at which each frame is shown;
                default the slot centres. A decoder that skips B-frames hands back frames up to a
                few frames early, and the sync term should hear the sound of the frame it sees.

        Returns:
            logit [B]: > 0 means the channels are flipped relative to the picture.
        """
        if frames.dtype == torch.uint8:
            frames = frames.float() / 255.0
        alpha, content, instant, placement = self.hear(audio, frames.shape[1], frame_times)
        beta, att, gate_logit = self.side_of_picture(frames, content, instant, placement=placement)
        logit = (alpha * beta).sum(-1).mean(-1)
        if return_parts:
            return logit, {"alpha": alpha, "beta": beta, "attention": att, "gate_logit": gate_logit}
        return logit

    def predict(self, frames: torch.Tensor, audio: torch.Tensor, frame_times: torch.Tensor | None = None,
                prior: torch.Tensor | None = None) -> torch.Tensor:
        """The logit averaged with that of the mirrored picture and exchanged channels.

        Mirroring the picture and exchanging the channels keeps the answer, so averaging the two
        makes the prediction exactly mirror-symmetric (it stays exactly antisymmetric under a swap).
        Measured on the val clips with flip-v1: window accuracy 81.3% -> 84.3%.

        The second pass only needs the picture again: exchanging the channels negates alpha (odd by
        construction) and leaves the content (mid levels) as it is, so the audio is heard once and
        both pictures go through the visual side as one batch.
        """
        if frames.dtype == torch.uint8:
            frames = frames.float() / 255.0
        alpha, content, instant, placement = self.hear(audio, frames.shape[1], frame_times)
        twice = lambda x: None if x is None else torch.cat([x, x])  # noqa: E731
        # Exchanging the channels leaves the placement codes as they are (even by construction).
        beta, _, _ = self.side_of_picture(frames, twice(content), twice(instant), and_mirrored=True,
                                       placement=twice(placement), prior=prior)
        straight, mirrored = beta.chunk(2)
        return 0.5 * (alpha * (straight - mirrored)).sum(-1).mean(-1)
