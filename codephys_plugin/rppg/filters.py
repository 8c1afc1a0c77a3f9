"""Post-processing of rPPG / PPG waveforms, as the rPPG-Toolbox evaluation does it.

All functions take numpy-compatible ``(... t)`` arrays and work along the last axis. Defaults follow
the current toolbox: a 1st-order Butterworth band-pass at 0.6-3.3 Hz (36-198 bpm) applied forward
and backward, and smoothness-priors detrending with λ = 100. The NeurIPS-2023 toolbox paper used
0.75-2.5 Hz; pass ``low``/``high`` to reproduce it.
"""

from __future__ import annotations

import numpy as np
import scipy.signal
import scipy.sparse
import scipy.sparse.linalg

from codephys_plugin._checks import check_band, check_sampling_rate

DEFAULT_LOW_HZ = 0.6
DEFAULT_HIGH_HZ = 3.3
DEFAULT_DETREND_LAMBDA = 100.0


def as_signals(x: object, name: str) -> np.ndarray:
    """``(... t)`` finite float64 array with at least one sample per signal."""
    array = np.asarray(x, dtype=np.float64)
    if array.ndim == 0 or array.shape[-1] == 0:
        raise ValueError(f"{name}: expected signals of shape (... t) with t > 0, got shape {array.shape}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name}: contains NaN or Inf ({int((~np.isfinite(array)).sum())} samples)")
    return array


def bandpass(
    x: object, fs: float, *, low: float = DEFAULT_LOW_HZ, high: float = DEFAULT_HIGH_HZ, order: int = 1
) -> np.ndarray:
    """Zero-phase Butterworth band-pass (``filtfilt``) of ``(... t)`` signals."""
    signals = as_signals(x, "bandpass input")
    fs = check_sampling_rate(fs)
    low, high = check_band(low, high, fs)
    b, a = scipy.signal.butter(order, [low, high], btype="bandpass", fs=fs)
    pad = 3 * max(len(a), len(b))
    if signals.shape[-1] <= pad:
        raise ValueError(f"bandpass input: needs more than {pad} samples for filtfilt, got {signals.shape[-1]}")
    return scipy.signal.filtfilt(b, a, signals, axis=-1)


def detrend(x: object, lam: float = DEFAULT_DETREND_LAMBDA) -> np.ndarray:
    """Smoothness-priors detrending (Tarvainen et al. 2002) of ``(... t)`` signals.

    Removes the trend ``(I + λ² D₂ᵀD₂)⁻¹ x``. The toolbox inverts the dense matrix (O(t³)); the
    system is banded, so a sparse solve gives the same result in O(t).
    """
    signals = as_signals(x, "detrend input")
    length = signals.shape[-1]
    if length < 3:
        return signals - signals.mean(axis=-1, keepdims=True)
    second_diff = scipy.sparse.diags([1.0, -2.0, 1.0], [0, 1, 2], shape=(length - 2, length))
    system = (scipy.sparse.identity(length) + lam**2 * (second_diff.T @ second_diff)).tocsc()
    columns = signals.reshape(-1, length).T
    trend = scipy.sparse.linalg.splu(system).solve(np.ascontiguousarray(columns))
    return (columns - trend).T.reshape(signals.shape)


def integrate(derivative: object) -> np.ndarray:
    """Turn DiffNormalized (first-difference) signals back into waveforms by cumulative sum, as the
    toolbox does before evaluation; follow with `detrend` to remove the drift a bias leaves."""
    return np.cumsum(as_signals(derivative, "integrate input"), axis=-1)


def standardize(x: object) -> np.ndarray:
    """Zero mean, unit variance per signal; a flat signal becomes all zeros rather than NaN."""
    signals = as_signals(x, "standardize input")
    centred = signals - signals.mean(axis=-1, keepdims=True)
    std = centred.std(axis=-1, keepdims=True)
    return np.divide(centred, std, out=np.zeros_like(centred), where=std > 0)
