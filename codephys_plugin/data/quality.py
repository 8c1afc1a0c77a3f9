"""Reject recordings that would teach the codebook garbage, with the reason and where it happens."""

from __future__ import annotations

import math

import numpy as np
import scipy.signal

from codephys_plugin.data.recording import RecordingError
from codephys_plugin.rppg.filters import DEFAULT_HIGH_HZ, DEFAULT_LOW_HZ, detrend

FLAT_SECONDS = 2.0
"""A sensor reading that does not change for this long has fallen off or saturated."""


def check_values(name: str, values: np.ndarray, times: np.ndarray) -> None:
    """NaN/Inf runs and flat-lined stretches are errors naming the first offending time."""
    if values.size == 0:
        raise RecordingError(name, "no samples")
    bad = ~np.isfinite(values)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise RecordingError(
            name, f"{int(bad.sum())} NaN/Inf sample(s), first at sample {first} (t = {times[first] - times[0]:.2f} s)"
        )
    start, length = longest_constant_run(values)
    if length > 1 and times[start + length - 1] - times[start] >= FLAT_SECONDS:
        seconds = times[start + length - 1] - times[start]
        raise RecordingError(
            name, f"flat-lined sensor: constant for {seconds:.1f} s from t = {times[start] - times[0]:.2f} s"
        )


def longest_constant_run(values: np.ndarray) -> tuple[int, int]:
    """(start, length) of the longest run of identical consecutive samples."""
    changes = np.flatnonzero(np.diff(values) != 0) + 1
    edges = np.concatenate([[0], changes, [values.size]])
    lengths = np.diff(edges)
    longest = int(np.argmax(lengths))
    return int(edges[longest]), int(lengths[longest])


PULSE_BAND_HZ = (DEFAULT_LOW_HZ, DEFAULT_HIGH_HZ)
PULSE_FLOOR_RATIO = 10.0
"""A window carries a pulse when its mean power density in the pulse band is at least this many times
(10 dB) the noise floor, the median density between `NOISE_FLOOR_FRACTION`·fs and `NOISE_FLOOR_TOP`·fs
(10-12 Hz at 30 Hz: below the resampler's anti-alias cut at 0.45·fs, which would lower the floor). Measured at 30 Hz on PhysioKit
(1,748 windows of 160 samples, finger and ear): 27 at the lowest, 62 at the 0.1th percentile; 1 ± 1e-9
noise resampled from 30-250 Hz: 7.5 at the highest of 1,320 windows."""
NOISE_FLOOR_FRACTION = 1 / 3
NOISE_FLOOR_TOP = 0.4


def pulse_to_floor_ratio(window: np.ndarray, fs: float) -> float:
    """In-band density over the high-frequency noise floor of one unfiltered window (nan: no floor band)."""
    low, high = PULSE_BAND_HZ
    freqs, power = scipy.signal.periodogram(detrend(window), fs=fs)
    floor_band = (freqs >= max(NOISE_FLOOR_FRACTION * fs, 1.5 * high)) & (freqs <= NOISE_FLOOR_TOP * fs)
    if floor_band.sum() < 3:
        return math.nan
    floor = np.median(power[floor_band])
    pulse = power[(freqs >= low) & (freqs <= high)].mean()
    if floor == 0:
        return math.inf if pulse > 0 else 0.0
    return float(pulse / floor)


def pulse_stretches(segment: np.ndarray, fs: float, window: int) -> tuple[list[slice], int]:
    """The stretches of `segment` made of consecutive `window`-sample blocks that carry a pulse, and
    how many blocks did not; a tail shorter than a block shares the verdict of the block before it.

    Noise without a pulse (a sensor off the skin, 1.0 ± 1e-9, ADC values toggling 512/513) would be
    z-scored to full scale by the windowing and taught to the codebook as if it were PPG. A rate too
    low for a floor band (fs < 3 × 3.3 Hz) keeps every block.
    """
    blocks = max(1, segment.size // window)
    edges = [k * window for k in range(blocks)] + [segment.size]
    ratios = [pulse_to_floor_ratio(segment[a:b], fs) for a, b in zip(edges, edges[1:])]
    keep = [math.isnan(ratio) or ratio >= PULSE_FLOOR_RATIO for ratio in ratios]
    stretches, start = [], None
    for k, kept in enumerate(keep + [False]):
        if kept and start is None:
            start = edges[k]
        elif not kept and start is not None:
            stretches.append(slice(start, edges[k]))
            start = None
    return stretches, keep.count(False)
