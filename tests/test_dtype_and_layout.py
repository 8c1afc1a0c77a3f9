"""A layout that swaps time and channels, or a dtype the weights do not have, is caught at the boundary."""

import pytest
import timm
import torch
from torch import nn

import codephys_plugin.adapters  # noqa: F401  (registers the networks with timm)
from codephys_plugin.adapters import HookAdapter
from codephys_plugin.code_query_head import CodeQueryHead
from tests.test_code_query_head import STEPS, TinyVideoNet, small_bundle


class SquareNet(nn.Module):
    """A Conv3d body with as many channels as frames: shape alone cannot tell 'b c t' from 'b t c'."""

    def __init__(self, frames: int) -> None:
        super().__init__()
        self.body = nn.Conv3d(3, frames, 3, padding=1)
        self.custom = Permuted(frames)

    def forward(self, x):
        return self.custom(self.body(x))


class Permuted(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.out_channels = channels

    def forward(self, x):
        return x.transpose(1, 2)


def test_a_pytorch_layer_fixes_the_layout_even_when_channels_equal_frames():
    net = SquareNet(frames=8)
    with pytest.raises(ValueError, match=r"layer 'body' is a Conv3d, whose output is \(b c t h w\) .* would mix up"):
        HookAdapter(net, layer="body", layout="b t c h w")
    features = HookAdapter(net, layer="body", layout="b c t h w")(torch.randn(1, 3, 8, 6, 6))
    assert features.spatial.shape == (1, 8, 8, 6, 6)
    sequential = nn.Sequential(nn.Conv3d(3, 8, 1), nn.BatchNorm3d(8), nn.ReLU())
    with pytest.raises(ValueError, match="is a BatchNorm3d"):
        HookAdapter(nn.Sequential(sequential), layer="0", layout="b t c h w")


def test_a_custom_layer_is_trusted_but_its_channel_count_is_checked():
    net = SquareNet(frames=8)
    assert HookAdapter(net, layer="custom", layout="b t c h w")(torch.randn(1, 3, 8, 6, 6)).spatial.shape == (1, 8, 8, 6, 6)
    with pytest.raises(ValueError, match=r"output of 'custom' has 6 at the c axis .* gives 8 channels; is the layout right"):
        HookAdapter(net, layer="custom", layout="b c t h w")(torch.randn(1, 3, 6, 6, 6))


NETWORKS = {
    "deepphys": (dict(img_size=36), (2, 6, 36, 36)),
    "efficientphys": (dict(img_size=36, frame_depth=4), (5, 3, 36, 36)),
    "physnet": (dict(frames=32), (1, 3, 32, 32, 32)),
    "physformer": (dict(num_frames=32), (1, 3, 32, 128, 128)),
    "sspd": ({}, (1, 3, 8, 128, 128)),
}


@pytest.mark.parametrize("name", sorted(NETWORKS))
def test_networks_name_the_dtype_their_weights_need(name):
    kwargs, shape = NETWORKS[name]
    net = timm.create_model(name, **kwargs).eval()
    with pytest.raises(ValueError, match=r"expected dtype torch.float32, that of the network's weights; got torch.float64"):
        net(torch.rand(*shape, dtype=torch.float64))


def test_the_head_and_the_autoencoder_cast_float64_at_their_boundary():
    bundle = small_bundle()
    signal = torch.randn(2, bundle.config.window, dtype=torch.float64)
    torch.testing.assert_close(bundle.model(signal).reconstruction, bundle.model(signal.float()).reconstruction)
    head = CodeQueryHead(HookAdapter(TinyVideoNet(), layer="body"), codebook=bundle).eval()
    clips = torch.randn(2, 3, STEPS, 8, 8, dtype=torch.float64)
    with torch.no_grad():
        torch.testing.assert_close(head(clips).rppg, head(clips.float()).rppg)


def test_labels_take_the_heads_precision_never_below_float32():
    """A float32 head reads float64 labels as float32; a float64 head (the CUDA test's reference) feeds them to
    its float64 target encoder as they are (a float32 label failed there), its loss terms cast to float32 as always."""
    clips = torch.randn(2, 3, STEPS, 8, 8)
    label = torch.randn(2, STEPS, dtype=torch.float64)
    head = CodeQueryHead(HookAdapter(TinyVideoNet(), layer="body"), codebook=small_bundle()).eval()
    output = head(clips)
    losses = head.loss(output, label)
    torch.testing.assert_close(losses.total, head.loss(output, label.float()).total)
    exact = head.double()
    assert exact.label_codes(label).shape == (2, STEPS // 4)
    torch.testing.assert_close(exact.loss(exact(clips.double()), label).total, losses.total, rtol=1e-4, atol=1e-5)
