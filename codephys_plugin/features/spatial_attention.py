"""Spatial attention mechanism (SAM, Eq. 7) of the video feature extractor E_v.

Pulse information is not spread evenly over the face (cheeks and forehead carry more than hair or
background), so one map per clip weighs every position: pool the features over time (max and mean),
concatenate, a 3×3 conv to one channel and a sigmoid. The same map scales every frame, so it picks
places, not moments.
"""

from __future__ import annotations

import torch
from einops import reduce
from torch import Tensor, nn

from codephys_plugin._checks import check_tensor


class SpatialAttention(nn.Module):
    """``b c t h w`` -> (attended ``b c t h w``, map ``b h w`` in (0, 1)); ``F_sa = F ⊗ W_v``."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        if channels < 1:
            raise ValueError(f"SpatialAttention: channels must be positive, got {channels}")
        self.channels = channels
        self.conv = nn.Conv2d(2 * channels, 1, kernel_size=3, padding=1)

    def forward(self, features: Tensor) -> tuple[Tensor, Tensor]:
        check_tensor(features, "SpatialAttention features", "b c t h w", sizes={"c": self.channels})
        pooled = torch.cat(
            [reduce(features, "b c t h w -> b c h w", "max"), reduce(features, "b c t h w -> b c h w", "mean")],
            dim=1,
        )
        weights = torch.sigmoid(self.conv(pooled))
        return features * weights[:, :, None], weights[:, 0]
