"""POS, plane-orthogonal-to-skin (Wang, den Brinker, Stuijk & de Haan 2017, Algorithm 1)."""

from __future__ import annotations

import math

import numpy as np

from codephys_plugin.baselines.validate import checked_trace

WINDOW_S = 1.6
"""The paper's sliding window, about one period of the slowest pulse (37.5 bpm)."""
PROJECTION = np.array([[0.0, 1.0, -1.0], [-2.0, 1.0, 1.0]])
"""Two axes of the plane orthogonal to the skin tone in temporally normalised RGB."""


def pos(trace: np.ndarray, fs: float, *, window_s: float = WINDOW_S) -> np.ndarray:
    """'t 3' RGB trace -> 't' pulse, overlap-added from windows of `window_s` seconds.

    Each window is divided by its mean colour, projected onto the plane, and the two projections are
    combined with the ratio of their standard deviations (alpha tuning), which cancels distortions that
    both share (specular and intensity changes). The sign is flipped so that the output follows the
    contact PPG (blood volume up), as GREEN's and CHROM's do: the projections follow reflected light,
    which falls as blood volume rises."""
    rgb = checked_trace(trace, fs, "pos")
    length = max(2, math.ceil(window_s * fs))
    if rgb.shape[0] < length:
        raise ValueError(f"pos trace: {rgb.shape[0]} samples; one {window_s:g}-s window needs {length} at {fs:g} Hz")
    pulse = np.zeros(rgb.shape[0])
    for end in range(length, rgb.shape[0] + 1):
        window = rgb[end - length : end]
        projected = PROJECTION @ (window / window.mean(axis=0)).T
        spread = projected[1].std()
        combined = projected[0] + (projected[0].std() / spread if spread > 0 else 0.0) * projected[1]
        pulse[end - length : end] += combined - combined.mean()
    return -pulse
