import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from codephys_plugin.losses import (
    band_power_spectrum,
    code_query_loss,
    negative_pearson,
    overall_loss,
    pearson_r,
    physiological_loss,
    psd_cross_entropy,
    quantization_losses,
    reconstruction_loss,
    soft_feature_distillation,
)

FS = 30.0


def sine(freq_hz, length=160, phase=0.0, batch=1):
    t = torch.arange(length) / FS
    return torch.sin(2 * math.pi * freq_hz * t + phase).repeat(batch, 1)


def test_negative_pearson_extremes():
    x = sine(1.2)
    assert float(negative_pearson(x, x)) == pytest.approx(0.0, abs=1e-6)
    assert float(negative_pearson(x, -x)) == pytest.approx(2.0, abs=1e-6)
    assert float(negative_pearson(3 * x + 7, x)) == pytest.approx(0.0, abs=1e-6)


def test_pearson_matches_numpy(generator):
    a, b = torch.randn(5, 50, generator=generator), torch.randn(5, 50, generator=generator)
    import numpy as np

    expected = [np.corrcoef(a[i], b[i])[0, 1] for i in range(5)]
    torch.testing.assert_close(pearson_r(a, b), torch.tensor(expected, dtype=torch.float32), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("scale", [0.0, 1e-9, 1e-4])
def test_negative_pearson_is_finite_with_finite_gradients_for_flat_signals(scale, generator):
    flat = (torch.ones(2, 64) + scale * torch.randn(2, 64, generator=generator)).requires_grad_()
    target = sine(1.0, length=64, batch=2)
    loss = negative_pearson(flat, target)
    loss.backward()
    assert torch.isfinite(loss) and torch.all(torch.isfinite(flat.grad))
    both_flat = torch.ones(2, 64, requires_grad=True)
    loss = negative_pearson(both_flat, torch.ones(2, 64))
    loss.backward()
    assert float(loss.detach()) == pytest.approx(1.0) and torch.all(torch.isfinite(both_flat.grad))


@settings(max_examples=50, deadline=None)
@given(st.integers(0, 2**31 - 1), st.floats(0.01, 100))
def test_property_negative_pearson_in_range_and_scale_invariant(seed, scale):
    g = torch.Generator().manual_seed(seed)
    a, b = torch.randn(3, 40, generator=g), torch.randn(3, 40, generator=g)
    value = float(negative_pearson(a, b))
    assert 0.0 <= value <= 2.0
    assert float(negative_pearson(scale * a, b)) == pytest.approx(value, abs=1e-4)


def test_band_power_spectrum_peaks_at_the_signal_frequency():
    freqs, power = band_power_spectrum(sine(1.5, length=300), FS)
    assert power.shape == (1, freqs.numel())
    assert float(freqs[power.argmax()]) == pytest.approx(1.5, abs=0.06)
    assert float(freqs.min()) >= 0.6 and float(freqs.max()) <= 3.3


def test_psd_cross_entropy_prefers_the_right_frequency_and_ignores_amplitude():
    target = sine(1.2)
    right = psd_cross_entropy(5 * sine(1.2, phase=1.0), target, FS)
    wrong = psd_cross_entropy(sine(2.4), target, FS)
    assert float(right) < float(wrong) - 1.0
    torch.testing.assert_close(psd_cross_entropy(sine(1.2), target, FS), psd_cross_entropy(9 * sine(1.2), target, FS))


def test_psd_cross_entropy_is_finite_for_flat_signals():
    flat = torch.zeros(2, 160, requires_grad=True)
    loss = psd_cross_entropy(flat, sine(1.0, batch=2), FS) + psd_cross_entropy(sine(1.0, batch=2), torch.ones(2, 160), FS)
    loss.backward()
    assert torch.isfinite(loss) and torch.all(torch.isfinite(flat.grad))


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: psd_cross_entropy(sine(1.0), sine(1.0, length=80), FS), "t=160"),
        (lambda: psd_cross_entropy(sine(1.0), sine(1.0), 0.0), "sampling rate"),
        (lambda: psd_cross_entropy(sine(1.0), sine(1.0), FS, band=(3.0, 1.0)), "band"),
        (lambda: band_power_spectrum(sine(1.0), FS, nfft=64), "nfft"),
        (lambda: negative_pearson(torch.randn(160), torch.randn(160)), r"\(b t\)"),
        (lambda: negative_pearson(torch.randn(2, 10), torch.randn(2, 11)), "t=10"),
        (lambda: negative_pearson(torch.full((2, 10), float("nan")), torch.randn(2, 10)), "non-finite"),
        (lambda: reconstruction_loss(torch.randn(2, 8), torch.randn(3, 8)), "b=2"),
    ],
)
def test_bad_loss_inputs_raise_clear_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_reconstruction_loss_is_mse_plus_negative_pearson(generator):
    a, b = torch.randn(3, 40, generator=generator), torch.randn(3, 40, generator=generator)
    expected = torch.mean((a - b) ** 2) + negative_pearson(a, b)
    torch.testing.assert_close(reconstruction_loss(a, b), expected)


def test_quantization_losses_match_eq5(generator):
    z = torch.randn(2, 5, 4, generator=generator)
    zq = torch.randn(2, 5, 4, generator=generator)
    codebook_term, commitment_term = quantization_losses(z, zq, commitment_weight=0.25)
    mse = torch.mean((z - zq) ** 2)
    torch.testing.assert_close(codebook_term, mse)
    torch.testing.assert_close(commitment_term, 0.25 * mse)


def test_code_query_loss_is_cross_entropy_plus_commitment(generator):
    logits = torch.randn(2, 5, 8, generator=generator, requires_grad=True)
    targets = torch.randint(8, (2, 5), generator=generator)
    tokens = torch.randn(2, 5, 4, generator=generator, requires_grad=True)
    codes = torch.randn(2, 5, 4, generator=generator, requires_grad=True)
    loss = code_query_loss(logits, targets, tokens, codes)
    expected = torch.nn.functional.cross_entropy(logits.reshape(10, 8), targets.reshape(10)) + torch.mean((tokens - codes) ** 2)
    torch.testing.assert_close(loss, expected)
    loss.backward()
    assert codes.grad is None, "the frozen codes must be behind a stop-gradient"
    assert tokens.grad is not None and logits.grad is not None


@pytest.mark.parametrize("bad_target", [torch.tensor([[8, 0, 0, 0, 0]] * 2), torch.tensor([[-1, 0, 0, 0, 0]] * 2)])
def test_code_query_loss_rejects_out_of_range_targets(generator, bad_target):
    with pytest.raises(ValueError, match=r"in \[0, 8\)"):
        code_query_loss(torch.randn(2, 5, 8), bad_target, torch.randn(2, 5, 4), torch.randn(2, 5, 4))


def test_soft_feature_distillation_sums_positions_and_stops_target_gradient(generator):
    video = torch.randn(2, 3, 10, 4, 5, generator=generator, requires_grad=True)
    ppg = torch.randn(2, 3, 10, generator=generator, requires_grad=True)
    loss = soft_feature_distillation(video, ppg)
    expected = torch.stack(
        [
            torch.stack(
                [
                    torch.nn.functional.smooth_l1_loss(video[b, :, :, h, w], ppg[b])
                    for h in range(4)
                    for w in range(5)
                ]
            ).sum()
            for b in range(2)
        ]
    ).mean()
    torch.testing.assert_close(loss, expected)
    loss.backward()
    assert ppg.grad is None and video.grad is not None
    flat = soft_feature_distillation(video.detach()[..., 0, 0], ppg.detach())
    torch.testing.assert_close(flat, soft_feature_distillation(video.detach()[..., :1, :1], ppg.detach()))


def test_soft_feature_distillation_rejects_mismatched_features():
    with pytest.raises(ValueError, match="c=3"):
        soft_feature_distillation(torch.randn(2, 3, 10, 4, 4), torch.randn(2, 4, 10))


def test_physiological_and_overall_loss_weights():
    pred, target = sine(1.1, batch=2), sine(1.3, batch=2)
    phy = physiological_loss(pred, target, FS)
    expected = 0.1 * negative_pearson(pred, target) + psd_cross_entropy(pred, target, FS)
    torch.testing.assert_close(phy, expected)
    one = torch.tensor(1.0)
    assert float(overall_loss(one, 2 * one, 3 * one, 4 * one)) == pytest.approx(2.0 + 0.1 * 5 + 4.0)
    assert float(overall_loss(one, one, one, one, alpha=1.0, beta=1.0)) == pytest.approx(4.0)
