"""Temporal difference convolution (TDC), shared by PhysFormer's attention and Stage II's E_vf (Eq. 8).

It lives with the encoders rather than in the PhysFormer adapter because E_vf's TDC branch is the same
operator: one implementation keeps the adapter's checkpoint numerics and Eq. 8 in step.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class TemporalDifferenceConv(nn.Module):
    """Conv3d minus `theta` times its temporal centre difference (the public `CDC_T`); ``b c t h w``.

    The subtracted term applies the summed weights of the first and last temporal taps to the centre
    frame alone, so at theta=1 those taps see (neighbour − centre) differences: the output responds to
    change over time more than to appearance. The difference term reuses the conv's stride with padding
    0, so any stride, e.g. ``(2, 1, 1)`` to halve T, gives matching shapes (a 3-wide, padding-1 tap and
    a 1-wide, padding-0 tap both land on positions 0, s, 2s, …).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, int, int] = 3,
        stride: int | tuple[int, int, int] = 1,
        padding: int | tuple[int, int, int] = 1,
        dilation: int | tuple[int, int, int] = 1,
        groups: int = 1,
        bias: bool = False,
        theta: float = 0.6,
    ) -> None:
        super().__init__()
        self.conv = nn.Conv3d(
            in_channels, out_channels, kernel_size, stride=stride, padding=padding,
            dilation=dilation, groups=groups, bias=bias,
        )
        self.theta = theta

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``b c t h w`` -> ``b o t' h' w'``, the shape the underlying Conv3d gives."""
        plain = self.conv(x)
        weight = self.conv.weight
        if math.fabs(self.theta) < 1e-8 or weight.shape[2] == 1:
            return plain
        outer_taps = weight[:, :, [0, 2]].sum(dim=(2, 3, 4))
        difference = F.conv3d(
            x, outer_taps[:, :, None, None, None], bias=self.conv.bias, stride=self.conv.stride,
            padding=0, dilation=self.conv.dilation, groups=self.conv.groups,
        )
        return plain - self.theta * difference
