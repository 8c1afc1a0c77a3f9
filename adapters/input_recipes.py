"""The input recipes of the public networks, per clip: raw RGB frames -> what each network was trained on.

The rPPG-Toolbox normalises with statistics of the whole video before cutting clips; these recipes use
the clip's own statistics (one scalar per clip), so a clip is self-contained. Every recipe consumes
t+1 frames and gives t steps, one per frame difference; step j belongs to the interval (j, j+1), which
is also where the toolbox's DiffNormalized label j sits.
"""

from __future__ import annotations

import numpy as np
import torch

from codephys_plugin._checks import check_tensor

_EPS = 1e-7


def check_frames(frames: object, name: str = "frames") -> torch.Tensor:
    """Raw RGB frames (uint8, or floats in pixel units), t ≥ 2, returned as float32 'b t c h w'.

    Torch tensors are 'b t c h w'; NumPy arrays are what video readers give, 't h w c' (one clip) or
    'b t h w c', and are moved to 'b t c h w'."""
    if isinstance(frames, np.ndarray):
        frames = _from_channels_last(frames, name)
    if isinstance(frames, torch.Tensor) and not frames.is_floating_point():
        frames = frames.float()
    check_tensor(frames, name, "b t c h w", sizes={"c": 3})
    if frames.shape[1] < 2:
        raise ValueError(f"{name}: expected at least 2 frames (t+1 frames give t steps); got shape {tuple(frames.shape)}")
    return frames.float()


def _from_channels_last(frames: np.ndarray, name: str) -> torch.Tensor:
    if frames.ndim not in (4, 5) or frames.shape[-1] != 3:
        raise ValueError(f"{name}: a NumPy array must be RGB frames 't h w c' or 'b t h w c' with c = 3, "
                         f"got shape {frames.shape}")
    if not (np.issubdtype(frames.dtype, np.integer) or np.issubdtype(frames.dtype, np.floating)):
        raise ValueError(f"{name}: expected uint8 or float pixel values, got dtype {frames.dtype}")
    clips = frames if frames.ndim == 5 else frames[None]
    return torch.from_numpy(np.ascontiguousarray(clips, dtype=np.float32)).permute(0, 1, 4, 2, 3)


def _scale_per_clip(x: torch.Tensor, centre: bool) -> torch.Tensor:
    """Divide each clip by its std over (t c h w), after removing its mean when `centre`; flat clips give zeros."""
    dims = tuple(range(1, x.dim()))
    if centre:
        x = x - x.mean(dim=dims, keepdim=True)
    std = x.std(dim=dims, keepdim=True, unbiased=False)
    return torch.where(std > 0, x / std.clamp_min(_EPS), torch.zeros_like(x))


def diff_normalized(frames: torch.Tensor) -> torch.Tensor:
    """'b (t+1) c h w' -> 'b t c h w': (x[j+1] − x[j]) / (x[j+1] + x[j]), scaled to unit std per clip."""
    frames = check_frames(frames)
    ratio = (frames[:, 1:] - frames[:, :-1]) / (frames[:, 1:] + frames[:, :-1] + _EPS)
    return _scale_per_clip(ratio, centre=False)


def standardized(frames: torch.Tensor) -> torch.Tensor:
    """'b t c h w' -> 'b t c h w' z-scored per clip (one mean and std over t c h w)."""
    return _scale_per_clip(check_frames(frames), centre=True)


def bgr_residuals(frames: torch.Tensor) -> torch.Tensor:
    """'b (t+1) c h w' RGB -> 'b t c h w' BGR differences x[j+1] − x[j] in pixel units (SSPD's recipe)."""
    frames = check_frames(frames).flip(2)
    return frames[:, 1:] - frames[:, :-1]
