"""Waveform post-processing: band-pass, detrend, integrate derivative signals."""

from codephys_plugin.rppg.filters import (
    DEFAULT_DETREND_LAMBDA,
    DEFAULT_HIGH_HZ,
    DEFAULT_LOW_HZ,
    bandpass,
    detrend,
    integrate,
    standardize,
)

__all__ = [
    "DEFAULT_DETREND_LAMBDA",
    "DEFAULT_HIGH_HZ",
    "DEFAULT_LOW_HZ",
    "bandpass",
    "detrend",
    "integrate",
    "standardize",
]
