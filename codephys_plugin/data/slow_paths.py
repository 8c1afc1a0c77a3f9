"""Slow random paths: how head pose, light and degradation strength wander over a clip."""

from __future__ import annotations

import numpy as np


def slow_path(x: np.ndarray, rng: np.random.Generator, rates: tuple[float, float]) -> np.ndarray:
    """Unit-peak sum of three sinusoids with random phases and rates drawn in `rates` (cycles per unit of `x`:
    per second for times, per clip for clip fractions)."""
    freqs = rng.uniform(*rates, size=3)
    phases = rng.uniform(0, 2 * np.pi, size=3)
    path = np.sin(2 * np.pi * freqs[:, None] * np.asarray(x)[None, :] + phases[:, None]).sum(axis=0)
    return path / max(np.abs(path).max(), 1e-12)
