"""PhysFormer's boundaries: the frame size and clip length it can run, defaults that run (the public ones
crash), the public call sites' unused arguments, and the timm-style head strip."""

from __future__ import annotations

import pytest
import torch

from codephys_plugin.adapters.networks import PhysFormer
from codephys_plugin.adapters.networks.physformer import physformer_tokens


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return PhysFormer().eval()


def test_other_frame_sizes_are_rejected_with_the_size_it_needs(model):
    with pytest.raises(ValueError, match="PhysFormer needs 128×128 frames"):
        model(torch.randn(1, 3, 8, 72, 72))


def test_clip_lengths_not_divisible_by_4_are_rejected(model):
    with pytest.raises(ValueError, match="T divisible by 4"):
        model(torch.randn(1, 3, 6, 128, 128))


def test_inputs_must_have_three_channels(model):
    with pytest.raises(ValueError, match="c=3"):
        physformer_tokens(model, torch.randn(1, 4, 8, 128, 128))


def test_constructor_defaults_run_a_forward_pass(model):
    with torch.no_grad():
        rppg, *scores = model(torch.randn(1, 3, 8, 128, 128))
    assert rppg.shape == (1, 8)
    assert [score.shape for score in scores] == [(1, 4, 32, 32)] * 3


def test_forward_features_are_per_frame_and_pool_to_num_features(model):
    with torch.no_grad():
        features = model.forward_features(torch.randn(2, 3, 8, 128, 128))
    assert features.shape == (2, model.num_features, 8, 4, 4) == (2, 48, 8, 4, 4)
    assert model.pool_features(features).shape == (2, 48, 8)
    assert model.run_head(features).shape == (2, 8)


def test_reset_classifier_strips_the_head_and_forward_returns_pooled_features():
    net = PhysFormer().eval()
    net.reset_classifier(0)
    assert not any(key.startswith("ConvBlockLast") for key in net.state_dict())
    with torch.no_grad():
        pooled, *scores = net(torch.randn(1, 3, 8, 128, 128))
    assert pooled.shape == (1, 48, 8)
    assert len(scores) == 3


def test_the_public_unused_arguments_are_accepted():
    net = PhysFormer(
        name="B_16", pretrained=False, attention_dropout_rate=0.0, representation_size=None,
        load_repr_layer=False, classifier="token", frame=160, image_size=(160, 128, 128),
    )
    assert net.dim == 96


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"num_layers": 10}, "divisible by 3"),
        ({"dim": 90, "num_heads": 3}, "divisible by 4"),
        ({"dim": 96, "num_heads": 5}, "num_heads=5"),
        ({"image_size": (160, 72, 72)}, "128×128"),
    ],
)
def test_configurations_that_cannot_run_are_rejected(kwargs, match):
    with pytest.raises(ValueError, match=match):
        PhysFormer(**kwargs)


def test_smaller_spatial_patches_keep_the_token_grid_on_smaller_frames():
    """(4, 1, 1) patches on 32-px frames: the same blocks and the same T/4·16 tokens as the toolbox's 128 px."""
    import timm

    from codephys_plugin.adapters import adapter_for

    small = timm.create_model("physformer", img_size=32, num_frames=8).eval()
    assert small.patch_embedding.kernel_size == (4, 1, 1)
    assert timm.create_model("physformer", num_frames=8).patch_embedding.kernel_size == (4, 4, 4)
    with torch.no_grad():
        rppg, *scores = small(torch.randn(1, 3, 8, 32, 32))
    assert rppg.shape == (1, 8) and [score.shape for score in scores] == [(1, 4, 32, 32)] * 3
    assert adapter_for(small).frame_size == 32 and adapter_for(PhysFormer()).frame_size == 128
    with pytest.raises(ValueError, match="PhysFormer needs 32×32 frames"):
        small(torch.randn(1, 3, 8, 128, 128))
    with pytest.raises(ValueError, match="multiple of 32"):
        timm.create_model("physformer", img_size=48)
