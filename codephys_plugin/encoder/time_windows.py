"""Clips longer than the codebook's window: queried window by window, the decoded windows overlap-added.

Stage I's codes describe windows of its own length (160 samples by default); a longer clip (the toolbox's
180-frame chunks, a whole video) is cut after the backbone into overlapping windows of that length, each
window's tokens are encoded, quantised and decoded on their own, and the decoded windows are joined with
overlaps averaged, so every sample is output once. The backbone still sees the whole clip. Window starts
are multiples of `hop` plus one final window flush with the clip's end.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import Tensor

from codephys_plugin.encoder.signal_encoder import TOKEN_STRIDE


@dataclass(frozen=True)
class TimeWindows:
    """Windows of `window` samples every `hop` samples (both multiples of the 4-sample token stride)."""

    window: int
    hop: int

    def __post_init__(self) -> None:
        if self.window < TOKEN_STRIDE or self.window % TOKEN_STRIDE:
            raise ValueError(f"TimeWindows: window must be a positive multiple of {TOKEN_STRIDE}, got {self.window}")
        if not 0 < self.hop <= self.window or self.hop % TOKEN_STRIDE:
            raise ValueError(f"TimeWindows: hop must be a multiple of {TOKEN_STRIDE} in (0, window={self.window}], "
                             f"got {self.hop}")

    @classmethod
    def half_overlapping(cls, window: int) -> TimeWindows:
        """The default: a hop of half the window, rounded down to the token stride."""
        return cls(window=window, hop=max(TOKEN_STRIDE, window // 2 // TOKEN_STRIDE * TOKEN_STRIDE))

    def check_steps_multiple(self, multiple: int, backbone: str) -> None:
        """A backbone that takes clips of a multiple of `multiple` steps only (EfficientPhys: its frame_depth)
        needs a window that is one too, or no clip of one window exists; refused up front with the choices."""
        if self.window % multiple == 0:
            return
        step = math.lcm(TOKEN_STRIDE, multiple)
        divisors = [d for d in range(1, self.window + 1) if self.window % d == 0]
        raise ValueError(
            f"{backbone} takes clips of a multiple of {multiple} steps, but the codebook's window is {self.window} "
            f"samples: a window must be a multiple of {TOKEN_STRIDE} and of {multiple} "
            f"({', '.join(str(step * k) for k in range(1, 4))}, …); pretrain one with `codephys-pretrain --window "
            f"{step * max(1, round(self.window / step))}`, or build {backbone} with a step multiple (EfficientPhys: "
            f"frame_depth) dividing {self.window}: {', '.join(map(str, divisors))}"
        )

    def starts(self, length: int) -> list[int]:
        """First sample of each window over a clip of `length` samples."""
        if length < self.window:
            raise ValueError(f"a clip of {length} samples is shorter than the codebook's {self.window}-sample window")
        starts = list(range(0, length - self.window + 1, self.hop))
        if starts[-1] != length - self.window:
            starts.append(length - self.window)
        return starts

    def split(self, x: Tensor, length: int) -> Tensor:
        """'b c t ...' with t = length / stride steps (any stride dividing 4) -> '(k b) c w ...', window-major."""
        stride = length // x.shape[2]
        if stride * x.shape[2] != length or TOKEN_STRIDE % stride:
            raise ValueError(f"TimeWindows.split: {x.shape[2]} steps cannot cover {length} samples at a stride "
                             f"dividing {TOKEN_STRIDE}")
        return torch.cat([x.narrow(2, start // stride, self.window // stride) for start in self.starts(length)])

    def to_clips(self, tokens: Tensor, length: int) -> Tensor:
        """Per-window '(k b) m ...' -> per-clip 'b (k m) ...': each clip's windows in time order."""
        return rearrange(tokens, "(k b) m ... -> b (k m) ...", k=len(self.starts(length)))

    def to_windows(self, tokens: Tensor, length: int) -> Tensor:
        """The inverse of `to_clips`."""
        return rearrange(tokens, "b (k m) ... -> (k b) m ...", k=len(self.starts(length)))

    def join(self, windows: Tensor, length: int) -> Tensor:
        """'(k b) w' decoded windows -> 'b t' with overlaps averaged (differentiable)."""
        starts = self.starts(length)
        per_window = rearrange(windows, "(k b) w -> k b w", k=len(starts))
        total = sum(F.pad(piece, (start, length - start - self.window)) for start, piece in zip(starts, per_window))
        coverage = torch.zeros(length, device=windows.device, dtype=windows.dtype)
        for start in starts:
            coverage[start:start + self.window] += 1
        return total / coverage
