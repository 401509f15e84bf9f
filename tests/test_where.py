"""The "where" objective (train/where.py): targets from the synthesizer's truth, the loss, the flag."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from tests.test_train import _train, quick_bank  # noqa: F401  (fixture)


def _windows(bank, scene_type, seed=0):
    from stereofix.models import FlipConfig
    from stereofix.synth import render_scene
    from stereofix.train.data import scene_windows
    from stereofix.train.flip import _render_kwargs

    scene = render_scene(seed, "train", scene_type=scene_type, **(_render_kwargs(FlipConfig(), 4.0) | {"bank": str(bank)}))
    return scene, scene_windows(scene, 2.0)


def test_targets_follow_the_truth_and_the_mirror(quick_bank):  # noqa: F811
    from stereofix.train.data import ReplayPool

    scene, ws = _windows(quick_bank, "single")
    obj = next(o for o in scene.truth["objects"] if o["sounding"])
    assert all(w["in_view"] == 1.0 for w in ws)
    u = np.array(obj["u"][8:16], np.float32)
    assert np.allclose(ws[1]["where"][:, 0, 0].numpy(), u) and torch.isnan(ws[1]["where"][:, 1]).all()
    hu, hv = ws[1]["where"][0, 0, 2:].tolist()
    assert 0.05 < hv < 0.3 and 0 < hu < hv  # a square sprite in a landscape frame is narrower in u

    _, off = _windows(quick_bank, "offscreen")
    assert all(w["in_view"] == 0.0 and torch.isnan(w["where"]).all() for w in off)
    _, two = _windows(quick_bank, "two_opposite")
    assert not torch.isnan(two[0]["where"][0]).any()  # both sounding objects are targets

    pool = ReplayPool(4, seed=0)
    pool.add(ws[0])
    b = pool.batch(32)
    for fr, wh in zip(b["frames"], b["where"]):
        mirrored = not torch.equal(fr, ws[0]["frames"])
        expect = 1 - ws[0]["where"][:, 0, 0] if mirrored else ws[0]["where"][:, 0, 0]
        assert torch.allclose(wh[:, 0, 0], expect)
    assert b["in_view"].tolist() == [1.0] * 32


def test_loss_rewards_attention_on_the_sounding_object_and_a_higher_gate_in_view():
    from stereofix.train.where import MAX_SOUNDING, on_target, where_loss

    where = torch.full((2, 3, MAX_SOUNDING, 4), float("nan"))
    where[0, :, 0] = torch.tensor([0.8, 0.5, 0.1, 0.2])  # window 0: a sounding object on the right
    in_view = torch.tensor([1.0, 0.0])  # window 1: nothing in view makes the sound
    cover, has = on_target(where, 9, 16)
    assert has[0].all() and not has[1].any()
    assert cover[0, 0, :, :8].sum() == 0 and cover[0, 0, :, 12].sum() > 0
    on = cover / cover.sum((-1, -2), keepdim=True).clamp_min(1)
    on[1] = 1 / 144
    uniform = torch.full((2, 3, 9, 16), 1 / 144)
    gate = torch.tensor([[2.0] * 3, [-2.0] * 3])
    good, parts = where_loss(on, gate, where, in_view)
    bad, bad_parts = where_loss(uniform, -gate, where, in_view)
    assert parts["where_attention"] < 1e-4 < bad_parts["where_attention"]
    assert parts["where_gate"] < bad_parts["where_gate"] and good < bad

    att = uniform.clone().requires_grad_()
    nothing = torch.full_like(where, float("nan"))
    loss, _ = where_loss(att, gate, nothing, torch.tensor([float("nan")] * 2))
    loss.backward()  # windows without truth (a user's videos) add nothing and break nothing
    assert loss.item() == 0 and torch.isfinite(att.grad).all()


def test_one_term_alone_trains_only_its_part():
    from stereofix.train.where import MAX_SOUNDING, where_loss

    where = torch.full((2, 3, MAX_SOUNDING, 4), float("nan"))
    where[0, :, 0] = torch.tensor([0.8, 0.5, 0.1, 0.2])
    in_view = torch.tensor([1.0, 0.0])
    grads = {}
    for terms in ("both", "attention", "gate"):
        att = torch.full((2, 3, 9, 16), 1 / 144, requires_grad=True)
        gate = torch.zeros(2, 3, requires_grad=True)
        loss, parts = where_loss(att, gate, where, in_view, terms)
        loss.backward()
        grads[terms] = tuple(0.0 if t.grad is None else t.grad.abs().sum().item() for t in (att, gate))
        assert parts["where_attention"] > 0 and parts["where_gate"] > 0  # both reported whichever is trained
        total = {"both": parts["where_attention"] + parts["where_gate"], "attention": parts["where_attention"],
                 "gate": parts["where_gate"]}[terms]
        assert abs(loss.item() - total) < 1e-5
    assert grads["attention"][0] > 0 and grads["attention"][1] == 0
    assert grads["gate"][0] == 0 and grads["gate"][1] > 0
    assert all(b > 0 for b in grads["both"])
    with pytest.raises(ValueError):
        where_loss(att, gate, where, in_view, "neither")


def test_train_with_where_logs_its_terms(tmp_path, quick_bank, monkeypatch):  # noqa: F811
    monkeypatch.setenv("STEREOFIX_BANK", str(quick_bank))
    r = _train(tmp_path / "run", "--steps", "2", "--batch", "8", "--where", "0.5", "--focus", "offscreen=0.5")
    assert r.exit_code == 0, r.stderr
    records = [json.loads(x) for x in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    last = [rec for rec in records if "loss" in rec][-1]
    assert last["step"] == 2 and np.isfinite(last["where_attention"]) and np.isfinite(last["where_gate"])
    r = _train(tmp_path / "bad", "--steps", "1", "--where", "-1")
    assert r.exit_code == 2 and "--where" in r.stderr
    r = _train(tmp_path / "bad2", "--steps", "1", "--where", "0.5", "--where-terms", "neither")
    assert r.exit_code == 2 and "--where-terms neither" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "bad2").exists()
    r = _train(tmp_path / "bad3", "--steps", "1", "--where-terms", "gate")  # a part of an objective that is off
    assert r.exit_code == 2 and "needs --where" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "bad3").exists()
