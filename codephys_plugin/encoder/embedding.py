"""The embedding layer EL shared by the signal encoder, the decoder and Stage II's E_vf."""

from __future__ import annotations

from torch import nn
from torch import Tensor


class ChannelLayerNorm(nn.LayerNorm):
    """LayerNorm over the channel axis of ``(b c t)`` sequences, i.e. per time step."""

    def forward(self, x: Tensor) -> Tensor:
        return super().forward(x.transpose(1, 2)).transpose(1, 2)


class EmbeddingLayer(nn.Module):
    """A residual block that mixes time, then channels, on ``(b d t)`` features.

    The paper only says that embedding layers "integrate the features across various temporal
    positions" with a hidden width K = 2D. We use a pre-norm pair of residual branches: a full
    ``kernel_size`` temporal convolution (D → D), then a pointwise MLP (D → K → D, GELU). Padding keeps
    the length, so any T works.
    """

    def __init__(self, dim: int, hidden: int, *, kernel_size: int = 5) -> None:
        super().__init__()
        if kernel_size % 2 != 1:
            raise ValueError(f"EmbeddingLayer: kernel_size must be odd to keep the length, got {kernel_size}")
        self.time_norm = ChannelLayerNorm(dim)
        self.time_mix = nn.Conv1d(dim, dim, kernel_size, padding=kernel_size // 2)
        self.channel_norm = ChannelLayerNorm(dim)
        self.channel_mix = nn.Sequential(nn.Conv1d(dim, hidden, 1), nn.GELU(), nn.Conv1d(hidden, dim, 1))

    def forward(self, x: Tensor) -> Tensor:
        x = x + self.time_mix(self.time_norm(x))
        return x + self.channel_mix(self.channel_norm(x))
