"""Join overlapping windows of one signal back into the signal, each sample once.

Windows that overlap (a hop shorter than the window) hold some samples twice; concatenating them would
repeat those samples and fake extra beats. Where windows overlap their values are averaged; a sample no
window covers is a hole, and a signal is never joined over one.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np


def stitch_windows(starts: Sequence[int], windows: Sequence[np.ndarray]) -> np.ndarray:
    """``(t)`` from windows ``(w_i)`` starting at sample `starts[i]` (any order, overlaps averaged).

    Raises ValueError naming the first sample no window covers, or a negative start."""
    if len(starts) != len(windows) or not windows:
        raise ValueError(f"stitch_windows: expected one start per window and at least one, got {len(starts)} "
                         f"starts and {len(windows)} windows")
    if min(starts) < 0:
        raise ValueError(f"stitch_windows: window starts must be ≥ 0, got {min(starts)}")
    first = min(starts)
    length = max(start + len(window) for start, window in zip(starts, windows)) - first
    total, count = np.zeros(length), np.zeros(length)
    for start, window in zip(starts, windows):
        values = np.asarray(window, dtype=np.float64).reshape(-1)
        total[start - first:start - first + values.size] += values
        count[start - first:start - first + values.size] += 1
    holes = np.flatnonzero(count == 0)
    if holes.size:
        raise ValueError(f"stitch_windows: sample {first + holes[0]} is covered by no window; a signal is not "
                         "joined over a hole")
    return total / count
