"""Bring a recording to the model's rate: resample on its timestamps, never across gaps."""

from __future__ import annotations

import numpy as np
import scipy.signal

from codephys_plugin.data.recording import Recording, RecordingError

GAP_FACTOR = 5.0
"""An interval longer than this many median intervals is a gap: the recording is split there."""
RATE_TOLERANCE = 0.05
"""Relative disagreement allowed between timestamps and a given --fs before it is an error."""


def timestamps_of(recording: Recording) -> np.ndarray:
    """Sample times in seconds, checked: finite and strictly increasing."""
    if recording.timestamps_s is None:
        return np.arange(len(recording.values)) / float(recording.fs)
    times = np.asarray(recording.timestamps_s, dtype=np.float64)
    if not np.all(np.isfinite(times)):
        raise RecordingError(recording.name, "timestamps contain NaN or Inf")
    steps = np.diff(times)
    if np.any(steps <= 0):
        first = int(np.flatnonzero(steps <= 0)[0])
        raise RecordingError(
            recording.name, f"timestamps are not strictly increasing (sample {first + 1}: {times[first]} -> {times[first + 1]})"
        )
    if recording.fs is not None:
        implied = 1.0 / np.median(steps)
        if abs(implied - recording.fs) > RATE_TOLERANCE * recording.fs:
            raise RecordingError(
                recording.name,
                f"contradictory sampling rates: timestamps imply {implied:.2f} Hz but {recording.fs:g} Hz was given",
            )
    return times


def split_at_gaps(times: np.ndarray) -> list[slice]:
    """Index ranges of the stretches between gaps (intervals > GAP_FACTOR × the median interval)."""
    if times.size < 2:
        return [slice(0, times.size)]
    steps = np.diff(times)
    breaks = np.flatnonzero(steps > GAP_FACTOR * np.median(steps)) + 1
    edges = [0, *breaks.tolist(), times.size]
    return [slice(a, b) for a, b in zip(edges[:-1], edges[1:])]


def resample_segment(times: np.ndarray, values: np.ndarray, target_fs: float) -> np.ndarray:
    """Uniform samples at `target_fs` over ``[times[0], times[-1]]``.

    Jittered samples are first interpolated onto a uniform grid at their own mean rate; when that
    rate is above the target, a zero-phase low-pass at 0.45 × target_fs removes what would alias.
    """
    duration = times[-1] - times[0]
    if times.size < 2 or duration <= 0:
        return np.empty(0)
    native_fs = (times.size - 1) / duration
    native_grid = times[0] + np.arange(times.size) / native_fs
    uniform = np.interp(native_grid, times, values)
    if native_fs > target_fs and uniform.size > 27:
        sos = scipy.signal.butter(8, 0.45 * target_fs, btype="lowpass", fs=native_fs, output="sos")
        uniform = scipy.signal.sosfiltfilt(sos, uniform)
    target_grid = times[0] + np.arange(int(np.floor(duration * target_fs)) + 1) / target_fs
    return np.interp(target_grid, native_grid, uniform)


def resample_on_times(times: np.ndarray, values: np.ndarray, target_fs: float) -> list[np.ndarray]:
    """The gap-free stretches of ``values`` sampled at checked ``times`` (see `timestamps_of`), each
    resampled to `target_fs`."""
    return [resample_segment(times[part], values[part], target_fs) for part in split_at_gaps(times)]
