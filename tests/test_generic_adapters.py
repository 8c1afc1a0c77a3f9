"""HookAdapter and SignalAdapter on a small custom network, and the SignalAdapter on public-style nets."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from codephys_plugin.adapters import DeepPhys, HookAdapter, PhysNet, SignalAdapter


class TinyVideoNet(nn.Module):
    """A lab's own model: a 3-D conv body, a spatial pool, a head; returns (rppg, body features)."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv3d(3, 8, 3, padding=1), nn.ReLU())
        self.pool = nn.AdaptiveAvgPool3d((None, 1, 1))
        self.head = nn.Conv1d(8, 1, 1)

    def forward(self, x: torch.Tensor):
        features = self.body(x)
        return self.head(self.pool(features).flatten(2)).squeeze(1), features


class TinyFrameNet(nn.Module):
    """A per-frame 2-D model on a '(b t) c h w' batch, giving '(b t) 1'."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Conv2d(3, 4, 3, padding=1)
        self.head = nn.Linear(4, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x).mean(dim=(2, 3)))


def record_calls(module: nn.Module) -> list[str]:
    calls: list[str] = []
    module.register_forward_hook(lambda *_: calls.append("ran"))
    return calls


def test_hook_adapter_takes_spatial_features_and_skips_the_head():
    model = TinyVideoNet()
    head_calls = record_calls(model.head)
    features = HookAdapter(model, layer="body", layout="b c t h w")(torch.randn(2, 3, 8, 6, 6))
    assert features.spatial.shape == (2, 8, 8, 6, 6) and features.temporal.shape == (2, 8, 8)
    assert head_calls == [] and features.layer == "body"


def test_hook_adapter_without_stop_runs_the_whole_forward_and_ignores_its_result():
    model = TinyVideoNet()
    head_calls = record_calls(model.head)
    features = HookAdapter(model, layer="body", stop=False)(torch.randn(1, 3, 4, 6, 6))
    assert head_calls == ["ran"] and features.spatial.shape == (1, 8, 4, 6, 6)


def test_hook_adapter_gradients_reach_the_hooked_layers():
    model = TinyVideoNet()
    HookAdapter(model, layer="body")(torch.randn(1, 3, 4, 6, 6)).spatial.sum().backward()
    assert model.body[0].weight.grad.abs().sum() > 0


def test_hook_adapter_reads_per_frame_layouts_with_a_clip_length():
    model = TinyFrameNet()
    adapter = HookAdapter(model, layer="body", layout="(b t) c h w", clip_length=5)
    inputs = torch.randn(10, 3, 7, 7)
    features = adapter(inputs)
    assert features.spatial.shape == (2, 4, 5, 7, 7)
    second_clip_third_frame = model.body(inputs[7:8])[0]
    torch.testing.assert_close(features.spatial[1, :, 2], second_clip_third_frame)


def test_hook_adapter_picks_a_tuple_element_and_temporal_layouts():
    class TupleLayer(nn.Module):
        def forward(self, x):
            return x.mean(dim=(3, 4)), x

    model = nn.Sequential(nn.Conv3d(3, 6, 1), TupleLayer())
    features = HookAdapter(model, layer="1", layout="b c t", output_index=0)(torch.randn(2, 3, 4, 5, 5))
    assert features.spatial is None and features.temporal.shape == (2, 6, 4)
    with pytest.raises(ValueError, match="output_index"):
        HookAdapter(model, layer="1", layout="b c t")(torch.randn(2, 3, 4, 5, 5))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"layer": "neck"}, "has no submodule 'neck'"),
        ({"layer": "body", "layout": "b h w"}, "layout 'b h w'"),
        ({"layer": "body", "layout": "(b t) c h w"}, "clip_length"),
    ],
)
def test_hook_adapter_configuration_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        HookAdapter(TinyVideoNet(), **kwargs)


def test_hook_adapter_says_when_its_layer_did_not_run():
    class Skips(nn.Module):
        def __init__(self):
            super().__init__()
            self.unused = nn.Identity()

        def forward(self, x):
            return x

    with pytest.raises(RuntimeError, match="did not run"):
        HookAdapter(Skips(), layer="unused")(torch.randn(1, 3, 4, 2, 2))


def test_hook_adapter_has_no_rppg_and_says_which_adapter_has():
    with pytest.raises(NotImplementedError, match="SignalAdapter"):
        HookAdapter(TinyVideoNet(), layer="body").rppg(torch.randn(1, 3, 4, 6, 6))


def test_signal_adapter_turns_a_models_output_into_a_one_channel_feature():
    model = TinyVideoNet()
    inputs = torch.randn(2, 3, 8, 6, 6)
    features = SignalAdapter(model, output_index=0)(inputs)
    assert features.spatial is None and features.temporal.shape == (2, 1, 8)
    torch.testing.assert_close(features.temporal[:, 0], model(inputs)[0])


def test_signal_adapter_reads_per_frame_outputs():
    model = DeepPhys(img_size=36).eval()
    inputs = torch.randn(12, 6, 36, 36)
    adapter = SignalAdapter(model, layout="(b t)", clip_length=6)
    rppg = adapter.rppg(inputs)
    assert rppg.shape == (2, 6)
    torch.testing.assert_close(rppg.flatten(), model(inputs).flatten())


def test_signal_adapter_on_physnet_tuple_output():
    features = SignalAdapter(PhysNet(frames=8), output_index=0)(torch.randn(1, 3, 8, 32, 32))
    assert features.temporal.shape == (1, 1, 8)


def test_signal_adapter_errors():
    with pytest.raises(ValueError, match="layout must be one of"):
        SignalAdapter(TinyVideoNet(), layout="b c t")
    with pytest.raises(ValueError, match="pass output_index"):
        SignalAdapter(TinyVideoNet())(torch.randn(1, 3, 4, 6, 6))
    with pytest.raises(ValueError, match="not a multiple of clip_length"):
        SignalAdapter(TinyFrameNet(), layout="(b t)", clip_length=4)(torch.randn(6, 3, 5, 5))
