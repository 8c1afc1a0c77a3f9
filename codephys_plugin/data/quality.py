"""Reject recordings that would teach the codebook garbage, with the reason and where it happens."""

from __future__ import annotations

import numpy as np

from codephys_plugin.data.recording import RecordingError

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
