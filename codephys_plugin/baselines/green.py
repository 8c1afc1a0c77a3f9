"""GREEN (Verkruysse et al. 2008): the green channel carries the strongest plethysmographic signal."""

from __future__ import annotations

import numpy as np

from codephys_plugin.baselines.validate import checked_trace


def green(trace: np.ndarray, fs: float) -> np.ndarray:
    """'t 3' RGB trace -> 't' pulse: minus the green channel's relative change (skin darkens as blood volume
    rises, so the sign makes the output follow the contact PPG)."""
    rgb = checked_trace(trace, fs, "green")
    channel = rgb[:, 1]
    return -(channel / channel.mean() - 1.0)
