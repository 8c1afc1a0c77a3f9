"""PhysFormer's own training loss, as the rPPG-Toolbox's PhysFormerTrainer computes it, on any device.

The toolbox's version hard-codes CUDA; this one follows its arithmetic on whatever device the signals are:
- the rPPG is z-normalised per clip and scored by negative Pearson against the label;
- each clip's label HR comes from Welch's method (segments of min(t − 1, 256), 1e5/fs FFT points, the peak
  strictly between 30 and 180 bpm);
- the z-normalised rPPG's Hann-windowed DFT power at every whole bpm from 40 to 179, normalised to sum
  to one, is compared with the label HR twice: a cross-entropy that takes those powers as logits, with
  the HR's whole bpm as the class, and a KL divergence from a Gaussian label distribution (σ = 1 bpm,
  floored at 1e-15) to the softmax of the powers (both quirks are the toolbox's: the powers are already a
  distribution);
- the total is a·NP + b·(CE + KL) with a = b = 1 up to the 11th epoch and a = 0.05, b = 5 after it.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from scipy.signal import welch
from torch import Tensor

from codephys_plugin._checks import check_sampling_rate, check_tensor
from codephys_plugin.losses.pearson import negative_pearson

BPM_CLASSES = (40, 180)
"""The whole bpm the spectral terms score: 40 to 179."""
LABEL_HR_BAND_BPM = (30.0, 180.0)
LABEL_STD_BPM = 1.0
DISTRIBUTION_FLOOR = 1e-15
LATE_EPOCH = 10
"""From the 0-based epoch after this one the trainer weights NP by 0.05 and the spectral terms by 5."""


def welch_hr_bpm(label: np.ndarray, fs: float) -> float:
    """The label clip's HR (bpm) as PhysFormerTrainer.get_hr finds it."""
    segment = min(label.shape[-1] - 1, 256)
    freqs, power = welch(label, fs, nfft=int(1e5 / fs), nperseg=segment)
    bpm = freqs * 60.0
    inside = (bpm > LABEL_HR_BAND_BPM[0]) & (bpm < LABEL_HR_BAND_BPM[1])
    return float(bpm[inside][np.argmax(power[inside])])


def bpm_power(signal: Tensor, fs: float) -> Tensor:
    """'b t' signals -> 'b k' Hann-windowed DFT power at each whole bpm of BPM_CLASSES, each row summing to one."""
    length = signal.shape[-1]
    bpm = torch.arange(*BPM_CLASSES, dtype=torch.float64, device=signal.device)
    cycles = bpm / 60.0 / (fs / length)
    phase = 2 * math.pi * cycles[:, None] * torch.arange(length, dtype=torch.float64, device=signal.device) / length
    window = torch.from_numpy(np.hanning(length)).to(signal.device)
    windowed = (signal.double() * window)[:, None, :]
    power = (windowed * torch.sin(phase)).sum(-1) ** 2 + (windowed * torch.cos(phase)).sum(-1) ** 2
    return (power / power.sum(dim=-1, keepdim=True)).to(signal.dtype)


def label_distribution(hr_bpm: Tensor) -> Tensor:
    """'b' label HRs -> 'b k' Gaussians around each HR's whole bpm over BPM_CLASSES (σ 1 bpm, floored)."""
    bpm = torch.arange(*BPM_CLASSES, dtype=torch.float64, device=hr_bpm.device)
    centre = hr_bpm.double().trunc()[:, None]
    density = torch.exp(-((bpm - centre) ** 2) / (2 * LABEL_STD_BPM**2)) / (math.sqrt(2 * math.pi) * LABEL_STD_BPM)
    return density.clamp_min(DISTRIBUTION_FLOOR)


def physformer_loss(rppg: Tensor, label: Tensor, *, epoch: int, fs: float) -> Tensor:
    """'b t' PhysFormer outputs and DiffNormalized labels -> the trainer's loss in 0-based `epoch`."""
    check_tensor(rppg, "rppg", "b t")
    check_tensor(label, "label", "b t", sizes={"b": rppg.shape[0], "t": rppg.shape[1]})
    fs = check_sampling_rate(fs)
    normalised = (rppg - rppg.mean(dim=-1, keepdim=True)) / rppg.std(dim=-1, keepdim=True)
    hr = torch.tensor([welch_hr_bpm(clip, fs) for clip in label.detach().cpu().double().numpy()], device=rppg.device)
    low, high = BPM_CLASSES
    if bool(((hr < low) | (hr >= high)).any()):
        raise ValueError(f"PhysFormer's loss scores HRs of {low}-{high - 1} bpm; label clips have HR "
                         f"{[round(value, 1) for value in hr.tolist()]} bpm")
    power = bpm_power(normalised, fs)
    frequency = F.cross_entropy(power, hr.trunc().long() - low)
    target = label_distribution(hr).to(power.dtype)
    divergence = (target * (target.log() - F.log_softmax(power, dim=-1))).sum(dim=-1).mean()
    late = epoch > LATE_EPOCH
    a, b = (0.05, 5.0) if late else (1.0, 1.0)
    return a * negative_pearson(normalised, label) + b * (frequency + divergence)
