"""Heart rate over time: sliding windows of the pulse waveform, the spectral peak of each refined between
FFT bins (`hr_fft(interpolate=True)`), so the track is not quantised to the bins (the toolbox's issue #389)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from codephys_plugin.heart_rate.estimate import check_hr_window, hr_fft, snr_db
from codephys_plugin.rppg.filters import DEFAULT_HIGH_HZ, DEFAULT_LOW_HZ


@dataclass(frozen=True)
class HRTrack:
    times_s: np.ndarray
    """``(k)`` the centre of each window, in s from the first sample."""
    hr_bpm: np.ndarray
    snr_db: np.ndarray
    """``(k)`` SNR of each window around its own HR's first two harmonics (there is no reference)."""
    window_s: float

    def as_rows(self) -> list[dict[str, float]]:
        return [{"time_s": float(t), "hr_bpm": float(hr), "snr_db": float(snr)}
                for t, hr, snr in zip(self.times_s, self.hr_bpm, self.snr_db)]


def hr_track(waveform: np.ndarray, fs: float, *, window_s: float = 10.0, step_s: float = 1.0,
             low: float = DEFAULT_LOW_HZ, high: float = DEFAULT_HIGH_HZ) -> HRTrack:
    """'t' band-passed waveform -> one HR and SNR per `window_s` window every `step_s` (one window of the
    whole signal when it is shorter than `window_s`)."""
    if not (window_s > 0 and step_s > 0):
        raise ValueError(f"hr_track: window_s and step_s must be positive, got {window_s} and {step_s}")
    size = min(int(round(window_s * fs)), waveform.size)
    check_hr_window(size, fs, low, name="hr_track window")
    step = max(1, int(round(step_s * fs)))
    starts = np.arange(0, waveform.size - size + 1, step)
    rates, snrs = [], []
    for start in starts:
        segment = waveform[start:start + size]
        rate = hr_fft(segment, fs, low=low, high=high, interpolate=True)
        rates.append(rate)
        snrs.append(snr_db(segment, rate, fs, low=low, high=high))
    return HRTrack((starts + size / 2) / fs, np.array(rates), np.array(snrs), size / fs)
