"""PhysFormer's own loss, computed as PhysFormerTrainer does but on any device."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from codephys_plugin.losses.physformer import BPM_CLASSES, bpm_power, label_distribution, physformer_loss, welch_hr_bpm
from codephys_plugin.losses.pearson import negative_pearson

FS = 30.0


def sinusoid(bpm: float, length: int = 160, phase: float = 0.0) -> np.ndarray:
    return np.sin(2 * np.pi * bpm / 60.0 * np.arange(length) / FS + phase)


@pytest.mark.parametrize("bpm", [48.0, 75.0, 132.0])
def test_the_label_hr_is_welchs_peak(bpm):
    assert welch_hr_bpm(np.diff(sinusoid(bpm), append=0.0), FS) == pytest.approx(bpm, abs=1.0)


def test_the_bpm_power_is_the_windowed_dft_power_normalised():
    signal = np.random.default_rng(0).standard_normal((2, 96))
    power = bpm_power(torch.from_numpy(signal), FS).numpy()
    n = np.arange(96)
    window = 0.5 - 0.5 * np.cos(2 * np.pi * n / 95)
    expected = np.stack([[abs(np.sum(row * window * np.exp(-2j * np.pi * (bpm / 60 / (FS / 96)) * n / 96))) ** 2
                          for bpm in range(*BPM_CLASSES)] for row in signal])
    np.testing.assert_allclose(power, expected / expected.sum(axis=1, keepdims=True), rtol=1e-9)
    assert power.shape == (2, BPM_CLASSES[1] - BPM_CLASSES[0])


def test_the_label_distribution_is_a_unit_gaussian_at_the_whole_bpm():
    distribution = label_distribution(torch.tensor([72.9]))[0]
    assert int(distribution.argmax()) + BPM_CLASSES[0] == 72
    assert float(distribution.sum()) == pytest.approx(1.0, abs=1e-6)
    assert float(distribution[0]) == 1e-15


def test_the_right_hr_scores_lower_than_a_wrong_one_and_the_weights_switch_after_epoch_ten():
    label = torch.from_numpy(np.diff(sinusoid(80.0), append=0.0)[None]).float()
    right = torch.from_numpy(sinusoid(80.0, phase=0.3)[None]).float()
    wrong = torch.from_numpy(sinusoid(120.0)[None]).float()
    assert physformer_loss(right, label, epoch=0, fs=FS) < physformer_loss(wrong, label, epoch=0, fs=FS)
    early, late = (physformer_loss(right, label, epoch=epoch, fs=FS) for epoch in (10, 11))
    pearson = negative_pearson(right, label)
    spectral = early - pearson
    assert float(late) == pytest.approx(float(0.05 * pearson + 5 * spectral), rel=1e-5)


def test_the_loss_has_gradients_on_the_cpu_and_refuses_hrs_outside_its_classes():
    label = torch.from_numpy(np.diff(sinusoid(90.0), append=0.0)[None]).float().repeat(2, 1)
    rppg = torch.randn(2, 160, requires_grad=True)
    physformer_loss(rppg, label, epoch=0, fs=FS).backward()
    assert rppg.grad is not None and torch.isfinite(rppg.grad).all() and rppg.grad.abs().sum() > 0
    slow = torch.from_numpy(np.diff(sinusoid(33.0, length=300), append=0.0)[None]).float()
    with pytest.raises(ValueError, match=r"40-179 bpm; label clips have HR \[3\d\.\d\]"):
        physformer_loss(torch.randn(1, 300), slow, epoch=0, fs=FS)
    with pytest.raises(ValueError, match="label"):
        physformer_loss(torch.randn(1, 160), torch.randn(1, 150), epoch=0, fs=FS)
    assert math.isfinite(float(physformer_loss(torch.randn(1, 160), label[:1], epoch=0, fs=FS)))
