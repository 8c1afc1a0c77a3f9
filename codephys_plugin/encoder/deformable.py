"""3×3×3 deformable convolution for E_vf (Eq. 8), built on torchvision's 2-D `deform_conv2d`.

The paper cites deformable convolution [48] "to track facial movements in the spatial domain" but
torchvision has no 3-D version. Faces move within a frame, so we deform space only and keep the three
temporal taps on the frame grid: the output at time t is the sum over taps k ∈ {−1, 0, 1} of a 2-D
deformable 3×3 conv of frame t+k (zero frames outside the clip) with that tap's slice of the 3×3×3
weight. Each tap has its own 3×3 grid of (dy, dx) offsets at every output position (2·9 per tap, 54
channels), predicted from the input by a depthwise 3×3×3 Conv3d (the local motion of each channel)
followed by a pointwise Conv3d to the 54 offsets. A full 3×3×3 predictor would cost 54/c·3 times the
convolution itself (2.5× at c = 64); the separable one costs a few percent of it. The pointwise layer
starts at zero, so the layer starts as a plain Conv3d and learns to deform. DCNv1 as in [48]: no
modulation mask.

The three taps run as one `deform_conv2d` call: the tap frames are stacked along channels and each
tap is an offset group, so the channel sum of the 2-D conv is the sum over taps.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import Tensor, nn
from torchvision.ops import deform_conv2d

from codephys_plugin._checks import check_tensor

KERNEL = 3
"""Kernel size along t, h and w."""
OFFSETS_PER_TAP = 2 * KERNEL * KERNEL
"""A (dy, dx) pair for each of the 3×3 spatial positions of one temporal tap."""


class DeformableConv3d(nn.Module):
    """``b c t h w`` -> ``b o ceil(t/s) h w``: a 3×3×3 conv whose spatial taps move with learned offsets.

    Padding 1 keeps h and w; `temporal_stride` s keeps only the centre frames 0, s, 2s, …, exactly as a
    Conv3d with padding 1 and stride (s, 1, 1). Maps as small as 1×1 work: there every off-centre tap
    reads padding, so at zero offsets the layer is a temporal conv with the centre spatial tap.
    """

    def __init__(self, in_channels: int, out_channels: int, *, temporal_stride: int = 1) -> None:
        super().__init__()
        if in_channels < 1 or out_channels < 1 or temporal_stride < 1:
            raise ValueError(
                f"DeformableConv3d: channels and temporal_stride must be positive, got in_channels="
                f"{in_channels}, out_channels={out_channels}, temporal_stride={temporal_stride}"
            )
        self.in_channels = in_channels
        self.temporal_stride = temporal_stride
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels, KERNEL, KERNEL, KERNEL))
        self.bias = nn.Parameter(torch.empty(out_channels))
        self.motion = nn.Conv3d(
            in_channels, in_channels, KERNEL, stride=(temporal_stride, 1, 1), padding=1, groups=in_channels
        )
        self.offset = nn.Conv3d(in_channels, KERNEL * OFFSETS_PER_TAP, kernel_size=1)
        self.reset_parameters()

    @torch.no_grad()
    def reset_parameters(self) -> None:
        """Conv3d's own initialisation for the weights and the motion filter; zero offsets, so it starts
        as a plain Conv3d."""
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        bound = 1 / math.sqrt(self.weight[0].numel())
        nn.init.uniform_(self.bias, -bound, bound)
        self.motion.reset_parameters()
        nn.init.zeros_(self.offset.weight)
        nn.init.zeros_(self.offset.bias)

    def forward(self, x: Tensor) -> Tensor:
        """``b c t h w`` -> ``b o ceil(t/s) h w``; the i-th tap (i = 0, 1, 2) reads frames i−1, i−1+s, …"""
        check_tensor(x, "DeformableConv3d input", "b c t h w", sizes={"c": self.in_channels})
        offsets = self.offset(self.motion(x))
        frames, stride = x.shape[2], self.temporal_stride
        padded = F.pad(x, (0, 0, 0, 0, 1, 1))
        taps = torch.stack([padded[:, :, k : k + frames : stride] for k in range(KERNEL)], dim=1)
        out = deform_conv2d(
            rearrange(taps, "b k c t h w -> (b t) (k c) h w"),
            rearrange(offsets, "b o t h w -> (b t) o h w"),
            rearrange(self.weight, "o c k h w -> o (k c) h w"),
            self.bias,
            padding=1,
        )
        return rearrange(out, "(b t) o h w -> b o t h w", b=x.shape[0])
