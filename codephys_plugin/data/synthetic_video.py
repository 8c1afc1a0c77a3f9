"""Synthetic face videos with a known pulse: Stage II training data that needs no dataset.

A skin-coloured ellipse on a darker background gives spatial attention a face to find. Only skin
pixels carry the pulse, mostly in green (the skin's pulse blood-volume signature R:G:B ≈ 0.33:0.77:0.53)
and with the physical sign: skin darkens as blood volume rises, so the colour change is the
negative of the contact PPG. The pulse is our synthetic PPG at the clip's HR, so beat shape and
HR variability are realistic; sensor noise, a slow illumination drift and a small translation of
the face are the interference. A clip holds T + 1 frames so frame differences give T steps, and
``ppg[i]`` is the pulse rendered into ``frames[i]``.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import Dataset

from codephys_plugin._checks import check_tensor
from codephys_plugin.data.synthetic_ppg import SyntheticPPGConfig, synthesize_ppg

PULSE_RGB_WEIGHTS = (0.33, 0.77, 0.53)
"""Pulse amplitude per channel (R, G, B) relative to `pulse_amplitude`."""
SKIN_RGB_RANGE = ((170.0, 230.0), (110.0, 170.0), (90.0, 140.0))
"""Per-clip skin colour, drawn uniformly per channel (pixel levels)."""
BACKGROUND_RGB_RANGE = (15.0, 60.0)
FACE_SEMI_AXES = ((0.28, 0.34), (0.36, 0.44))
"""Horizontal and vertical semi-axis of the face ellipse, as fractions of the frame size."""
FACE_CENTRE_JITTER = 0.05
"""Largest offset of the face centre from the frame centre, as a fraction of the frame size."""
EDGE_SHADING = 0.15
"""Skin darkens by this fraction from the face centre to its edge."""
EDGE_WIDTH_PX = 1.0
INTERFERENCE_RATE_HZ = (0.05, 0.5)
"""Illumination drift and head motion stay below the lowest heart rate."""


@dataclass(frozen=True)
class SyntheticVideoConfig:
    frames: int = 160
    """T: PPG samples per clip; the clip has T + 1 frames."""
    size: int = 72
    """Frame height and width (pixels)."""
    fs: float = 30.0
    hr_range_bpm: tuple[float, float] = (45.0, 150.0)
    pulse_amplitude: float = 1.5
    """Beat peak-to-peak skin change in pixel levels before the channel weights (green: ~1.2 levels)."""
    noise_std: float = 2.0
    """Per-pixel, per-frame Gaussian sensor noise (pixel levels)."""
    illumination_drift: float = 0.0
    """Peak relative change of the global brightness (0.05: ±5%); 0 turns it off."""
    motion_px: float = 0.0
    """Peak translation of the face per axis (pixels); 0 keeps it still."""
    seed: int = 0

    def __post_init__(self) -> None:
        if self.frames < 8:
            raise ValueError(f"frames must be at least 8, got {self.frames}")
        if self.size < 16:
            raise ValueError(f"size must be at least 16 pixels, got {self.size}")
        if not (np.isfinite(self.fs) and self.fs > 0):
            raise ValueError(f"fs must be a positive sampling rate in Hz, got {self.fs}")
        low, high = self.hr_range_bpm
        if not 0 < low <= high:
            raise ValueError(f"hr_range_bpm must satisfy 0 < low <= high, got {self.hr_range_bpm}")
        if high / 60.0 >= self.fs / 2:
            raise ValueError(f"HR up to {high} bpm aliases at fs={self.fs} Hz")
        if min(self.pulse_amplitude, self.noise_std, self.motion_px) < 0:
            raise ValueError("pulse_amplitude, noise_std and motion_px must be non-negative")
        if not 0 <= self.illumination_drift < 1:
            raise ValueError(f"illumination_drift must be in [0, 1), got {self.illumination_drift}")
        if self.motion_px > self.size / 4:
            raise ValueError(f"motion_px must be at most size/4 = {self.size / 4}, got {self.motion_px}")
        if self.seed < 0:
            raise ValueError(f"seed must be non-negative, got {self.seed}")


@dataclass(frozen=True, eq=False)
class SyntheticClip:
    frames: torch.Tensor
    """``(t c h w)`` float32 RGB in pixel levels 0-255, with t = T + 1."""
    ppg: torch.Tensor
    """``(t)`` float32 z-scored PPG, t = T; ``ppg[i]`` is the pulse in ``frames[i]``."""
    hr_bpm: float
    """Mean rate of the generated beats."""

    def __post_init__(self) -> None:
        check_tensor(self.frames, "frames", "t c h w", sizes={"c": 3})
        check_tensor(self.ppg, "ppg", "t", sizes={"t": self.frames.shape[0] - 1})


def synthesize_clip(config: SyntheticVideoConfig, rng: np.random.Generator | int) -> SyntheticClip:
    """One clip; every random draw comes from `rng`, in the same order whatever the interference."""
    rng = np.random.default_rng(rng)
    count = config.frames + 1
    ppg = synthesize_ppg(
        SyntheticPPGConfig(fs=config.fs, duration_s=count / config.fs, hr_range_bpm=config.hr_range_bpm), seed=rng
    )
    t = np.arange(count) / config.fs
    skin_rgb = np.array([rng.uniform(*channel) for channel in SKIN_RGB_RANGE], dtype=np.float32)
    background_rgb = rng.uniform(*BACKGROUND_RGB_RANGE, size=3).astype(np.float32)
    centre = config.size * (0.5 + rng.uniform(-FACE_CENTRE_JITTER, FACE_CENTRE_JITTER, size=2)) - 0.5
    semi_axes = config.size * np.array([rng.uniform(*FACE_SEMI_AXES[0]), rng.uniform(*FACE_SEMI_AXES[1])])
    motion = config.motion_px * np.stack([_slow_path(t, rng), _slow_path(t, rng)], axis=1)
    gain = 1 + config.illumination_drift * _slow_path(t, rng)

    mask, radius = _face(config.size, centre + motion, semi_axes)
    pulse = (ppg.signal - ppg.signal.mean()).astype(np.float32)
    weights = np.asarray(PULSE_RGB_WEIGHTS, dtype=np.float32)
    skin = skin_rgb[None, :, None, None] * (1 - EDGE_SHADING * radius[:, None] ** 2)
    skin = skin - config.pulse_amplitude * weights[None, :, None, None] * pulse[:, None, None, None]
    frames = mask[:, None] * skin + (1 - mask[:, None]) * background_rgb[None, :, None, None]
    frames = frames * gain.astype(np.float32)[:, None, None, None]
    frames += config.noise_std * rng.standard_normal(frames.shape, dtype=np.float32)
    frames = np.clip(frames, 0.0, 255.0, out=frames)

    label = ppg.signal[: config.frames]
    label = (label - label.mean()) / label.std()
    return SyntheticClip(
        frames=torch.from_numpy(np.asarray(frames, dtype=np.float32)),
        ppg=torch.from_numpy(label.astype(np.float32)),
        hr_bpm=ppg.hr_bpm,
    )


class SyntheticClipDataset(Dataset):
    """`count` clips; clip i is drawn from a generator seeded with ``(config.seed, i)``."""

    def __init__(self, count: int, config: SyntheticVideoConfig = SyntheticVideoConfig()) -> None:
        if count < 1:
            raise ValueError(f"count must be at least 1, got {count}")
        self.count = count
        self.config = config

    def __len__(self) -> int:
        return self.count

    def fingerprint(self) -> str:
        return f"synthetic {self.count} {self.config!r}"

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        """``(frames, ppg)``: frames ``(t c h w)`` with t = T + 1, ppg ``(t)`` with t = T."""
        index = operator.index(index)
        if not 0 <= index < self.count:
            raise IndexError(f"clip index {index} out of range for {self.count} clips")
        clip = synthesize_clip(self.config, np.random.default_rng((self.config.seed, index)))
        return clip.frames, clip.ppg


def _face(size: int, centres: np.ndarray, semi_axes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Soft ellipse mask and normalised elliptic radius, both ``(t h w)``, for centres ``(t 2)`` as (x, y)."""
    grid = np.arange(size, dtype=np.float32)
    dx = (grid[None, None, :] - centres[:, 0, None, None].astype(np.float32)) / semi_axes[0]
    dy = (grid[None, :, None] - centres[:, 1, None, None].astype(np.float32)) / semi_axes[1]
    radius = np.sqrt(dx**2 + dy**2).astype(np.float32)
    mask = np.clip((1 - radius) * (semi_axes.min() / EDGE_WIDTH_PX) + 0.5, 0.0, 1.0).astype(np.float32)
    return mask, radius


def _slow_path(t: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A few random sinusoids in `INTERFERENCE_RATE_HZ`, peak amplitude at most 1."""
    freqs = rng.uniform(*INTERFERENCE_RATE_HZ, size=3)
    phases = rng.uniform(0, 2 * np.pi, size=3)
    weights = rng.dirichlet(np.ones(3))
    return (weights[:, None] * np.sin(2 * np.pi * freqs[:, None] * t[None, :] + phases[:, None])).sum(axis=0)
