"""CHROM, chrominance-based rPPG (de Haan & Jeanne 2013), with its windowed overlap-add."""

from __future__ import annotations

import math

import numpy as np
import scipy.signal

from codephys_plugin.baselines.validate import checked_trace
from codephys_plugin.rppg.filters import DEFAULT_HIGH_HZ, DEFAULT_LOW_HZ, bandpass

WINDOW_S = 1.6
"""Hann windows of this length, half overlapping."""
MIN_WINDOW = 12
"""filtfilt of the first-order band-pass needs more than 9 samples."""


def chrom(
    trace: np.ndarray, fs: float, *, low: float = DEFAULT_LOW_HZ, high: float = DEFAULT_HIGH_HZ, window_s: float = WINDOW_S
) -> np.ndarray:
    """'t 3' RGB trace -> 't' pulse.

    In each window the colours are divided by their mean; X = 3R − 2G and Y = 1.5R + G − 1.5B are band-passed
    and combined as X − αY with α = σ(X)/σ(Y), which cancels the specular component for a standardised
    skin tone; Hann-weighted windows are overlap-added."""
    rgb = checked_trace(trace, fs, "chrom")
    length = max(MIN_WINDOW, 2 * math.ceil(window_s * fs / 2))
    if rgb.shape[0] < length:
        raise ValueError(f"chrom trace: {rgb.shape[0]} samples; one {window_s:g}-s window needs {length} at {fs:g} Hz")
    taper = scipy.signal.windows.hann(length, sym=False)
    pulse = np.zeros(rgb.shape[0])
    for start in range(0, rgb.shape[0] - length + 1, length // 2):
        red, green, blue = (rgb[start : start + length] / rgb[start : start + length].mean(axis=0)).T
        x_band, y_band = bandpass(np.stack([3.0 * red - 2.0 * green, 1.5 * red + green - 1.5 * blue]), fs,
                                  low=low, high=high)
        spread = y_band.std()
        combined = x_band - (x_band.std() / spread if spread > 0 else 0.0) * y_band
        pulse[start : start + length] += taper * combined
    return pulse
