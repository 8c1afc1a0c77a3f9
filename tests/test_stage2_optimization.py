"""Stage II optimisation: the backbone's own rate, warm-up, clipping, and the frozen-backbone warm start."""

from __future__ import annotations

import pytest
import torch

from codephys_plugin.adapters import PhysNet
from codephys_plugin.code_query_head import CodeQueryHead
from codephys_plugin.training import optimization
from codephys_plugin.training.optimization import BACKBONE, HEAD, Schedule, parameter_groups
from codephys_plugin.training.stage2 import train_stage2
from tests.test_code_query_head import STEPS, small_bundle
from tests.test_train_cli import _head_and_clips, bundle, tiny_args  # noqa: F401  (the module's Stage I bundle fixture)


def test_rates_warm_up_and_the_backbone_waits_its_epochs():
    schedule = Schedule(lr=1e-3, backbone_lr=1e-4, warmup_steps=4, frozen_backbone_epochs=1)
    assert schedule.rates(0, 0) == {HEAD: pytest.approx(2.5e-4), BACKBONE: 0.0}
    assert schedule.rates(3, 0) == {HEAD: pytest.approx(1e-3), BACKBONE: 0.0}
    assert schedule.rates(10, 1) == {HEAD: pytest.approx(1e-3), BACKBONE: pytest.approx(1e-4)}
    assert Schedule(lr=1e-3).rates(0, 0) == {HEAD: 1e-3, BACKBONE: 1e-3}, "no warm-up; the backbone at the head's rate"
    with pytest.raises(ValueError, match="grad_clip"):
        Schedule(lr=1e-3, grad_clip=0.0)


def test_parameter_groups_split_backbone_from_head():
    head = CodeQueryHead(PhysNet(frames=STEPS), codebook=small_bundle())
    groups = {group["name"]: group["params"] for group in parameter_groups(head)}
    backbone = {id(p) for p in head.adapter.parameters() if p.requires_grad}
    assert {id(p) for p in groups[BACKBONE]} == backbone
    assert not backbone & {id(p) for p in groups[HEAD]} and groups[HEAD]
    assert sum(len(params) for params in groups.values()) == sum(p.requires_grad for p in head.parameters())
    frozen = CodeQueryHead(PhysNet(frames=STEPS), codebook=small_bundle(), freeze_backbone=True)
    assert [group["name"] for group in parameter_groups(frozen)] == [HEAD]


def test_a_warm_start_keeps_the_backbone_fixed_for_its_epochs_then_trains_it(bundle, tmp_path, monkeypatch):  # noqa: F811
    head, train, val, config = _head_and_clips(bundle, tmp_path, "--epochs", "2", "--frozen-backbone-epochs", "1",
                                               "--backbone-lr", "1e-5", "--grad-clip", "5")
    assert (config.frozen_backbone_epochs, config.backbone_lr, config.grad_clip) == (1, 1e-5, 5.0)
    clipped = []
    monkeypatch.setattr(optimization.torch.nn.utils, "clip_grad_norm_",
                        lambda parameters, max_norm: clipped.append(max_norm))
    backbone_start = {k: v.clone() for k, v in head.adapter.state_dict().items()}
    head_start = {k: v.clone() for k, v in head.video_encoder.state_dict().items()}
    snapshots = []
    train_stage2(head, train, val, config, on_epoch=lambda summary: snapshots.append(
        ({k: v.clone() for k, v in head.adapter.state_dict().items()},
         {k: v.clone() for k, v in head.video_encoder.state_dict().items()})))
    after_first, after_second = snapshots
    assert all(torch.equal(after_first[0][k], v) for k, v in backbone_start.items()), "weights and BN statistics fixed"
    assert any(not torch.equal(after_first[1][k], v) for k, v in head_start.items()), "the head learns meanwhile"
    assert any(not torch.equal(after_second[0][k], after_first[0][k]) for k in backbone_start), "then the backbone"
    assert clipped and set(clipped) == {5.0}


def test_one_cycle_rates_follow_torchs_one_cycle_schedule_and_the_backbone_its_own_peak():
    steps, peak = 23, 9e-3
    reference = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=peak)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(reference, max_lr=peak, total_steps=steps)
    expected = []
    for _ in range(steps):
        expected.append(reference.param_groups[0]["lr"])
        reference.step()
        scheduler.step()
    schedule = Schedule(lr=peak, backbone_lr=peak / 10, one_cycle=True)
    rates = [schedule.rates(step, 0, steps) for step in range(steps)]
    assert [rate[HEAD] for rate in rates] == pytest.approx(expected, rel=1e-9)
    assert [rate[BACKBONE] for rate in rates] == pytest.approx([rate / 10 for rate in expected], rel=1e-9)
    with pytest.raises(ValueError, match="total_steps"):
        schedule.rates(0, 0)
    with pytest.raises(ValueError, match="warmup_steps"):
        Schedule(lr=peak, warmup_steps=3, one_cycle=True)


def test_the_cli_trains_on_the_one_cycle_schedule_and_refuses_it_with_a_warm_up(bundle, tmp_path, monkeypatch, capsys):  # noqa: F811
    head, train, val, config = _head_and_clips(bundle, tmp_path, "--epochs", "2", "--one-cycle", "--lr", "4e-3")
    assert config.one_cycle and config.schedule.one_cycle
    seen = []
    monkeypatch.setattr("codephys_plugin.training.stage2.set_rates", lambda optimizer, rates: seen.append(rates[HEAD]))
    train_stage2(head, train, val, config)
    assert seen == [config.schedule.rates(step, 0, len(seen))[HEAD] for step in range(len(seen))], "over the whole run"
    assert seen[0] == pytest.approx(4e-3 / 25) and seen[-1] < 4e-3 / 1000 < max(seen)
    from codephys_plugin import train as cli
    with pytest.raises(SystemExit):
        cli.main(tiny_args(bundle, tmp_path / "refused", "--one-cycle", "--warmup-steps", "3"))
    assert "--one-cycle warms up by itself" in capsys.readouterr().err
