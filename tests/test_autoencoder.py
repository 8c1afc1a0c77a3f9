import copy

import pytest
import torch

from codephys_plugin.autoencoder import AutoencoderConfig, SignalAutoencoder
from codephys_plugin.decoder import SignalDecoder
from codephys_plugin.encoder import PPGFeatureExtractor, SignalCoderConfig, SignalEncoder
from codephys_plugin.query import CodebookConfig


def small_config(dim=16):
    return AutoencoderConfig(coder=SignalCoderConfig(dim=dim), codebook=CodebookConfig(num_codes=8, dim=dim))


@pytest.mark.parametrize("length", [4, 32, 160, 300])
def test_shapes_for_any_length_divisible_by_four(generator, length):
    model = SignalAutoencoder(small_config())
    signal = torch.randn(3, length, generator=generator)
    out = model(signal)
    assert out.tokens.shape == (3, length // 4, 16)
    assert out.quantized.indices.shape == (3, length // 4)
    assert out.reconstruction.shape == (3, length)
    assert model.encoder.features(signal).shape == (3, 16, length)


def test_default_sizes_follow_the_paper():
    model = SignalAutoencoder()
    assert model.codebook.codes.shape == (64, 64)
    assert model.encoder.config.hidden_width == 128, "K = 2D"
    out = model(torch.randn(2, 160))
    assert out.tokens.shape == (2, 40, 64)


@pytest.mark.parametrize("length", [1, 6, 161, 162])
def test_length_not_divisible_by_four_is_a_clear_error(length):
    with pytest.raises(ValueError, match="divisible by 4"):
        SignalAutoencoder(small_config())(torch.randn(2, length))
    with pytest.raises(ValueError, match="divisible by 4"):
        SignalEncoder(SignalCoderConfig(dim=8))(torch.randn(2, length))


@pytest.mark.parametrize(
    "signal, message",
    [
        (torch.randn(160), r"expected shape \(b t\)"),
        (torch.randn(2, 1, 160), r"expected shape \(b t\)"),
        (torch.randn(2, 0), "non-empty"),
        (torch.tensor([[float("nan")] * 8]), "non-finite"),
        (torch.tensor([[float("inf")] * 8]), "non-finite"),
    ],
)
def test_bad_signals_raise_clear_errors(signal, message):
    with pytest.raises(ValueError, match=message):
        SignalAutoencoder(small_config())(signal)


def test_decoder_rejects_tokens_of_the_wrong_dim():
    with pytest.raises(ValueError, match="d=16"):
        SignalDecoder(SignalCoderConfig(dim=16))(torch.randn(2, 10, 8))


def test_ppg_feature_extractor_is_the_encoder_without_its_last_conv(generator):
    encoder = SignalEncoder(SignalCoderConfig(dim=8))
    extractor = copy.deepcopy(encoder.features)
    assert isinstance(extractor, PPGFeatureExtractor)
    signal = torch.randn(2, 40, generator=generator)
    features = extractor(signal)
    assert features.shape == (2, 8, 40)
    tokens = encoder(signal)
    torch.testing.assert_close(tokens, encoder.downsample(features).transpose(1, 2))


def test_every_parameter_gets_a_gradient_from_the_stage1_loss(generator):
    model = SignalAutoencoder(small_config())
    signal = torch.randn(4, 64, generator=generator)
    losses = model.loss(signal, model(signal))
    losses.total.backward()
    torch.testing.assert_close(losses.total, losses.reconstruction + losses.feature)
    missing = [name for name, p in model.named_parameters() if p.grad is None or not torch.any(p.grad != 0)]
    assert not missing, f"no gradient for {missing}"


def test_a_few_steps_reduce_the_reconstruction_loss(generator):
    t = torch.arange(64) / 30.0
    freqs = 1.0 + torch.rand(32, 1, generator=generator)
    signal = torch.sin(2 * torch.pi * freqs * t)
    model = SignalAutoencoder(small_config())
    optimizer = torch.optim.Adam(model.parameters(), lr=5e-3)
    first = None
    for _ in range(60):
        losses = model.loss(signal, model(signal))
        optimizer.zero_grad()
        losses.total.backward()
        optimizer.step()
        first = float(losses.reconstruction.detach()) if first is None else first
    assert float(losses.reconstruction.detach()) < 0.5 * first


def test_mismatched_token_and_codebook_dims_are_rejected():
    with pytest.raises(ValueError, match="differs from codebook dim"):
        AutoencoderConfig(coder=SignalCoderConfig(dim=16), codebook=CodebookConfig(dim=8))
