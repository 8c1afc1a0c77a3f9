"""From frames to the ``t 3`` RGB trace the classic methods read: the mean colour of the region per frame."""

from __future__ import annotations

import numpy as np


def rgb_trace(frames: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """'t h w 3' frames (any real dtype) and an optional 'h w' or 't h w' boolean region -> 't 3' float64 means.

    Frames whose region is empty are refused: a mean over no pixels is not a colour.
    """
    video = np.asarray(frames)
    if video.ndim != 4 or video.shape[-1] != 3 or video.shape[0] < 2:
        raise ValueError(f"rgb_trace frames: expected shape (t h w 3) with t ≥ 2, got {video.shape}")
    if not np.issubdtype(video.dtype, np.integer) and not np.issubdtype(video.dtype, np.floating):
        raise ValueError(f"rgb_trace frames: expected real pixel values, got dtype {video.dtype}")
    video = video.astype(np.float64, copy=False)
    if mask is None:
        return video.mean(axis=(1, 2))
    region = np.broadcast_to(np.asarray(mask, dtype=bool), video.shape[:3])
    counts = region.sum(axis=(1, 2))
    if np.any(counts == 0):
        raise ValueError(f"rgb_trace mask: frame {int(np.flatnonzero(counts == 0)[0])} has no pixel in the region")
    return np.einsum("thwc,thw->tc", video, region) / counts[:, None]
