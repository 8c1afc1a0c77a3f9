"""Adapters on every network at its working input size: shapes, gradients, heads not run, clear errors."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import pytest
import torch
from torch import nn

from codephys_plugin.adapters import (
    SSPD,
    SSPDL3,
    DeepPhys,
    DeepPhysAdapter,
    EfficientPhys,
    EfficientPhysAdapter,
    PhysFormer,
    PhysFormerAdapter,
    PhysNet,
    PhysNetAdapter,
    SSPDAdapter,
    adapter_for,
)
from codephys_plugin.adapters.feature_map import FeatureMap


@dataclass(frozen=True)
class NetCase:
    build: Callable[[int], nn.Module]  # steps -> network
    adapter: type
    size: int  # working frame size
    channels: int  # feature channels
    spatial: tuple[int, int]
    first_layer: str  # a parameter the gradient must reach


CASES = {
    "deepphys": NetCase(lambda t: DeepPhys(img_size=72), DeepPhysAdapter, 72, 64, (16, 16), "motion_conv1.weight"),
    "efficientphys": NetCase(
        lambda t: EfficientPhys(img_size=72, frame_depth=10), EfficientPhysAdapter, 72, 64, (16, 16), "motion_conv1.weight"
    ),
    "physformer": NetCase(
        lambda t: PhysFormer(image_size=(t, 128, 128)), PhysFormerAdapter, 128, 48, (4, 4), "Stem0.0.weight"
    ),
    "physnet": NetCase(lambda t: PhysNet(frames=t), PhysNetAdapter, 72, 64, (4, 4), "ConvBlock1.0.weight"),
    "sspd": NetCase(lambda t: SSPD(), SSPDAdapter, 128, 256, (8, 8), "backbone_step1.Conv_Layer1.weight"),
    "sspdl3": NetCase(lambda t: SSPDL3(), SSPDAdapter, 128, 256, (8, 8), "backbone_step1.Conv_Layer1.weight"),
}


def raw_frames(steps: int, size: int, batch: int = 2, seed: int = 0) -> torch.Tensor:
    """'b (t+1) 3 h w' frames in pixel units with a faint 1.2 Hz pulse at 30 fps, as cameras record skin."""
    generator = torch.Generator().manual_seed(seed)
    time = torch.arange(steps + 1) / 30.0
    pulse = 2.0 * torch.sin(2 * torch.pi * 1.2 * time)[None, :, None, None, None]
    base = 100 + 50 * torch.rand(batch, 1, 3, size, size, generator=generator)
    noise = torch.randn(batch, steps + 1, 3, size, size, generator=generator)
    return (base + pulse + noise).clamp(0, 255)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(CASES))
def test_feature_shapes_at_the_working_input_size(name):
    case, steps = CASES[name], 160
    adapter = adapter_for(case.build(steps).eval())
    assert type(adapter) is case.adapter
    inputs = adapter.prepare(raw_frames(steps, case.size, batch=1))
    with torch.no_grad():
        features = adapter(inputs)
        rppg = adapter.rppg(inputs)
    assert features.temporal.shape == (1, case.channels, steps)
    assert features.spatial.shape == (1, case.channels, steps, *case.spatial)
    assert torch.allclose(features.temporal, features.spatial.mean(dim=(3, 4)), atol=1e-5)
    assert rppg.shape == (1, steps)


SMALL_STEPS = {"efficientphys": 10, "sspdl3": 20}


def small_case(name: str) -> tuple[nn.Module, object, torch.Tensor]:
    case, steps = CASES[name], SMALL_STEPS.get(name, 8)
    model = case.build(steps)
    adapter = adapter_for(model)
    return model, adapter, adapter.prepare(raw_frames(steps, case.size))


@pytest.mark.parametrize("name", sorted(CASES))
def test_gradients_reach_the_backbone_and_the_head_never_runs(name):
    model, adapter, inputs = small_case(name)
    ran = []
    for module_name in adapter.head_modules:
        getattr(model, module_name).register_forward_hook(lambda *_, n=module_name: ran.append(n))
    features = adapter(inputs)
    (features.spatial.square().mean() + features.temporal.mean()).backward()
    assert ran == []
    gradient = dict(model.named_parameters())[CASES[name].first_layer].grad
    assert gradient is not None and gradient.abs().sum() > 0


@pytest.mark.parametrize("name", sorted(CASES))
def test_the_head_runs_in_rppg_and_matches_the_networks_own_forward(name):
    model, adapter, inputs = small_case(name)
    model.eval()
    with torch.no_grad():
        ours = adapter.rppg(inputs)
        if name in ("deepphys",):
            own = model(inputs.flatten(0, 1)).reshape(inputs.shape[:2])
        elif name == "efficientphys":
            own = torch.stack([model(clip)[:, 0] for clip in inputs])
        elif name == "physformer":
            own = model(inputs)[0]
        elif name == "physnet":
            own = model(inputs)[0]
        elif name == "sspdl3":
            own = model(inputs)[1]
        else:
            own = model(inputs)
    torch.testing.assert_close(ours, own)


def test_efficientphys_differences_are_taken_per_clip_not_across_clips():
    model, adapter, inputs = small_case("efficientphys")
    model.eval()
    with torch.no_grad():
        batched = adapter(inputs).temporal
        one_by_one = torch.cat([adapter(clip[None]).temporal for clip in inputs])
    torch.testing.assert_close(batched, one_by_one)


def test_sspd_adapter_does_not_detach_while_the_public_forward_does():
    model, adapter, inputs = small_case("sspd")
    adapter.rppg(inputs).sum().backward()
    assert model.backbone_step1.Conv_Layer1.weight.grad.abs().sum() > 0
    model.zero_grad(set_to_none=True)
    model(inputs).sum().backward()
    assert model.backbone_step1.Conv_Layer1.weight.grad is None


def test_physformer_tokens_level_gives_quarter_rate_tokens_without_the_upsamplers():
    model = PhysFormer(image_size=(8, 128, 128))
    adapter = PhysFormerAdapter(model, level="tokens")
    ran = []
    for name in ("upsample", "upsample2", "ConvBlockLast"):
        getattr(model, name).register_forward_hook(lambda *_, n=name: ran.append(n))
    features = adapter(adapter.prepare(raw_frames(8, 128, batch=1)))
    assert (features.spatial.shape, features.time_stride, ran) == ((1, 96, 2, 4, 4), 4, [])


@pytest.mark.parametrize(
    ("name", "shape", "message"),
    [
        ("physformer", (1, 3, 8, 72, 72), "128"),
        ("physformer", (1, 3, 10, 128, 128), "divisible by 4"),
        ("sspd", (1, 3, 8, 72, 72), "128"),
        ("sspd", (1, 3, 7, 128, 128), "even"),
        ("physnet", (1, 3, 10, 72, 72), "divisible by 4"),
        ("deepphys", (1, 8, 6, 36, 36), "h=72"),
        ("efficientphys", (1, 12, 3, 72, 72), "multiple of frame_depth=10"),
    ],
)
def test_wrong_input_sizes_raise_clear_errors(name, shape, message):
    _, adapter, _ = small_case(name)
    with pytest.raises(ValueError, match=message):
        adapter(torch.randn(shape))


def test_frames_are_validated():
    adapter = adapter_for(PhysNet(frames=8))
    with pytest.raises(ValueError, match="frames.*b t c h w"):
        adapter.prepare(torch.rand(2, 9, 72, 72))
    with pytest.raises(ValueError, match="at least 2 frames"):
        adapter.prepare(torch.rand(1, 1, 3, 72, 72))
    bad = raw_frames(8, 72)
    bad[0, 3, 1, 5, 5] = float("nan")
    with pytest.raises(ValueError, match="non-finite"):
        adapter.prepare(bad)


@pytest.mark.parametrize("name", sorted(CASES))
def test_prepare_takes_numpy_frames_as_video_readers_give_them(name):
    _, adapter, _ = small_case(name)
    frames = raw_frames(SMALL_STEPS.get(name, 8), CASES[name].size, batch=1).round().to(torch.uint8)
    channels_last = frames[0].permute(0, 2, 3, 1).numpy()
    expected = adapter.prepare(frames)
    assert torch.equal(adapter.prepare(channels_last), expected)
    assert torch.equal(adapter.prepare(channels_last[None]), expected)


def test_numpy_frames_in_another_layout_are_refused_with_the_layouts():
    adapter = adapter_for(PhysNet(frames=8))
    with pytest.raises(ValueError, match=r"'t h w c' or 'b t h w c' with c = 3, got shape \(9, 3, 72, 72\)"):
        adapter.prepare(np.zeros((9, 3, 72, 72), dtype=np.uint8))


def test_physnet_fed_another_length_than_it_was_built_for_says_how_to_build_it():
    adapter = adapter_for(PhysNet(frames=16))
    with pytest.raises(ValueError, match=r"built with frames=16 but given T=8.*PhysNet\(frames=8\).*same checkpoint loads"):
        adapter.rppg(adapter.prepare(raw_frames(8, 72, batch=1)))


def test_recipes_give_the_input_each_network_was_trained_on():
    frames = raw_frames(8, 72)
    deepphys = adapter_for(DeepPhys(img_size=72)).prepare(frames)
    assert deepphys.shape == (2, 8, 6, 72, 72)
    torch.testing.assert_close(deepphys[:, :, :3].std(dim=(1, 2, 3, 4)), torch.ones(2), rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(deepphys[:, :, 3:].mean(dim=(1, 2, 3, 4)), torch.zeros(2), rtol=0, atol=1e-4)
    residuals = adapter_for(SSPD()).prepare(raw_frames(8, 128))
    expected = raw_frames(8, 128)[:, 1:, [2, 1, 0]] - raw_frames(8, 128)[:, :-1, [2, 1, 0]]
    torch.testing.assert_close(residuals, expected.permute(0, 2, 1, 3, 4))
    uint8 = adapter_for(PhysNet(frames=8)).prepare(frames.to(torch.uint8))
    assert uint8.dtype == torch.float32 and torch.isfinite(uint8).all()


def test_a_flat_clip_gives_zeros_not_nans():
    flat = torch.full((1, 9, 3, 72, 72), 120.0)
    prepared = adapter_for(DeepPhys(img_size=72)).prepare(flat)
    assert torch.count_nonzero(prepared) == 0


def test_adapter_for_recognises_structure_not_class():
    ours = PhysNet(frames=8)
    foreign = nn.Module()
    for name, child in ours.named_children():
        foreign.add_module(name, child)
    adapter = adapter_for(foreign)
    assert isinstance(adapter, PhysNetAdapter)
    inputs = adapter.prepare(raw_frames(8, 72))
    torch.testing.assert_close(adapter(inputs).spatial, adapter_for(ours)(inputs).spatial)


def test_adapter_for_still_recognises_a_network_whose_head_was_stripped():
    model = DeepPhys(img_size=72)
    model.reset_classifier(0)
    adapter = adapter_for(nn.DataParallel(model))
    assert isinstance(adapter, DeepPhysAdapter) and adapter.model is model
    assert adapter(adapter.prepare(raw_frames(4, 72))).spatial.shape == (2, 64, 4, 16, 16)


def test_adapter_for_rejects_an_unknown_network_and_names_the_fallbacks():
    with pytest.raises(ValueError, match="HookAdapter.*SignalAdapter"):
        adapter_for(nn.Sequential(nn.Conv3d(3, 4, 3)))


def test_feature_map_checks_agreement():
    with pytest.raises(ValueError, match="disagree"):
        FeatureMap(temporal=torch.zeros(1, 4, 8), spatial=torch.zeros(1, 4, 6, 2, 2), time_stride=1, layer="x")
