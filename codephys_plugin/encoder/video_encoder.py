"""Spatio-temporal encoder E_vf (Eq. 8): spatial-aware video features -> query tokens.

Three stages each add a deformable-conv branch (follows facial motion within frames) and a temporal
difference branch (stresses change over time), each layer-normalised over channels; later stages also
mix channels pointwise. Two of them halve time so frame-rate features reach the token rate T/4 of E_s.
"Reshape" is left open by the paper: we average over h and w, which turns ``D × T/4 × h × w`` into the
``M × D`` tokens it states, with M = T/4 whatever the map size. The embedding layers are the class E_s
uses, so the tokens are built like the ones the codebook was learned from.

E_vf's cost grows with the map's h·w, so it first averages the map down to at most `grid` × `grid`
positions (4 by default; None keeps the map). The paper's maps are H/16 × W/16, 4.5 px at 72 px and
8 at 128 px; DeepPhys and EfficientPhys give 16 × 16. Spatial attention runs before, on the full map.

Features without spatial axes (``b c t``, e.g. a network whose head already pooled, or a signal with
c = 1) get a temporal encoder of their own (``spatial=False``): the same stages with 3-tap temporal
kernels, the deformable branch replaced by a plain temporal convolution. On a 1×1 map a 3×3×3 kernel
sees only its centre column anyway, and a deformable one can only rescale its taps, while costing the
most of a training step; the temporal stages compute what is left of them directly.
"""

from __future__ import annotations

from dataclasses import dataclass

from einops import rearrange, reduce
import torch.nn.functional as F
from torch import Tensor, nn

from codephys_plugin._checks import check_tensor
from codephys_plugin.encoder.deformable import DeformableConv3d
from codephys_plugin.encoder.embedding import ChannelLayerNorm
from codephys_plugin.encoder.signal_encoder import SignalCoderConfig, embedding_stack
from codephys_plugin.encoder.temporal_difference import TemporalDifferenceConv

STAGE_STRIDES = {1: (1, 1, 1), 2: (2, 1, 1), 4: (2, 2, 1)}
"""Temporal stride of stages Z1, Z2, Z3 for each overall time reduction. Striding early keeps the
head cheap (most of E_vf then runs at T/4); each stride-2 stage's 3-frame kernel still reads every
frame, and at T/2 of 30 fps the features are sampled at 15 Hz, far above the pulse band."""


@dataclass(frozen=True)
class VideoEncoderConfig:
    """E_vf's shape: `channels` in, D-dim tokens, hidden width K = 2D by default.

    `time_reduction` is how much E_vf shortens time: 4 for frame-rate features (tokens at T/4), 1 for
    features already at the token rate (e.g. PhysFormer's T/4 tokens), 2 in between.
    """

    channels: int
    dim: int = 64
    hidden: int | None = None
    time_reduction: int = 4
    theta: float = 0.7
    grid: int | None = 4
    """E_vf averages larger maps down to this many positions per side; None keeps every position."""
    spatial: bool = True
    """False: features ``b c t`` without space, encoded by temporal convolutions only."""

    def __post_init__(self) -> None:
        if self.channels < 1 or self.dim < 1 or any(v is not None and v < 1 for v in (self.hidden, self.grid)):
            raise ValueError(f"invalid video encoder config: {self}")
        if self.time_reduction not in STAGE_STRIDES:
            raise ValueError(
                f"VideoEncoderConfig.time_reduction: expected one of {sorted(STAGE_STRIDES)}, got {self.time_reduction}"
            )

    @property
    def hidden_width(self) -> int:
        return 2 * self.dim if self.hidden is None else self.hidden


class GridLayerNorm(ChannelLayerNorm):
    """LayerNorm over channels at each (t, h, w) position of ``b c t h w`` features."""

    def forward(self, x: Tensor) -> Tensor:
        _, _, frames, height, width = x.shape
        flat = super().forward(rearrange(x, "b c t h w -> b c (t h w)"))
        return rearrange(flat, "b c (t h w) -> b c t h w", t=frames, h=height, w=width)


class EncoderStage(nn.Module):
    """One line of Eq. 8: ``LN(DConv(x)) + LN(TDC(x))``, with ``LN(Conv1x1(·))`` after the first LN if
    `pointwise`; both branches stride time by `temporal_stride`. ``b c t h w`` -> ``b d ceil(t/s) h w``."""

    def __init__(self, in_channels: int, dim: int, *, temporal_stride: int, theta: float, pointwise: bool,
                 spatial: bool = True) -> None:
        super().__init__()
        stride = (temporal_stride, 1, 1)
        kernel, padding = ((3, 3, 3), (1, 1, 1)) if spatial else ((3, 1, 1), (1, 0, 0))
        self.deform = (DeformableConv3d(in_channels, dim, temporal_stride=temporal_stride) if spatial
                       else nn.Conv3d(in_channels, dim, kernel, stride=stride, padding=padding))
        self.deform_norm = GridLayerNorm(dim)
        self.pointwise = (
            nn.Sequential(nn.Conv3d(dim, dim, kernel_size=1), GridLayerNorm(dim)) if pointwise else nn.Identity()
        )
        self.difference = TemporalDifferenceConv(
            in_channels, dim, kernel_size=kernel, stride=stride, padding=padding, theta=theta
        )
        self.difference_norm = GridLayerNorm(dim)

    def forward(self, x: Tensor) -> Tensor:
        return self.pointwise(self.deform_norm(self.deform(x))) + self.difference_norm(self.difference(x))


class VideoEncoder(nn.Module):
    """E_vf: ``b c t h w`` (or ``b c t``) features -> ``b d m`` tokens, m = t / time_reduction."""

    def __init__(self, config: VideoEncoderConfig) -> None:
        super().__init__()
        self.config = config
        strides = STAGE_STRIDES[config.time_reduction]
        self.stages = nn.Sequential(
            *(
                EncoderStage(
                    config.channels if index == 0 else config.dim, config.dim,
                    temporal_stride=stride, theta=config.theta, pointwise=index > 0, spatial=config.spatial,
                )
                for index, stride in enumerate(strides)
            )
        )
        self.embed = embedding_stack(SignalCoderConfig(dim=config.dim, hidden=config.hidden_width))

    def forward(self, features: Tensor) -> Tensor:
        grid = self._as_grid(features)
        return self.embed(reduce(self.stages(grid), "b d m h w -> b d m", "mean"))

    def _as_grid(self, features: Tensor) -> Tensor:
        """Validate `features`, view ``b c t`` ones as ``b c t 1 1`` and pool larger maps to the grid."""
        channels = {"c": self.config.channels}
        if isinstance(features, Tensor) and features.dim() == 3:
            check_tensor(features, "VideoEncoder features", "b c t", sizes=channels)
            features = rearrange(features, "b c t -> b c t 1 1")
        elif self.config.spatial:
            check_tensor(features, "VideoEncoder features", "b c t h w", sizes=channels)
        else:
            check_tensor(features, "VideoEncoder features", "b c t h w", sizes={**channels, "h": 1, "w": 1})
        frames, reduction = features.shape[2], self.config.time_reduction
        if frames % reduction:
            raise ValueError(
                f"VideoEncoder features: length T={frames} must be divisible by time_reduction={reduction} "
                f"(tokens are at T/{reduction}); got shape {tuple(features.shape)}"
            )
        return self._pooled(features)

    def _pooled(self, grid: Tensor) -> Tensor:
        """Average ``b c t h w`` down to at most `config.grid` positions per side."""
        limit = self.config.grid
        height, width = grid.shape[3:]
        if limit is None or (height <= limit and width <= limit):
            return grid
        return F.adaptive_avg_pool3d(grid, (grid.shape[2], min(height, limit), min(width, limit)))
