"""Features keep level AND time differences; the classifier is exactly antisymmetric; weights are verified."""

from __future__ import annotations

import pytest
import torch

from stereofix import features as feats
from stereofix.errors import WeightsError
from stereofix.models import OPTIONAL_TERMS, FlipConfig, FlipNet
from stereofix.weights import load_checkpoint, load_flip_model, save_checkpoint


def _source(n: int = 32000, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n + 64, generator=g)


def _delay(x: torch.Tensor, samples: float) -> torch.Tensor:
    """Fractional delay by a phase ramp (what a spaced pair does to a source off to one side)."""
    n = x.numel()
    spec = torch.fft.rfft(x)
    k = torch.arange(spec.numel())
    return torch.fft.irfft(spec * torch.exp(-2j * torch.pi * k * samples / n), n)


def _gcc_lag(audio: torch.Tensor) -> float:
    g = feats.stereo_features(audio[None])["gcc"][0].mean(-1)
    return (int(g.argmax()) - feats.GCC_MAX_LAG * feats.GCC_UPSAMPLE) / feats.GCC_UPSAMPLE


def _ild_db(audio: torch.Tensor) -> float:
    return float(feats.stereo_features(audio[None])["bands"][0, 1].mean() * 10)


@pytest.mark.parametrize("lag", [1.0, 1.5, 2.0, -1.0])
def test_spaced_pair_time_difference_without_level_difference(lag):
    """A spaced omni pair: same level, left earlier by `lag` samples (62-125 us at 16 kHz)."""
    x = _source()
    left, right = x[32:-32], _delay(x, lag)[32:-32]
    audio = torch.stack([left, right])
    assert abs(_ild_db(audio)) < 0.5
    assert _gcc_lag(audio) == pytest.approx(lag, abs=0.26)
    assert _gcc_lag(audio.flip(0)) == pytest.approx(-lag, abs=0.26)


def test_coincident_pair_level_difference_without_time_difference():
    """An XY pair: no time difference, left 6 dB louder."""
    x = _source()[:32000]
    audio = torch.stack([x, 0.5 * x])
    assert _ild_db(audio) == pytest.approx(6.02, abs=0.3)
    assert _gcc_lag(audio) == 0.0
    assert _ild_db(audio.flip(0)) == pytest.approx(-6.02, abs=0.3)


def test_phase_features_resolve_one_sample():
    """Binaural ITDs are one or two samples: the band phase feature must see a one-sample shift."""
    x = _source()
    same = torch.stack([x[32:-32], x[32:-32]])
    shifted = torch.stack([x[32:-32], _delay(x, 1.0)[32:-32]])
    a = feats.stereo_features(same[None])["bands"][0, 3]
    b = feats.stereo_features(shifted[None])["bands"][0, 3]
    assert a.abs().max() < 1e-3
    assert b[feats.N_BANDS // 2 :].mean() > 0.2  # sin(phase) > 0 at high frequency: left earlier


def test_swap_features_matches_recomputation():
    audio = _bursts(2, 32000)
    f = feats.stereo_features(audio, onset=True, onset_gcc=True)
    g = feats.stereo_features(audio.flip(1), onset=True, onset_gcc=True)
    s = feats.swap_features(f)
    assert f["onset"].abs().max() > 0.1 and f["onset_gcc"].abs().max() > 0.1
    assert list(s) == list(f)  # AudioSide pairs the two dicts' values in order
    for key in ("bands", "gcc", "onset", "onset_gcc"):
        assert torch.allclose(s[key], g[key], atol=1e-4), key


def test_onset_cues_read_the_direct_sound_through_a_louder_reflection():
    """Bursts from the left whose echo 40 ms later comes louder from the right (a near wall).

    Averaged over the window the level difference points right; at the onsets, before the echo
    arrives, it points left, which is where the source is.
    """
    torch.manual_seed(4)
    n, rate = 32000, feats.SAMPLE_RATE
    dry = torch.zeros(n)
    for start in range(2000, n - 4000, 4000):  # 250 ms apart, 60 ms bursts
        dry[start : start + 960] = torch.randn(960)
    echo = torch.roll(dry, int(0.040 * rate))
    audio = torch.stack([dry + 0.5 * echo, 0.5 * dry + 1.6 * echo])[None]
    f = feats.stereo_features(audio, onset=True)
    sustained_ild = f["bands"][0, 1].mean()
    strength, ild = f["onset"][0, 0], f["onset"][0, 1]
    onset_ild = (strength * ild).sum() / strength.sum()
    assert sustained_ild < -0.05  # the room reads right
    assert onset_ild > 0.1  # the onsets read left


def test_onset_correlation_reads_the_direct_delay_through_a_louder_reflection():
    """Bursts reaching the left ear 6 samples first, whose louder echo 40 ms later reaches the right first.

    The window's GCC-PHAT peaks at the echo's lag; the onsets' peaks at the direct sound's.
    """
    torch.manual_seed(4)
    n, rate = 32000, feats.SAMPLE_RATE
    dry = torch.zeros(n)
    for start in range(2000, n - 4000, 4000):
        dry[start : start + 960] = torch.randn(960)
    d = int(0.040 * rate)
    audio = torch.stack([dry + 1.6 * torch.roll(dry, d + 6), torch.roll(dry, 6) + 1.6 * torch.roll(dry, d)])[None]
    f = feats.stereo_features(audio, onset_gcc=True)
    span = feats.GCC_MAX_LAG * feats.GCC_UPSAMPLE
    lags = torch.arange(-span, span + 1) / feats.GCC_UPSAMPLE
    assert lags[f["gcc"][0].sum(-1).argmax()] == -6  # the room: right earlier
    assert lags[f["onset_gcc"][0].sum(-1).argmax()] == 6  # the direct sound: left earlier
    still = feats.stereo_features(torch.randn(1, 2, n) * 0.1, onset_gcc=True)["onset_gcc"]
    assert still.abs().max() < f["onset_gcc"].abs().max() / 4  # steady noise has few onsets


def _live_sync(model: FlipNet | None = None) -> FlipNet:
    """A model with the optional terms, given weights (they start at zero) so the tests exercise them too."""
    model = model or FlipNet(FlipConfig(sync=8, instant=True, onset=True, onset_gcc=True, sync_gate=True, audio_gate=True))
    if model.cfg.onset:
        torch.nn.init.normal_(model.audio_side.onset_in.weight, std=0.1)
    if model.cfg.onset_gcc:
        torch.nn.init.normal_(model.audio_side.onset_gcc_in.weight, std=0.1)
    if model.cfg.sync:
        torch.nn.init.normal_(model.sync_audio.weight, std=0.5)
    if model.cfg.instant:
        torch.nn.init.normal_(model.film_instant.weight, std=0.5)
    if model.cfg.sync_gate:
        torch.nn.init.normal_(model.sync_gate.weight, std=0.5)
    if model.cfg.audio_gate:
        torch.nn.init.normal_(model.audio_gate.weight, std=0.5)
    if model.cfg.attention_gate:
        torch.nn.init.normal_(model.attention_gate.weight, std=0.5)
    if model.cfg.range_gate:
        torch.nn.init.normal_(model.range_gate.weight, std=0.5)
    return model


def _bursts(n: int, samples: int) -> torch.Tensor:
    """[n, 2, samples]: noise bursts (onsets), partly coherent and 3 samples earlier on the left."""
    common = torch.randn(n, 1, samples)
    gate = (torch.arange(samples) % 4000 < 1000).float()  # 60 ms on, 190 ms off
    return (torch.cat([common, torch.roll(common, 3, -1)], 1) + 0.5 * torch.randn(n, 2, samples)) * gate


def _random_window(model: FlipNet, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    frames = torch.randint(0, 255, (n, model.cfg.n_frames, 3, 72, 128), dtype=torch.uint8)
    return frames, _bursts(n, model.cfg.n_samples) * 0.1


def test_logit_is_exactly_antisymmetric_under_channel_swap():
    torch.manual_seed(0)
    model = _live_sync().eval()
    frames, audio = _random_window(model, 3)
    with torch.no_grad():
        a, b = model(frames, audio), model(frames, audio.flip(1))
    assert torch.allclose(a, -b, atol=1e-5)
    with torch.no_grad():
        mono = model(frames, audio[:, :1].repeat(1, 2, 1))
    assert torch.allclose(mono, torch.zeros_like(mono), atol=1e-6)  # dual mono: no evidence at all


def test_checkpoint_round_trip_and_checksum(tmp_path):
    model = FlipNet(FlipConfig(dim=4))
    p = save_checkpoint(tmp_path / "flip-v1.pt", model)
    loaded, cal, path = load_flip_model(p)
    assert loaded.cfg.dim == 4 and path == p
    bad = tmp_path / "flip-v1-00000000.pt"
    bad.write_bytes(p.read_bytes())
    with pytest.raises(WeightsError, match="checksum"):
        load_checkpoint(str(bad))  # a str path works as a Path does
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(WeightsError):
        load_flip_model(junk)
    with pytest.raises(WeightsError, match="not found"):
        load_flip_model(tmp_path / "missing.pt")


def test_inference_is_fast_enough_for_a_cpu_tool():
    """Not a timing assertion (those live in benchmarks): the model stays small."""
    model = FlipNet()
    assert sum(p.numel() for p in model.parameters()) < 2_000_000


def test_predict_is_mirror_symmetric_and_swap_antisymmetric():
    torch.manual_seed(1)
    model = _live_sync().eval()
    frames, audio = _random_window(model, 2)
    with torch.no_grad():
        p = model.predict(frames, audio)
        assert torch.allclose(model.predict(frames.flip(-1), audio.flip(1)), p, atol=1e-5)
        assert torch.allclose(model.predict(frames, audio.flip(1)), -p, atol=1e-5)


@pytest.mark.parametrize("extra", [{}, {"sync": 8, "instant": True}, {"sync": 8, "sync_gate": True}, {"onset": True, "onset_gcc": True},
                                   {"sync": 8, "sync_gate": True, "stabilize": True, "audio_gate": True},
                                   {"sync": 8, "sync_gate": True, "stabilize": True, "audio_gate": True, "attention_gate": True},
                                   {"sync": 8, "sync_gate": True, "stabilize": True, "audio_gate": True, "attention_gate": True, "range_gate": True},
                                   {"range_gate": True}])
def test_predict_hears_once_and_equals_the_two_pass_average(extra):
    """predict shares the audio between the two passes; it must give what the two passes give."""
    torch.manual_seed(3)
    model = _live_sync(FlipNet(FlipConfig(**extra))).eval()
    frames, audio = _random_window(model, 3)
    with torch.no_grad():
        two_pass = 0.5 * (model(frames, audio) + model(frames.flip(-1), audio.flip(1)))
        assert torch.allclose(model.predict(frames, audio), two_pass, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("extra", [{"sync": 8}, {"instant": True}, {"onset": True}, {"onset_gcc": True}])
def test_optional_terms_start_silent_so_older_weights_fine_tune(extra):
    torch.manual_seed(2)
    old = FlipNet(FlipConfig()).eval()
    saved = FlipConfig.from_dict({"dim": 16})  # configs saved before the optional terms
    assert saved.sync == 0 and not saved.instant and not saved.onset and not saved.onset_gcc
    new = FlipNet(FlipConfig(**extra)).eval()
    missing, unexpected = new.load_state_dict(old.state_dict(), strict=False)
    assert not unexpected and all(k.startswith(OPTIONAL_TERMS) for k in missing) and missing
    frames, audio = _random_window(old, 2)
    with torch.no_grad():
        (a, parts_new), (b, parts_old) = new(frames, audio, return_parts=True), old(frames, audio, return_parts=True)
        assert torch.equal(a, b) and torch.equal(parts_new["attention"], parts_old["attention"])
        _live_sync(new)
        moved = new(frames, audio, return_parts=True)[1]
        if "onset" in extra or "onset_gcc" in extra:  # the live term moves where the audio places the sound
            assert (moved["alpha"] - parts_old["alpha"]).abs().max() > 1e-3
        else:  # the live term moves the attention
            assert (moved["attention"] / parts_old["attention"] - 1).abs().max() > 1e-3


def test_sync_map_ignores_a_still_picture():
    """Only change over the window can correlate with the sound: a frozen picture scores zero."""
    torch.manual_seed(3)
    model = _live_sync(FlipNet(FlipConfig(sync=8))).eval()
    still = torch.rand(1, 1, 3, 72, 128).repeat(1, 8, 1, 1, 1)
    instant = torch.randn(1, 8, model.cfg.content)
    with torch.no_grad():
        v = model.visual(still)
        assert torch.allclose(model.sync_map(v, instant), torch.zeros(1, v.shape[-2] * v.shape[-1]), atol=1e-5)
        moving = still.clone()
        moving[:, ::2, :, 20:40, 10:30] = 1.0  # a patch that blinks
        assert model.sync_map(model.visual(moving), instant).abs().max() > 1e-3


def _base_and_added(terms: dict, term: str) -> tuple[FlipNet, FlipNet]:
    """A live model with `terms`, and its weights loaded into the same network plus the optional
    `term` (zero-initialised): the only parameters missing are the new term's."""
    base = _live_sync(FlipNet(FlipConfig(**terms))).eval()
    added = FlipNet(FlipConfig(**terms, **{term: True})).eval()
    missing, unexpected = added.load_state_dict(base.state_dict(), strict=False)
    assert not unexpected and sorted(missing) == [f"{term}.bias", f"{term}.weight"]
    assert all(k.startswith(OPTIONAL_TERMS) for k in missing)
    return base, added


def test_sync_gate_starts_silent_then_moves_confidence_not_attention():
    """Added to a model with the sync term, the gate term keeps its function until trained; live,
    it changes how sure the picture is (the logit) and leaves where it looks (the attention)."""
    torch.manual_seed(4)
    base, gated = _base_and_added({"sync": 8}, "sync_gate")
    frames, audio = _random_window(base, 2)
    frames[:, ::2, :, 20:40, 10:30] = 255  # something that changes over the window, so sync is not zero
    with torch.no_grad():
        (a, pa), (b, _) = base(frames, audio, return_parts=True), gated(frames, audio, return_parts=True)
        assert torch.equal(a, b)
        torch.nn.init.normal_(gated.sync_gate.weight, std=0.5)  # only the gate term goes live
        c, pc = gated(frames, audio, return_parts=True)
        assert torch.equal(pc["attention"], pa["attention"])
        assert (c / a - 1).abs().max() > 1e-3  # logits of an untrained model are tiny: compare ratios


def test_sync_gate_needs_the_sync_term():
    with pytest.raises(ValueError, match="sync"):
        FlipNet(FlipConfig(sync_gate=True))


@pytest.mark.parametrize("has, term", [({"sync": 8, "sync_gate": True, "stabilize": True}, "audio_gate"),
                                       ({"sync": 8, "sync_gate": True, "stabilize": True, "audio_gate": True}, "attention_gate"),
                                       ({"sync": 8, "sync_gate": True, "stabilize": True, "audio_gate": True, "attention_gate": True}, "range_gate")])
def test_gate_terms_start_silent_then_move_confidence_keeping_the_symmetries(has, term):
    """Added to the shipped kind of model, the placement, attention-spread and range terms keep its function
    until trained; live, they change how sure the picture is and not where it looks, and read the same
    thing whichever way round the channels are, so a swap still negates the logit and dual mono
    still gives 0."""
    torch.manual_seed(5)
    base, gated = _base_and_added(has, term)
    frames, audio = _random_window(base, 3)
    with torch.no_grad():
        (a, pa), (b, _) = base(frames, audio, return_parts=True), gated(frames, audio, return_parts=True)
        assert torch.equal(a, b)
        torch.nn.init.normal_(getattr(gated, term).weight, std=0.5)  # only the new term goes live
        c, pc = gated(frames, audio, return_parts=True)
        assert torch.equal(pc["attention"], pa["attention"])
        assert (c / a - 1).abs().max() > 1e-3
        assert torch.allclose(gated(frames, audio.flip(1)), -c, atol=1e-5)
        mono = gated(frames, audio[:, :1].repeat(1, 2, 1))
        assert torch.allclose(mono, torch.zeros_like(mono), atol=1e-6)


def test_attention_by_distance_folds_the_columns_onto_one_side():
    """The range gate's picture input: mass per distance from the centre, the same for the mirror."""
    from stereofix.models import attention_by_distance

    att = torch.zeros(1, 1, 2, 16)
    att[0, 0, 0, 0] = 0.5  # outermost left column
    att[0, 0, 1, 14] = 0.3  # second from the right edge
    att[0, 0, 1, 8] = 0.2  # just right of the centre
    folded = attention_by_distance(att.flatten(-2), 16)
    assert folded.shape == (1, 1, 8)
    assert torch.allclose(folded[0, 0], torch.tensor([0.5, 0.3, 0, 0, 0, 0, 0, 0.2]))
    assert torch.equal(attention_by_distance(att.flip(-1).flatten(-2), 16), folded)


def test_an_attention_prior_draws_the_attention_and_keeps_the_symmetries():
    """`predict(prior=...)` (benchmarks/attention_steering.py): zero changes nothing; a strong prior
    on the picture's left edge puts the attention there (and on the right edge of the mirrored
    picture); the logit stays mirror-symmetric and exactly antisymmetric under a channel swap."""
    torch.manual_seed(5)
    model = _live_sync(FlipNet(FlipConfig(sync=8, sync_gate=True, stabilize=True, audio_gate=True,
                                          attention_gate=True, range_gate=True))).eval()
    frames, audio = _random_window(model, 2)
    prior = torch.zeros(2, 8, 15)  # sync.sync_map's grid for 72 x 128 frames
    with torch.no_grad():
        plain = model.predict(frames, audio)
        assert torch.equal(model.predict(frames, audio, prior=prior), plain)
        prior[:, :, 0] = 30.0
        steered = model.predict(frames, audio, prior=prior)
        assert not torch.allclose(steered, plain)
        assert torch.allclose(model.predict(frames, audio.flip(1), prior=prior), -steered, atol=1e-5)
        assert torch.allclose(model.predict(frames.flip(-1), audio.flip(1), prior=prior.flip(-1)), steered, atol=1e-5)
        _, content, instant, _ = model.hear(audio, frames.shape[1])
        h, att, _ = model.attend(frames.float() / 255, torch.cat([content] * 2), torch.cat([instant] * 2),
                                 and_mirrored=True, prior=prior)
    columns = att.reshape(*att.shape[:2], h.shape[3], h.shape[4]).sum(2)  # [2B, T, w]
    assert (columns[:2, :, 0] > 0.9).all() and (columns[2:, :, -1] > 0.9).all()
