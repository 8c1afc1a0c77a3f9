"""How faithfully a Stage I model reconstructs held-out recordings (the paper's Table VII)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from codephys_plugin.autoencoder import SignalAutoencoder
from codephys_plugin.heart_rate.estimate import hr_fft, prepare_for_hr
from codephys_plugin.heart_rate.metrics import HRMetrics, hr_metrics
from codephys_plugin.losses.pearson import pearson_r
from codephys_plugin.query.codebook import usage_from_counts
from codephys_plugin.training.windows import WindowConfig, cut_windows


@dataclass(frozen=True)
class ReconstructionReport:
    waveform_r: float
    """Mean Pearson r between reconstructed and original windows."""
    hr: HRMetrics
    """Recording-level HR (FFT) of the reconstruction vs that of the original."""
    num_windows: int
    perplexity: float
    dead_codes: int
    """Codes that no held-out window used."""


@torch.no_grad()
def evaluate_reconstruction(
    model: SignalAutoencoder, recordings: list[np.ndarray], config: WindowConfig
) -> ReconstructionReport:
    """Reconstruct each filtered recording window by window (non-overlapping) and compare."""
    if not recordings:
        raise ValueError("evaluate_reconstruction: no recordings given")
    model.eval()
    correlations, hr_original, hr_reconstructed = [], [], []
    counts = torch.zeros(model.codebook.num_codes, dtype=torch.int64)
    for recording in recordings:
        windows = torch.as_tensor(cut_windows(recording, config, hop=config.window), dtype=torch.float32)
        output = model(windows)
        counts += torch.bincount(output.quantized.indices.reshape(-1), minlength=counts.numel())
        correlations.append(pearson_r(output.reconstruction, windows))
        original = prepare_for_hr(windows.reshape(-1).numpy(), config.fs)
        rebuilt = prepare_for_hr(output.reconstruction.reshape(-1).numpy(), config.fs)
        hr_original.append(hr_fft(original, config.fs))
        hr_reconstructed.append(hr_fft(rebuilt, config.fs))
    usage = usage_from_counts(counts)
    all_r = torch.cat(correlations)
    return ReconstructionReport(
        waveform_r=float(all_r.mean()),
        hr=hr_metrics(hr_reconstructed, hr_original),
        num_windows=int(all_r.numel()),
        perplexity=usage.perplexity,
        dead_codes=usage.dead_codes,
    )
