"""From recordings to training windows: the shared preprocessing of Stage I."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from codephys_plugin._checks import check_sampling_rate, check_signal
from codephys_plugin.rppg.filters import bandpass, detrend, standardize

MAX_HIGH_FRACTION = 0.45
"""The band-pass's upper edge stays this far below Nyquist (fs/2)."""


@dataclass(frozen=True)
class WindowConfig:
    """How a recording becomes model input: filter, cut into T-sample windows, normalise each.

    The default band (0.5-8 Hz) keeps the pulse's harmonics, so the codebook learns the waveform's
    shape (systolic peak, dicrotic notch) rather than a sinusoid at the HR. Its upper edge is capped
    at ``MAX_HIGH_FRACTION``·fs so that low model rates (e.g. 15 Hz) still get a valid filter; the
    stored ``band_hz`` is the band applied.
    """

    fs: float = 30.0
    window: int = 160
    hop: int = 40
    band_hz: tuple[float, float] = (0.5, 8.0)

    def __post_init__(self) -> None:
        if self.window < 4 or self.window % 4:
            raise ValueError(f"window must be a positive multiple of 4 samples, got {self.window}")
        if not 0 < self.hop:
            raise ValueError(f"hop must be positive, got {self.hop}")
        check_sampling_rate(self.fs)
        low, high = (float(edge) for edge in self.band_hz)
        cap = MAX_HIGH_FRACTION * self.fs
        if not (math.isfinite(low) and math.isfinite(high) and 0 < low < high and low < cap):
            raise ValueError(f"band_hz {self.band_hz}: expected 0 < low < high Hz with low < {cap:g} Hz "
                             f"({MAX_HIGH_FRACTION}·fs at fs = {self.fs:g} Hz)")
        object.__setattr__(self, "band_hz", (low, min(high, cap)))


def filter_recording(signal: object, config: WindowConfig, name: str = "recording") -> np.ndarray:
    """Detrend and band-pass one recording sampled at ``config.fs`` to ``config.band_hz``."""
    x = check_signal(signal, name, min_length=config.window)
    low, high = config.band_hz
    return bandpass(detrend(x), config.fs, low=low, high=high)


def cut_windows(signal: np.ndarray, config: WindowConfig, *, hop: int | None = None) -> np.ndarray:
    """``(t)`` -> ``(k window)`` windows every `hop` samples (default ``config.hop``), each standardised."""
    step = config.hop if hop is None else hop
    starts = range(0, signal.size - config.window + 1, step)
    return standardize(np.stack([signal[s : s + config.window] for s in starts]))
