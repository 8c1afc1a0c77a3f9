"""Stage II building blocks (Eqs. 7-10): TDC, deformable conv, SAM, E_vf, AdaIN, the prior branch."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from codephys_plugin.adapters.networks import physformer
from codephys_plugin.encoder import SignalCoderConfig, SignalEncoder
from codephys_plugin.encoder.adain import adain
from codephys_plugin.encoder.deformable import DeformableConv3d
from codephys_plugin.encoder.prior_branch import AuxiliaryPriorBranch, fuse
from codephys_plugin.encoder.temporal_difference import TemporalDifferenceConv
from codephys_plugin.encoder.video_encoder import VideoEncoder, VideoEncoderConfig
from codephys_plugin.features import SpatialAttention


def _reference_tdc(x, weight, theta, stride):
    """The public CDC_T written out: conv minus theta × (outer-tap weights applied to the centre frame)."""
    plain = F.conv3d(x, weight, stride=stride, padding=1)
    centre = x[:, :, :: stride[0], :: stride[1], :: stride[2]]
    return plain - theta * torch.einsum("oc,bcthw->bothw", weight[:, :, [0, 2]].sum(dim=(2, 3, 4)), centre)


# --- temporal difference conv ---------------------------------------------------------------------


def test_physformer_uses_the_moved_temporal_difference_conv():
    assert physformer.TemporalDifferenceConv is TemporalDifferenceConv


@pytest.mark.parametrize("stride", [(1, 1, 1), (2, 1, 1)])
@pytest.mark.parametrize("frames", [4, 5])
def test_temporal_difference_conv_matches_the_written_out_formula(generator, stride, frames):
    layer = TemporalDifferenceConv(3, 4, 3, stride=stride, padding=1, theta=0.7).double()
    x = torch.randn(2, 3, frames, 5, 5, generator=generator, dtype=torch.float64)
    out = layer(x)
    assert out.shape == (2, 4, -(-frames // stride[0]), 5, 5)
    torch.testing.assert_close(out, _reference_tdc(x, layer.conv.weight, 0.7, stride))


def test_temporal_difference_conv_at_theta_zero_is_a_plain_conv(generator):
    layer = TemporalDifferenceConv(2, 3, theta=0.0)
    x = torch.randn(1, 2, 4, 3, 3, generator=generator)
    torch.testing.assert_close(layer(x), layer.conv(x))


# --- deformable conv ------------------------------------------------------------------------------


@pytest.mark.parametrize("stride", [1, 2])
@pytest.mark.parametrize("frames", [4, 5])
def test_deformable_conv_with_zero_offsets_is_conv3d(generator, stride, frames):
    layer = DeformableConv3d(3, 4, temporal_stride=stride).double()
    x = torch.randn(2, 3, frames, 6, 5, generator=generator, dtype=torch.float64)
    out = layer(x)
    expected = F.conv3d(x, layer.weight, layer.bias, stride=(stride, 1, 1), padding=1)
    assert out.shape == expected.shape == (2, 4, -(-frames // stride), 6, 5)
    torch.testing.assert_close(out, expected)


def test_non_zero_offsets_change_the_output(generator):
    layer = DeformableConv3d(2, 3).double()
    x = torch.randn(1, 2, 4, 5, 5, generator=generator, dtype=torch.float64)
    plain = layer(x)
    with torch.no_grad():
        layer.offset.bias.fill_(0.4)
    assert not torch.allclose(layer(x), plain)


def test_offsets_of_one_tap_only_move_that_tap(generator):
    layer = DeformableConv3d(2, 3).double()
    x = torch.randn(1, 2, 4, 5, 5, generator=generator, dtype=torch.float64)
    with torch.no_grad():
        layer.offset.bias[18:36] = 1.0  # every (dy, dx) of the centre tap: read one pixel down and right
    frames = F.pad(x, (1, 1, 1, 1, 1, 1))
    previous, following = frames[:, :, :-2], frames[:, :, 2:]
    shifted = F.pad(x, (1, 2, 1, 2))[:, :, :, 1:, 1:]  # the centre tap's 3×3 window, one pixel down-right
    weight, bias = layer.weight.detach(), layer.bias.detach()
    expected = sum(
        F.conv3d(frame, weight[:, :, [tap]]) for tap, frame in enumerate((previous, shifted, following))
    ) + bias[:, None, None, None]
    torch.testing.assert_close(layer(x), expected)


def test_gradients_reach_the_offset_predictor(generator):
    layer = DeformableConv3d(2, 3, temporal_stride=2)
    layer(torch.randn(2, 2, 5, 4, 4, generator=generator)).square().sum().backward()
    for parameter in (layer.offset.weight, layer.offset.bias, layer.weight, layer.bias):
        assert parameter.grad is not None and parameter.grad.abs().sum() > 0
    assert layer.motion.weight.grad is not None  # zero until the offset layer leaves its zero start


def test_motion_filter_learns_once_offsets_are_non_zero(generator):
    layer = DeformableConv3d(2, 3, temporal_stride=2)
    with torch.no_grad():
        layer.offset.weight.normal_(std=0.1, generator=generator)
    layer(torch.randn(2, 2, 5, 4, 4, generator=generator)).square().sum().backward()
    assert layer.motion.weight.grad.abs().sum() > 0


@pytest.mark.parametrize("size", [1, 2, 4])
@pytest.mark.parametrize("frames", [1, 3, 7])
def test_deformable_conv_runs_on_tiny_maps_and_odd_lengths(generator, size, frames):
    layer = DeformableConv3d(2, 3, temporal_stride=2).double()
    with torch.no_grad():
        layer.offset.bias.normal_(generator=generator)
    out = layer(torch.randn(1, 2, frames, size, size, generator=generator, dtype=torch.float64))
    assert out.shape == (1, 3, -(-frames // 2), size, size)
    assert torch.isfinite(out).all()


def test_deformable_conv_on_a_1x1_map_starts_as_its_centre_tap(generator):
    layer = DeformableConv3d(2, 3).double()
    x = torch.randn(2, 2, 6, 1, 1, generator=generator, dtype=torch.float64)
    centre = F.conv1d(x[..., 0, 0], layer.weight[:, :, :, 1, 1], layer.bias, padding=1)
    torch.testing.assert_close(layer(x)[..., 0, 0], centre)


def test_deformable_conv_rejects_the_wrong_channel_count():
    with pytest.raises(ValueError, match=r"DeformableConv3d input.*c=3"):
        DeformableConv3d(3, 4)(torch.randn(1, 2, 4, 4, 4))


# --- spatial attention ----------------------------------------------------------------------------


def test_spatial_attention_shapes_range_and_broadcast(generator):
    sam = SpatialAttention(4)
    features = torch.randn(2, 4, 6, 5, 3, generator=generator)
    attended, weights = sam(features)
    assert attended.shape == features.shape
    assert weights.shape == (2, 5, 3)
    assert ((weights > 0) & (weights < 1)).all()
    torch.testing.assert_close(attended, features * weights[:, None, None])


def test_spatial_attention_pools_max_and_mean_over_time(generator):
    sam = SpatialAttention(2)
    features = torch.randn(1, 2, 5, 4, 4, generator=generator)
    pooled = torch.cat([features.amax(dim=2), features.mean(dim=2)], dim=1)
    torch.testing.assert_close(sam(features)[1], torch.sigmoid(sam.conv(pooled))[:, 0])


def test_spatial_attention_passes_gradients(generator):
    sam = SpatialAttention(3)
    features = torch.randn(1, 3, 4, 4, 4, generator=generator, requires_grad=True)
    attended, _ = sam(features)
    attended.sum().backward()
    assert features.grad.abs().sum() > 0
    assert sam.conv.weight.grad.abs().sum() > 0


def test_spatial_attention_rejects_bad_layouts():
    with pytest.raises(ValueError, match=r"b c t h w"):
        SpatialAttention(3)(torch.randn(1, 3, 4, 4))
    with pytest.raises(ValueError, match=r"c=3"):
        SpatialAttention(3)(torch.randn(1, 2, 4, 4, 4))


# --- AdaIN ----------------------------------------------------------------------------------------


def test_adain_gives_content_the_style_statistics(generator):
    content = 3 * torch.randn(2, 4, 10, generator=generator, dtype=torch.float64) + 1
    style = 0.5 * torch.randn(2, 4, 7, generator=generator, dtype=torch.float64) - 2
    out = adain(content, style, eps=1e-12)
    assert out.shape == content.shape
    torch.testing.assert_close(out.mean(dim=2), style.mean(dim=2))
    torch.testing.assert_close(out.std(dim=2, correction=0), style.std(dim=2, correction=0))


def test_adain_keeps_content_order_within_a_channel(generator):
    content = torch.randn(1, 2, 8, generator=generator)
    out = adain(content, torch.randn(1, 2, 8, generator=generator))
    assert torch.equal(out.argsort(dim=2), content.argsort(dim=2))


def test_adain_of_constant_content_is_the_style_mean(generator):
    content = torch.full((2, 3, 5), 4.0, requires_grad=True)
    style = torch.randn(2, 3, 5, generator=generator)
    out = adain(content, style)
    torch.testing.assert_close(out, style.mean(dim=2, keepdim=True).expand_as(out))
    out.sum().backward()
    assert torch.isfinite(content.grad).all()


@pytest.mark.parametrize(
    "content, style, message",
    [
        (torch.randn(2, 4), torch.randn(2, 4, 5), r"adain content: expected shape \(b d m\)"),
        (torch.randn(2, 4, 5), torch.randn(2, 3, 5), r"adain style: .*d=4"),
        (torch.randn(2, 4, 5), torch.randn(1, 4, 5), r"adain style: .*b=2"),
        (torch.full((1, 2, 3), float("nan")), torch.randn(1, 2, 3), "non-finite"),
    ],
)
def test_adain_validates_shapes(content, style, message):
    with pytest.raises(ValueError, match=message):
        adain(content, style)


# --- E_vf -----------------------------------------------------------------------------------------


def small_video_config(channels, **kwargs):
    return VideoEncoderConfig(channels=channels, dim=8, **kwargs)


def test_video_encoder_defaults_follow_the_paper():
    config = VideoEncoderConfig(channels=48)
    assert (config.dim, config.hidden_width, config.time_reduction, config.theta) == (64, 128, 4, 0.7)


def test_video_encoder_turns_frame_rate_maps_into_t_over_4_tokens(generator):
    encoder = VideoEncoder(VideoEncoderConfig(channels=48))
    tokens = encoder(torch.randn(2, 48, 16, 4, 4, generator=generator))
    assert tokens.shape == (2, 64, 4)


def test_video_encoder_takes_features_without_spatial_axes(generator):
    encoder = VideoEncoder(VideoEncoderConfig(channels=1))
    assert encoder(torch.randn(2, 1, 16, generator=generator)).shape == (2, 64, 4)


def test_spatially_pooled_features_are_a_1x1_map(generator):
    encoder = VideoEncoder(small_video_config(3))
    with torch.no_grad():
        for stage in encoder.stages:
            stage.deform.offset.bias.normal_(generator=generator)
    features = torch.randn(2, 3, 8, generator=generator)
    torch.testing.assert_close(encoder(features), encoder(features[..., None, None]))


@pytest.mark.parametrize("reduction, frames", [(1, 5), (2, 8), (4, 8)])
def test_video_encoder_time_reduction(generator, reduction, frames):
    encoder = VideoEncoder(small_video_config(3, time_reduction=reduction))
    tokens = encoder(torch.randn(1, 3, frames, 3, 3, generator=generator))
    assert tokens.shape == (1, 8, frames // reduction)


@pytest.mark.parametrize("reduction, strides", [(4, [2, 2, 1]), (2, [2, 1, 1]), (1, [1, 1, 1])])
def test_video_encoder_strides_the_early_stages(reduction, strides):
    stages = VideoEncoder(small_video_config(2, time_reduction=reduction)).stages
    assert [stage.deform.temporal_stride for stage in stages] == strides
    assert [stage.difference.conv.stride[0] for stage in stages] == strides
    assert [stage.deform.motion.stride[0] for stage in stages] == strides


def test_video_encoder_pools_large_maps_to_its_grid(generator):
    encoder = VideoEncoder(small_video_config(3, grid=2)).double()
    seen = []
    encoder.stages[0].register_forward_pre_hook(lambda module, args: seen.append(args[0].shape))
    features = torch.randn(1, 3, 8, 4, 6, generator=generator, dtype=torch.float64)
    pooled = F.avg_pool3d(features, (1, 2, 3))
    torch.testing.assert_close(encoder(features), encoder(pooled))
    assert seen == [(1, 3, 8, 2, 2), (1, 3, 8, 2, 2)]
    encoder(torch.randn(1, 3, 8, 1, 2, generator=generator, dtype=torch.float64))
    assert seen[-1] == (1, 3, 8, 1, 2)


def test_video_encoder_without_a_grid_keeps_every_position(generator):
    encoder = VideoEncoder(small_video_config(3, grid=None))
    seen = []
    encoder.stages[0].register_forward_pre_hook(lambda module, args: seen.append(args[0].shape))
    encoder(torch.randn(1, 3, 8, 9, 7, generator=generator))
    assert seen == [(1, 3, 8, 9, 7)]


def test_video_encoder_errors():
    encoder = VideoEncoder(small_video_config(3))
    with pytest.raises(ValueError, match=r"VideoEncoder features.*c=3"):
        encoder(torch.randn(1, 2, 8, 4, 4))
    with pytest.raises(ValueError, match=r"VideoEncoder features.*c=3"):
        encoder(torch.randn(1, 2, 8))
    with pytest.raises(ValueError, match="divisible by time_reduction=4"):
        encoder(torch.randn(1, 3, 10, 4, 4))
    with pytest.raises(ValueError, match=r"b c t h w"):
        encoder(torch.randn(1, 3, 8, 4))
    with pytest.raises(ValueError, match="time_reduction"):
        VideoEncoderConfig(channels=3, time_reduction=3)
    with pytest.raises(ValueError, match="grid=0"):
        VideoEncoderConfig(channels=3, grid=0)


def test_gradients_reach_every_video_encoder_parameter(generator):
    encoder = VideoEncoder(small_video_config(3))
    with torch.no_grad():  # off its zero start, the offset layer passes gradient back to the motion filter
        for stage in encoder.stages:
            stage.deform.offset.weight.normal_(std=0.1, generator=generator)
    encoder(torch.randn(2, 3, 8, 4, 4, generator=generator)).square().sum().backward()
    missing = [name for name, p in encoder.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert not missing


# --- auxiliary prior branch and fusion ------------------------------------------------------------


@pytest.fixture
def signal_encoder():
    return SignalEncoder(SignalCoderConfig(dim=8))


def test_prior_branch_copy_is_independent_of_the_original(generator, signal_encoder):
    signal_encoder.requires_grad_(False)
    before = {name: p.clone() for name, p in signal_encoder.state_dict().items()}
    branch = AuxiliaryPriorBranch(3, signal_encoder)
    assert all(p.requires_grad for p in branch.parameters())
    assert not {id(p) for p in branch.encoder.parameters()} & {id(p) for p in signal_encoder.parameters()}
    optimiser = torch.optim.SGD(branch.parameters(), lr=0.1)
    tokens, _ = branch(torch.randn(2, 3, 8, 2, 2, generator=generator))
    tokens.square().sum().backward()
    optimiser.step()
    assert any(not torch.equal(p, before[n]) for n, p in branch.encoder.state_dict().items())
    for name, p in signal_encoder.state_dict().items():
        assert torch.equal(p, before[name]), name
    assert not any(p.requires_grad for p in signal_encoder.parameters())


@pytest.mark.parametrize(
    "shape, reduction, tokens, samples",
    [((2, 3, 16, 4, 4), 4, 4, 16), ((2, 3, 16), 4, 4, 16), ((2, 3, 4, 4, 4), 1, 4, 16), ((2, 3, 8, 2, 2), 2, 4, 16)],
)
def test_prior_branch_shapes(generator, signal_encoder, shape, reduction, tokens, samples):
    branch = AuxiliaryPriorBranch(3, signal_encoder, time_reduction=reduction)
    prior, pseudo = branch(torch.randn(*shape, generator=generator))
    assert prior.shape == (2, 8, tokens)
    assert pseudo.shape == (2, samples)
    torch.testing.assert_close(pseudo.mean(dim=1), torch.zeros(2), atol=1e-5, rtol=0)
    torch.testing.assert_close(pseudo.std(dim=1, correction=0), torch.ones(2), atol=1e-4, rtol=0)


def test_prior_branch_pools_space_then_projects_channels(generator, signal_encoder):
    branch = AuxiliaryPriorBranch(3, signal_encoder)
    features = torch.randn(1, 3, 8, 4, 4, generator=generator)
    raw = branch.project(features.mean(dim=(3, 4)))[:, 0]
    expected = (raw - raw.mean()) / raw.std(correction=0)
    torch.testing.assert_close(branch.pseudo_signal(features), expected)


def test_constant_features_give_finite_tokens_and_gradients(signal_encoder):
    branch = AuxiliaryPriorBranch(3, signal_encoder)
    features = torch.full((2, 3, 8, 2, 2), 0.5, requires_grad=True)
    tokens, pseudo = branch(features)
    assert torch.equal(pseudo, torch.zeros_like(pseudo))
    assert torch.isfinite(tokens).all()
    tokens.sum().backward()
    assert all(torch.isfinite(p.grad).all() for p in branch.parameters() if p.grad is not None)


def test_prior_branch_errors(signal_encoder):
    branch = AuxiliaryPriorBranch(3, signal_encoder)
    with pytest.raises(ValueError, match=r"AuxiliaryPriorBranch features.*c=3"):
        branch(torch.randn(1, 2, 8, 4, 4))
    with pytest.raises(ValueError, match="divisible by time_reduction=4"):
        branch(torch.randn(1, 3, 10))
    with pytest.raises(ValueError, match="SignalEncoder"):
        AuxiliaryPriorBranch(3, torch.nn.Linear(2, 2))
    with pytest.raises(ValueError, match="time_reduction"):
        AuxiliaryPriorBranch(3, signal_encoder, time_reduction=3)


def test_fuse_is_adain_plus_prior(generator):
    encoder_tokens = torch.randn(2, 4, 5, generator=generator)
    prior_tokens = torch.randn(2, 4, 5, generator=generator)
    torch.testing.assert_close(fuse(encoder_tokens, prior_tokens), adain(encoder_tokens, prior_tokens) + prior_tokens)
    with pytest.raises(ValueError, match=r"fuse prior_tokens.*m=5"):
        fuse(encoder_tokens, prior_tokens[..., :4])


def test_stage2_blocks_compose(generator, signal_encoder):
    features = torch.randn(2, 6, 8, 4, 4, generator=generator)
    attended, _ = SpatialAttention(6)(features)
    encoded = VideoEncoder(small_video_config(6))(attended)
    prior, _ = AuxiliaryPriorBranch(6, signal_encoder)(attended)
    assert fuse(encoded, prior).shape == (2, 8, 2)
