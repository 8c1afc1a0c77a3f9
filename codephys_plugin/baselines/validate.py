"""The input check every classic method shares."""

from __future__ import annotations

import numpy as np

from codephys_plugin._checks import check_sampling_rate


def checked_trace(trace: object, fs: float, method: str) -> np.ndarray:
    """A finite, positive 't 3' float64 trace (colour means are positive light levels)."""
    check_sampling_rate(fs)
    rgb = np.asarray(trace, dtype=np.float64)
    if rgb.ndim != 2 or rgb.shape[1] != 3 or rgb.shape[0] < 2:
        raise ValueError(f"{method} trace: expected shape (t 3) with t ≥ 2, got {rgb.shape}")
    if not np.all(np.isfinite(rgb)):
        raise ValueError(f"{method} trace: {int((~np.isfinite(rgb)).sum())} non-finite value(s)")
    if np.any(rgb <= 0):
        raise ValueError(f"{method} trace: colour means must be positive light levels; got a minimum of {rgb.min():g}")
    return rgb
