"""Bring a recording to the model's rate: resample on its timestamps, never across gaps."""

from __future__ import annotations

import numpy as np
import scipy.signal

from codephys_plugin.data.recording import Recording, RecordingError

MIN_GAP_S = 0.5
"""A gap is a missing stretch of signal: an interval of at least this long (and of GAP_FACTOR median
intervals, for slow clocks). Real clocks jitter far less: UBFC-rPPG's ~29 Hz stamps reach 0.22 s,
PhysioKit's 4-ms stamps 10 ms."""
GAP_FACTOR = 5.0
PLAUSIBLE_RATE_HZ = (5.0, 5000.0)
"""Contact-PPG sensors sample between these rates; stamps outside are read in the wrong unit
(seconds read as milliseconds give kHz rates, milliseconds read as seconds a fraction of a hertz)."""
RATE_TOLERANCE = 0.05
"""Relative disagreement allowed between timestamps and a given sampling rate before it is an error."""


def timestamps_of(recording: Recording) -> np.ndarray:
    """Sample times in seconds, checked: finite and never going backwards (repeats are allowed here
    and merged by `merge_repeated_times`)."""
    if recording.timestamps_s is None:
        return np.arange(len(recording.values)) / float(recording.fs)
    times = np.asarray(recording.timestamps_s, dtype=np.float64)
    if not np.all(np.isfinite(times)):
        raise RecordingError(recording.name, "timestamps contain NaN or Inf")
    steps = np.diff(times)
    if np.any(steps < 0):
        first = int(np.flatnonzero(steps < 0)[0])
        raise RecordingError(
            recording.name, f"timestamps go backwards (sample {first + 1}: {times[first]} -> {times[first + 1]})"
        )
    if times.size > 1 and times[-1] == times[0]:
        raise RecordingError(recording.name, f"all {times.size} timestamps are the same ({times[0]} s)")
    if times.size > 1:
        check_plausible_rate(recording.name, clock_rate(times))
    if recording.fs is not None:
        implied = clock_rate(times)
        if abs(implied - recording.fs) > RATE_TOLERANCE * recording.fs:
            raise RecordingError(
                recording.name,
                f"contradictory sampling rates: timestamps imply {implied:.2f} Hz but {recording.fs:g} Hz was given",
            )
    return times


def clock_rate(times: np.ndarray) -> float:
    """Samples per second over the whole recording, (n − 1) / (t_last − t_first): 1 / median(step)
    is wrong for quantised or jittery stamps (PhysioKit's whole-ms stamps: 250 Hz for 255–275 Hz)."""
    return (times.size - 1) / (times[-1] - times[0])


def check_plausible_rate(name: str, rate: float) -> None:
    low, high = PLAUSIBLE_RATE_HZ
    if not low <= rate <= high:
        raise RecordingError(
            name, f"timestamps imply {rate:.4g} Hz, outside the {low:g}-{high:g} Hz of PPG sensors: are they in "
                  "the unit you think? For a CSV, --time-unit says it (s, ms, us or ns; default ms)",
        )


def merge_repeated_times(times: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """Samples that share a timestamp become one sample at that time with their mean value.

    Acquisition software writes a stamp twice now and then (UBFC-rPPG subject 1: 16.75 s twice).
    Returns the strictly increasing times, the values, and how many samples were folded away.
    """
    unique, first, counts = np.unique(times, return_index=True, return_counts=True)
    if unique.size == times.size:
        return times, values, 0
    sums = np.add.reduceat(values, first)
    return unique, sums / counts, int(times.size - unique.size)


def split_at_gaps(times: np.ndarray) -> list[slice]:
    """Index ranges of the stretches between gaps (see MIN_GAP_S) of strictly increasing `times`."""
    if times.size < 2:
        return [slice(0, times.size)]
    steps = np.diff(times)
    limit = max(MIN_GAP_S, GAP_FACTOR * float(np.median(steps)))
    breaks = np.flatnonzero(steps > limit) + 1
    edges = [0, *breaks.tolist(), times.size]
    return [slice(a, b) for a, b in zip(edges[:-1], edges[1:])]


def resample_segment(times: np.ndarray, values: np.ndarray, target_fs: float) -> np.ndarray:
    """Uniform samples ``(t' ...)`` at `target_fs` over ``[times[0], times[-1]]`` of values ``(t ...)``
    (a signal, or frames: every trailing position is resampled on its own).

    Jittered samples are first interpolated onto a uniform grid at their own mean rate; when that
    rate is above the target, a zero-phase low-pass at 0.45 × target_fs removes what would alias.
    """
    duration = times[-1] - times[0]
    if times.size < 2 or duration <= 0:
        return np.empty((0, *np.shape(values)[1:]))
    native_fs = (times.size - 1) / duration
    native_grid = times[0] + np.arange(times.size) / native_fs
    uniform = _interpolate(native_grid, times, np.asarray(values, dtype=np.float64))
    if native_fs > target_fs and uniform.shape[0] > 27:
        sos = scipy.signal.butter(8, 0.45 * target_fs, btype="lowpass", fs=native_fs, output="sos")
        uniform = scipy.signal.sosfiltfilt(sos, uniform, axis=0)
    target_grid = times[0] + np.arange(int(np.floor(duration * target_fs)) + 1) / target_fs
    return _interpolate(target_grid, native_grid, uniform)


def _interpolate(grid: np.ndarray, times: np.ndarray, values: np.ndarray) -> np.ndarray:
    """`np.interp` along the first axis of ``(t ...)`` values (ends held)."""
    if values.ndim == 1:
        return np.interp(grid, times, values)
    right = np.clip(np.searchsorted(times, grid, side="right"), 1, times.size - 1)
    left = right - 1
    weight = np.clip((grid - times[left]) / (times[right] - times[left]), 0.0, 1.0)
    weight = weight.reshape(-1, *([1] * (values.ndim - 1)))
    return (1 - weight) * values[left] + weight * values[right]


def resample_on_times(times: np.ndarray, values: np.ndarray, target_fs: float) -> list[np.ndarray]:
    """The gap-free stretches of ``values`` sampled at strictly increasing ``times`` (checked by
    `timestamps_of`, repeats merged), each resampled to `target_fs`."""
    return [resample_segment(times[part], values[part], target_fs) for part in split_at_gaps(times)]
