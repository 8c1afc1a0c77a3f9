"""SSPD beyond parameter names and golden numerics: input errors, where gradients flow, head stripping, and
that the published checkpoint (when one is supplied) recovers a pulse."""

from __future__ import annotations

import math
import os

import pytest
import torch

from codephys_plugin.adapters.networks import SSPD, SSPDL3

CHECKPOINT_ENV = "CODEPHYS_SSPD_CHECKPOINT"


def frames(length: int = 2, size: int = 128) -> torch.Tensor:
    return torch.randn(1, 3, length, size, size, generator=torch.Generator().manual_seed(3))


def test_72_pixel_frames_are_refused_with_the_reason():
    with pytest.raises(ValueError, match=r"SSPD frames.*h=w=128.*8×8 pool"):
        SSPD()(frames(size=72))


@pytest.mark.parametrize("length", [1, 3])
def test_odd_frame_counts_are_refused(length):
    with pytest.raises(ValueError, match=rf"SSPD frames: expected an even number t ≥ 2.*t={length}"):
        SSPD()(frames(length))


def test_features_carry_gradients_into_the_backbone_but_forward_detaches_like_the_public_model():
    model = SSPD()
    first_conv = model.backbone_step1.Conv_Layer1.weight

    model(frames()).sum().backward()
    assert first_conv.grad is None
    assert model.predictor.conv4.weight.grad is not None

    model.forward_head(model.forward_features(frames())).sum().backward()
    assert first_conv.grad is not None and first_conv.grad.abs().sum() > 0


@pytest.mark.parametrize("network", [SSPD, SSPDL3])
def test_reset_classifier_strips_every_head_module(network):
    model = network()
    model.reset_classifier(0)
    assert not [key for key in model.state_dict() if key.startswith(("predictor.", "ts_block"))]
    with torch.no_grad():
        pooled = model(frames())
    assert pooled.shape == (1, model.num_features, 2)


def synthetic_residuals(pulse_hz: float, fs: float = 30.0, length: int = 300, size: int = 128) -> torch.Tensor:
    """'1 3 t h w' residuals of uint8-like BGR skin frames whose brightness follows a sinusoidal pulse.

    The pulse is strongest in green, as in blood-volume changes; sensor noise and rounding to integer
    pixel values give residuals about as spread as the data SSPD's input BN was fitted to.
    """
    generator = torch.Generator().manual_seed(0)
    seconds = torch.arange(length + 1, dtype=torch.float64) / fs
    pulse = torch.sin(2 * math.pi * pulse_hz * seconds)
    axis = torch.linspace(-1, 1, size, dtype=torch.float64)
    shading = torch.exp(-(axis[:, None] ** 2 + axis[None, :] ** 2))
    skin_bgr = torch.tensor([110.0, 140.0, 190.0], dtype=torch.float64)
    pulse_bgr = torch.tensor([0.4, 1.0, 0.6], dtype=torch.float64)
    brightness = skin_bgr[:, None, None, None] + pulse_bgr[:, None, None, None] * pulse[:, None, None]
    clip = brightness * shading + torch.randn((3, length + 1, size, size), generator=generator, dtype=torch.float64)
    clip = clip.round().clamp(0, 255)
    return torch.diff(clip, dim=1).float()[None]


@pytest.mark.slow
def test_published_checkpoint_recovers_the_pulse_frequency():
    path = os.environ.get(CHECKPOINT_ENV)
    if not path:
        pytest.skip(f"set {CHECKPOINT_ENV} to SSPD's pretrained/ubfc.pth to run this check")
    model = SSPD().eval()
    model.load_state_dict(torch.load(path, weights_only=True, map_location="cpu"), strict=True)
    fs, pulse_hz = 30.0, 1.5
    with torch.no_grad():
        rppg = model(synthetic_residuals(pulse_hz, fs))[0].double()
    padded = int(60 * fs)
    window = torch.hann_window(rppg.numel(), dtype=torch.float64)
    spectrum = torch.fft.rfft((rppg - rppg.mean()) * window, n=padded).abs()
    frequencies = torch.fft.rfftfreq(padded, 1 / fs)
    peak_hz = frequencies[1:][spectrum[1:].argmax()].item()
    assert peak_hz == pytest.approx(pulse_hz, abs=0.05)
