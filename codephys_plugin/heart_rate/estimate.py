"""Heart rate, SNR and MACC of one window, with the rPPG-Toolbox definitions.

Band edges default to 0.6-3.3 Hz (the current toolbox); pass ``low``/``high`` to change them.
The toolbox takes the FFT peak at nfft = the next power of two ≥ t, whose bins are 56 bpm apart on
a 1-s window; `hr_fft` zero-pads further until bins are at most `resolution_bpm` apart (it equals
the toolbox wherever the toolbox's own bins are that fine), and refuses windows too short to hold
`MIN_CYCLES` cycles of the band's lowest rate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import scipy.optimize
import scipy.signal

from codephys_plugin._checks import check_band, check_sampling_rate, check_signal, per_signal
from codephys_plugin.rppg.filters import DEFAULT_HIGH_HZ, DEFAULT_LOW_HZ, bandpass, detrend, integrate

SNR_HALF_WIDTH_HZ = 0.1
"""±6 bpm around the first and second harmonic of the reference HR count as signal."""

MIN_WINDOW_SAMPLES = 9
"""The toolbox skips windows shorter than filtfilt's padding."""
RESOLUTION_BPM = 1.0
"""Default largest spacing of `hr_fft`'s frequency bins."""
MIN_CYCLES = 2.0
"""A window must span this many periods of the band's low edge (3.3 s at 0.6 Hz) to give an HR."""

HRMethod = Literal["fft", "peak"]


def _next_pow2(n: int) -> int:
    return 1 << (n - 1).bit_length()


def _periodogram(signal: np.ndarray, fs: float, nfft: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    return scipy.signal.periodogram(signal, fs=fs, nfft=nfft or _next_pow2(signal.size), detrend=False)


def min_hr_samples(fs: float, low: float = DEFAULT_LOW_HZ) -> int:
    """The shortest window (samples at `fs`) that `hr_fft` measures: `MIN_CYCLES` periods of `low` Hz."""
    return int(math.ceil(MIN_CYCLES * check_sampling_rate(fs) / low))


def check_hr_window(samples: int, fs: float, low: float = DEFAULT_LOW_HZ, *, name: str = "window") -> None:
    """Refuse a window too short to resolve heart rates down to `low` Hz, saying the minimum."""
    needed = min_hr_samples(fs, low)
    if samples < needed:
        raise ValueError(
            f"{name}: {samples} samples ({samples / fs:.2f} s at {fs:g} Hz) are too short to measure a heart rate "
            f"down to {low:g} Hz; need at least {needed} samples ({needed / fs:.2f} s, {MIN_CYCLES:g} cycles)"
        )


def hr_fft(
    signal: object,
    fs: float,
    *,
    low: float = DEFAULT_LOW_HZ,
    high: float = DEFAULT_HIGH_HZ,
    resolution_bpm: float = RESOLUTION_BPM,
    interpolate: bool = False,
) -> float | np.ndarray:
    """HR in bpm of ``(... t)`` signals (a float for one 't' signal, else an array ``(...)``): the periodogram
    peak within ``[low, high]`` Hz, zero-padded to a power-of-two nfft whose bins are at most
    `resolution_bpm` apart (never fewer than the toolbox's next power of two ≥ t).

    `interpolate` refines the peak between bins by maximising the window's continuous spectrum (its DTFT,
    which the zero-padded FFT samples) within one bin of it, so the HR is not quantised to the bins."""
    fs = check_sampling_rate(fs)
    low, high = check_band(low, high, fs)
    if not (math.isfinite(resolution_bpm) and resolution_bpm > 0):
        raise ValueError(f"hr_fft: resolution_bpm must be a positive number of bpm, got {resolution_bpm}")
    return per_signal(signal, "hr_fft signal", lambda x, name: _hr_fft(x, fs, low, high, resolution_bpm,
                                                                       interpolate, name), min_length=2)


def _hr_fft(x: np.ndarray, fs: float, low: float, high: float, resolution_bpm: float, interpolate: bool,
            name: str) -> float:
    check_hr_window(x.size, fs, low, name=name)
    if np.ptp(x) == 0:
        raise ValueError(f"{name}: the signal is flat; it has no heart rate")
    nfft = max(_next_pow2(x.size), _next_pow2(math.ceil(60.0 * fs / resolution_bpm)))
    freqs, power = _periodogram(x, fs, nfft)
    band = (freqs >= low) & (freqs <= high)
    if not band.any():
        raise ValueError(f"{name}: no frequency bin in [{low}, {high}] Hz for {x.size} samples at {fs} Hz")
    if not np.any(power[band] > 0):
        raise ValueError(f"{name}: the signal has no power in [{low}, {high}] Hz")
    peak = float(freqs[band][np.argmax(power[band])])
    if interpolate:
        peak = _continuous_peak(x, fs, peak, fs / nfft, low, high)
    return peak * 60.0


def _continuous_peak(x: np.ndarray, fs: float, peak: float, bin_hz: float, low: float, high: float) -> float:
    """The frequency (Hz) within one bin of `peak` and inside the band where |DTFT(x)|² is largest."""
    times = np.arange(x.size) / fs

    def negative_power(frequency: float) -> float:
        return -abs(np.dot(x, np.exp(-2j * np.pi * frequency * times))) ** 2

    bounds = (max(low, peak - bin_hz), min(high, peak + bin_hz))
    found = scipy.optimize.minimize_scalar(negative_power, bounds=bounds, method="bounded",
                                           options={"xatol": 1e-5})
    return float(found.x) if negative_power(found.x) <= negative_power(peak) else peak


def hr_peaks(signal: object, fs: float, *, min_distance_s: float | None = None) -> float:
    """HR in bpm from the mean spacing of ``scipy.signal.find_peaks`` peaks.

    With the default ``min_distance_s=None`` every local maximum counts, as in the toolbox; on a
    signal that is not band-passed, set a refractory distance (e.g. 60/200 s).
    """
    x = check_signal(signal, "hr_peaks signal", min_length=3)
    fs = check_sampling_rate(fs)
    distance = None if min_distance_s is None else max(1, int(round(min_distance_s * fs)))
    peaks, _ = scipy.signal.find_peaks(x, distance=distance)
    if peaks.size < 2:
        raise ValueError(f"hr_peaks: found {peaks.size} peak(s); need at least two to measure a beat interval")
    return float(60.0 / (np.mean(np.diff(peaks)) / fs))


def snr_db(
    signal: object, reference_hr_bpm: float, fs: float, *, low: float = DEFAULT_LOW_HZ, high: float = DEFAULT_HIGH_HZ
) -> float:
    """SNR (dB) of `signal` around the reference HR's first two harmonics vs the rest of the band.

    Signal power: periodogram within ±0.1 Hz of f0 and of 2·f0, f0 = reference HR / 60. Noise power:
    everything else within ``[low, high]``. 0 dB when there is no noise power (toolbox convention).
    """
    x = check_signal(signal, "snr signal", min_length=2)
    fs = check_sampling_rate(fs)
    low, high = check_band(low, high, fs)
    if not np.isfinite(reference_hr_bpm) or reference_hr_bpm <= 0:
        raise ValueError(f"snr: reference HR must be a positive number of bpm, got {reference_hr_bpm}")
    freqs, power = _periodogram(x, fs)
    f0 = reference_hr_bpm / 60.0
    near_harmonic = (np.abs(freqs - f0) <= SNR_HALF_WIDTH_HZ) | (np.abs(freqs - 2 * f0) <= SNR_HALF_WIDTH_HZ)
    in_band = (freqs >= low) & (freqs <= high)
    signal_power = power[near_harmonic].sum()
    noise_power = power[in_band & ~near_harmonic].sum()
    if noise_power == 0:
        return 0.0
    if signal_power == 0:
        return float("-inf")
    return float(10.0 * np.log10(signal_power / noise_power))


def macc(prediction: object, label: object) -> float:
    """Maximum |Pearson r| between the prediction and the label circularly shifted by 0..t-2 samples."""
    pred = check_signal(prediction, "macc prediction", min_length=2)
    ref = check_signal(label, "macc label", min_length=2)
    if pred.size != ref.size:
        raise ValueError(f"macc: prediction has {pred.size} samples but label has {ref.size}")
    pred = pred - pred.mean()
    ref = ref - ref.mean()
    scale = np.sqrt((pred**2).sum() * (ref**2).sum())
    if scale == 0:
        raise ValueError("macc: correlation is undefined for a flat signal")
    # circular cross-correlation: entry k is sum_t pred[t] * roll(ref, k)[t] = sum_t pred[t] * ref[t - k]
    corr = np.fft.irfft(np.fft.rfft(pred) * np.conj(np.fft.rfft(ref)), n=pred.size)
    return float(np.max(np.abs(corr[: pred.size - 1])) / scale)


@dataclass(frozen=True)
class WindowEvaluation:
    hr_pred: float
    hr_label: float
    snr_db: float
    macc: float


def prepare_for_hr(
    signal: object,
    fs: float,
    *,
    diff_normalized: bool = False,
    low: float = DEFAULT_LOW_HZ,
    high: float = DEFAULT_HIGH_HZ,
) -> np.ndarray:
    """The toolbox's per-window post-processing of ``(... t)`` signals, each on its own: integrate
    (DiffNormalized only), detrend (λ=100), 1st-order Butterworth band-pass. Returns ``(... t)``."""

    def prepare(x: np.ndarray, name: str) -> np.ndarray:
        return bandpass(detrend(integrate(x) if diff_normalized else x), fs, low=low, high=high)

    return per_signal(signal, "signal", prepare, min_length=MIN_WINDOW_SAMPLES + 1)


def evaluate_window(
    prediction: object,
    label: object,
    fs: float,
    *,
    diff_normalized: bool = False,
    method: HRMethod = "fft",
    low: float = DEFAULT_LOW_HZ,
    high: float = DEFAULT_HIGH_HZ,
) -> WindowEvaluation:
    """HR of the prediction and of the label, SNR of the prediction at the label's HR, and MACC."""
    pred = prepare_for_hr(prediction, fs, diff_normalized=diff_normalized, low=low, high=high)
    ref = prepare_for_hr(label, fs, diff_normalized=diff_normalized, low=low, high=high)
    if pred.size != ref.size:
        raise ValueError(f"evaluate_window: prediction has {pred.size} samples but label has {ref.size}")
    if method == "fft":
        hr_pred, hr_label = hr_fft(pred, fs, low=low, high=high), hr_fft(ref, fs, low=low, high=high)
    elif method == "peak":
        hr_pred, hr_label = hr_peaks(pred, fs), hr_peaks(ref, fs)
    else:
        raise ValueError(f"evaluate_window: method must be 'fft' or 'peak', got {method!r}")
    return WindowEvaluation(hr_pred, hr_label, snr_db(pred, hr_label, fs, low=low, high=high), macc(pred, ref))
