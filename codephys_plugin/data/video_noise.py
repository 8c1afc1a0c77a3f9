"""Per-pixel Gaussian noise for whole videos, still determined by a numpy stream.

A video's noise is millions of samples; torch draws them about three times faster than numpy on
this project's CPUs, so the numpy stream gives one seed and torch draws the samples from it.
"""

from __future__ import annotations

import numpy as np
import torch


def standard_normal(shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    """float32 samples of N(0, 1), one draw of `rng` per call."""
    generator = torch.Generator().manual_seed(int(rng.integers(2**63)))
    return torch.randn(shape, generator=generator).numpy()
