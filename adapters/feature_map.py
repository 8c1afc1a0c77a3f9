"""What an adapter hands the code-query stage: a network's features with its head cut off."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from codephys_plugin._checks import check_tensor


@dataclass(frozen=True)
class FeatureMap:
    """Features of one batch of clips.

    temporal: 'b c t' one feature vector per time step (what a signal-only query stage consumes).
    spatial:  'b c t h w' or None; the same time steps before spatial pooling, for spatial attention and
              feature distillation. None where the network (or a signal adapter) has no spatial map.
    time_stride: frames per time step (1 at frame rate; 4 for PhysFormer's tokens).
    layer: the module(s) the features were taken from, for messages and reports.
    """

    temporal: torch.Tensor
    spatial: torch.Tensor | None
    time_stride: int
    layer: str

    def __post_init__(self) -> None:
        check_tensor(self.temporal, f"FeatureMap.temporal ({self.layer})", "b c t", finite=False)
        if self.spatial is not None:
            check_tensor(self.spatial, f"FeatureMap.spatial ({self.layer})", "b c t h w", finite=False)
            if self.spatial.shape[:3] != self.temporal.shape[:3]:
                raise ValueError(
                    f"FeatureMap ({self.layer}): spatial (b c t h w) {tuple(self.spatial.shape)} and temporal "
                    f"(b c t) {tuple(self.temporal.shape)} disagree on b, c or t"
                )
        if self.time_stride < 1:
            raise ValueError(f"FeatureMap ({self.layer}): time_stride must be ≥ 1, got {self.time_stride}")

    @classmethod
    def from_spatial(cls, spatial: torch.Tensor, *, time_stride: int = 1, layer: str) -> FeatureMap:
        """The temporal features are the spatial map averaged over h and w."""
        return cls(temporal=spatial.mean(dim=(3, 4)), spatial=spatial, time_stride=time_stride, layer=layer)

    @property
    def channels(self) -> int:
        return self.temporal.shape[1]

    @property
    def steps(self) -> int:
        return self.temporal.shape[2]
