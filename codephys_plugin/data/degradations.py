"""Video degradations for robustness tests: the paper's five (Section IV-H) and what real videos add.

Every degradation is a frozen dataclass with a `severity` in [0, 1] (0 is the identity, 1 the paper's range)
and is called as ``degradation(frames, rng)`` on ``t h w 3`` uint8 RGB, returning a new array of the same
shape and dtype. Where it can, it varies over time (slow random paths below the heart-rate band), and all
randomness comes from `rng`. `degrade` applies several in order.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from typing import Protocol, Sequence

import numpy as np
import scipy.ndimage
import torch
import torch.nn.functional as F
from PIL import Image

from codephys_plugin.data.slow_paths import slow_path
from codephys_plugin.data.video_noise import standard_normal


class Degradation(Protocol):
    severity: float

    def __call__(self, frames: np.ndarray, rng: np.random.Generator) -> np.ndarray: ...


def degrade(frames: np.ndarray, degradations: Sequence[Degradation], rng: np.random.Generator | int) -> np.ndarray:
    """Apply `degradations` in order, each with its own stream of `rng`."""
    rng = np.random.default_rng(rng)
    video = check_frames(frames)
    for degradation in degradations:
        video = degradation(video, rng)
    return video


def check_frames(frames: object) -> np.ndarray:
    video = np.asarray(frames)
    if video.ndim != 4 or video.shape[-1] != 3 or video.dtype != np.uint8:
        raise ValueError(f"degradation frames: expected uint8 (t h w 3), got {video.dtype} {video.shape}")
    return video


def _slow_path(frames: int, rng: np.random.Generator) -> np.ndarray:
    """A unit-peak random path over a clip, 0.3-3 cycles long: degradations change slowly, whatever the rate."""
    return slow_path(np.linspace(0, 1, frames), rng, (0.3, 3.0))


def _to_uint8(values: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(values), 0, 255).astype(np.uint8)


@dataclass(frozen=True)
class _Graded:
    """What every degradation shares: a checked severity, checked frames, and the identity at severity 0."""

    severity: float = 1.0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.severity) and 0 <= self.severity <= 1):
            raise ValueError(f"{type(self).__name__} severity: expected a number in [0, 1], got {self.severity}")

    def __call__(self, frames: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        video = check_frames(frames)
        return video.copy() if self.severity == 0 else self._apply(video, rng)

    def _apply(self, video: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        raise NotImplementedError


@dataclass(frozen=True)
class Defocus(_Graded):
    """Gaussian blur with a 5 × 5 kernel whose σ drifts over time, 0.5-1.5 px at severity 1."""

    def _apply(self, video: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        sigmas = self.severity * (1.0 + 0.5 * _slow_path(video.shape[0], rng))
        out = np.empty(video.shape, dtype=np.float32)
        for index, sigma in enumerate(sigmas):
            out[index] = scipy.ndimage.gaussian_filter(video[index].astype(np.float32), (sigma, sigma, 0),
                                                       truncate=2.0 / sigma, mode="nearest")
        return _to_uint8(out)


@dataclass(frozen=True)
class CameraNoise(_Graded):
    """Zero-mean Gaussian sensor noise per pixel and frame, σ up to 0.1 of full scale at severity 1."""

    def _apply(self, video: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        sigma = self.severity * 25.5 * (0.75 + 0.25 * _slow_path(video.shape[0], rng))
        noise = standard_normal(video.shape, rng) * sigma[:, None, None, None].astype(np.float32)
        return _to_uint8(video + noise)


@dataclass(frozen=True)
class VaryingResolution(_Graded):
    """Down-sampling to a size that wanders over time (down to 32-64 px at severity 1) and back up."""

    def _apply(self, video: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        size = video.shape[1]
        if size <= 32:
            return video.copy()
        lowest = rng.uniform(32, min(64, size))
        depth = self.severity * (size - lowest) * 0.5 * (1 + _slow_path(video.shape[0], rng))
        targets = np.maximum(8, np.rint(size - depth)).astype(int)
        out = video.copy()
        tensor = torch.from_numpy(video).permute(0, 3, 1, 2).float()
        for target in np.unique(targets[targets < size]):
            chosen = np.flatnonzero(targets == target)
            small = F.interpolate(tensor[chosen], scale_factor=target / size, mode="bilinear", antialias=True,
                                  align_corners=False)
            back = F.interpolate(small, size=video.shape[1:3], mode="bilinear", align_corners=False)
            out[chosen] = _to_uint8(back.permute(0, 2, 3, 1).numpy())
        return out


@dataclass(frozen=True)
class Occlusion(_Graded):
    """A square occluder (H/10 × W/10 at severity 1, smaller below) of one random colour, jumping to a new
    place inside `region` (the face; default the central half of the frame) about once a second."""

    hold_frames: int = 30

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.hold_frames < 1:
            raise ValueError(f"occlusion hold_frames: expected ≥ 1, got {self.hold_frames}")

    def __call__(self, frames: np.ndarray, rng: np.random.Generator, region: np.ndarray | None = None) -> np.ndarray:
        """`region`: an optional 'h w' or 't h w' mask of where the occluder may go (the face)."""
        video = check_frames(frames)
        out = video.copy()
        t, h, w, _ = video.shape
        side_h, side_w = int(round(self.severity * h / 10)), int(round(self.severity * w / 10))
        if side_h == 0 or side_w == 0:
            return out
        colour = rng.integers(0, 256, size=3, dtype=np.uint8)
        for start in range(0, t, self.hold_frames):
            rows, cols = self._place(region, start, h, w, side_h, side_w, rng)
            out[start : start + self.hold_frames, rows, cols] = colour
        return out

    @staticmethod
    def _place(region, frame, h, w, side_h, side_w, rng) -> tuple[slice, slice]:
        if region is None:
            top, left, bottom, right = h // 4, w // 4, 3 * h // 4, 3 * w // 4
        else:
            ys, xs = np.nonzero(np.asarray(region)[frame] if np.ndim(region) == 3 else np.asarray(region))
            top, left, bottom, right = ys.min(), xs.min(), ys.max() + 1, xs.max() + 1
        y = int(rng.integers(top, max(top + 1, bottom - side_h + 1)))
        x = int(rng.integers(left, max(left + 1, right - side_w + 1)))
        y, x = min(y, h - side_h), min(x, w - side_w)
        return slice(y, y + side_h), slice(x, x + side_w)


@dataclass(frozen=True)
class Brightness(_Graded):
    """A gamma curve that drifts over time, γ in 0.5-1.5 at severity 1; it keeps every pixel's order."""

    def _apply(self, video: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        gammas = 1 + 0.5 * self.severity * _slow_path(video.shape[0], rng)
        levels = np.arange(256, dtype=np.float64) / 255
        tables = _to_uint8(255 * levels[None, :] ** gammas[:, None])
        return np.take_along_axis(tables, video.reshape(video.shape[0], -1).astype(np.intp), axis=1).reshape(video.shape)


@dataclass(frozen=True)
class MotionBlur(_Graded):
    """A linear smear along one random direction, up to 7 px long at severity 1, its length drifting."""

    max_length_px: int = 7

    def _apply(self, video: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        lengths = np.rint(1 + self.severity * (self.max_length_px - 1) * 0.5 * (1 + _slow_path(video.shape[0], rng)))
        if lengths.max() <= 1:
            return video.copy()
        angle = rng.uniform(0, np.pi)
        out = video.copy()
        for length in np.unique(lengths[lengths > 1]).astype(int):
            chosen = np.flatnonzero(lengths == length)
            kernel = _line_kernel(length, angle)
            smeared = scipy.ndimage.convolve(video[chosen].astype(np.float32), kernel[None, :, :, None], mode="nearest")
            out[chosen] = _to_uint8(smeared)
        return out


def _line_kernel(length: int, angle: float) -> np.ndarray:
    """A normalised `length`-px line through the centre of a square kernel."""
    kernel = np.zeros((length, length), dtype=np.float32)
    centre = (length - 1) / 2
    for step in np.linspace(-centre, centre, 4 * length):
        kernel[int(round(centre + step * np.sin(angle))), int(round(centre + step * np.cos(angle)))] = 1
    return kernel / kernel.sum()


@dataclass(frozen=True)
class Compression(_Graded):
    """Real JPEG coding of every frame (libjpeg through Pillow, 4:2:0 chroma as in video codecs), quality from
    100 down to 10 at severity 1."""

    @property
    def quality(self) -> int:
        return int(round(100 - 90 * self.severity))

    def _apply(self, video: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return np.stack([self._code(frame) for frame in video])

    def _code(self, frame: np.ndarray) -> np.ndarray:
        buffer = io.BytesIO()
        Image.fromarray(frame).save(buffer, format="JPEG", quality=self.quality, subsampling="4:2:0")
        buffer.seek(0)
        with Image.open(buffer) as decoded:
            return np.asarray(decoded.convert("RGB"))


@dataclass(frozen=True)
class Flicker(_Graded):
    """Illumination flicker: a brightness modulation of up to ±10 % at severity 1, at a rate drawn in 0.5-5 Hz
    (the aliases of mains lighting land anywhere, the heart-rate band included)."""
    fs: float = 30.0

    def _apply(self, video: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        t = np.arange(video.shape[0]) / self.fs
        gain = 1 + 0.1 * self.severity * np.sin(2 * np.pi * rng.uniform(0.5, 5.0) * t + rng.uniform(0, 2 * np.pi))
        return _to_uint8(video * gain[:, None, None, None].astype(np.float32))


PAPER_DEGRADATIONS = {"defocus": Defocus, "noise": CameraNoise, "resolution": VaryingResolution,
                      "occlusion": Occlusion, "brightness": Brightness}
"""Section IV-H's five, by name."""
DEGRADATIONS = {**PAPER_DEGRADATIONS, "motion_blur": MotionBlur, "compression": Compression, "flicker": Flicker}
