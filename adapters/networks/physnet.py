"""PhysNet (Yu et al., BMVC 2019), the toolbox's `PhysNet_padding_Encoder_Decoder_MAX`: names and numerics.

A 3-D conv encoder down to T/4, two transposed convs back to T, a spatial average and a 1×1×1 conv.
The released toolbox checkpoints are plain state_dicts that load strictly into this class.
"""

from __future__ import annotations

import torch
from torch import nn

from codephys_plugin._checks import check_tensor, weights_dtype
from codephys_plugin.adapters.networks._face import RPPGNetwork


def conv_block(in_channels: int, out_channels: int, kernel: tuple[int, int, int], padding: tuple[int, int, int]):
    return nn.Sequential(
        nn.Conv3d(in_channels, out_channels, kernel, padding=padding),
        nn.BatchNorm3d(out_channels),
        nn.ReLU(inplace=True),
    )


def temporal_upsampler(channels: int) -> nn.Sequential:
    """Doubles T exactly (kernel 4, stride 2, padding 1 in time)."""
    return nn.Sequential(
        nn.ConvTranspose3d(channels, channels, (4, 1, 1), stride=(2, 1, 1), padding=(1, 0, 0)),
        nn.BatchNorm3d(channels),
        nn.ELU(),
    )


def check_physnet_input(x: torch.Tensor, dtype: torch.dtype | None = None) -> torch.Tensor:
    check_tensor(x, "PhysNet inputs", "b c t h w", sizes={"c": 3}, dtype=dtype)
    frames, height, width = x.shape[2:]
    if frames % 4:
        raise ValueError(f"PhysNet inputs: T={frames} must be divisible by 4 (time is halved twice, then doubled twice)")
    if min(height, width) < 16:
        raise ValueError(f"PhysNet inputs: frames of {height}×{width} are too small; at least 16×16 (four 2× pools)")
    return x


def physnet_encode(net: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """'b 3 t h w' DiffNormalized frames -> ('b 64 t h/16 w/16' output of `upsample2`, and the
    intermediate maps the public forward also returns: 'b 64 t/2 h/4 w/4', 'b 64 t/4 h/8 w/8')."""
    check_physnet_input(x, weights_dtype(net))
    x = net.ConvBlock3(net.ConvBlock2(net.MaxpoolSpa(net.ConvBlock1(x))))
    visual_3232 = net.ConvBlock5(net.ConvBlock4(net.MaxpoolSpaTem(x)))
    visual_1616 = net.ConvBlock7(net.ConvBlock6(net.MaxpoolSpaTem(visual_3232)))
    x = net.ConvBlock9(net.ConvBlock8(net.MaxpoolSpa(visual_1616)))
    return net.upsample2(net.upsample(x)), visual_3232, visual_1616


def physnet_head(net: nn.Module, features: torch.Tensor) -> torch.Tensor:
    """'b 64 t h w' -> 'b t' through `poolspa` (which resamples time to `frames`) and `ConvBlock10`."""
    frames = features.shape[2]
    pooled_length = net.poolspa.output_size[0]
    if pooled_length != frames:
        raise ValueError(
            f"PhysNet head: built with frames={pooled_length} but given T={frames}; its poolspa would resample "
            f"time. Build it with PhysNet(frames={frames}) (frames sets no weight, so the same checkpoint loads), "
            f"or give clips of {pooled_length} frames"
        )
    return net.ConvBlock10(net.poolspa(features)).flatten(1)


class PhysNet(RPPGNetwork):
    """'b 3 t h w' -> ('b t' rPPG, input, 'b 64 t/2 h/4 w/4', 'b 64 t/4 h/8 w/8') like the toolbox's forward."""

    head_modules = ("poolspa", "ConvBlock10")
    num_features = 64

    def __init__(self, frames: int = 128) -> None:
        super().__init__()
        self.ConvBlock1 = conv_block(3, 16, (1, 5, 5), (0, 2, 2))
        self.ConvBlock2 = conv_block(16, 32, (3, 3, 3), (1, 1, 1))
        self.ConvBlock3 = conv_block(32, 64, (3, 3, 3), (1, 1, 1))
        for index in range(4, 10):
            setattr(self, f"ConvBlock{index}", conv_block(64, 64, (3, 3, 3), (1, 1, 1)))
        self.upsample = temporal_upsampler(64)
        self.upsample2 = temporal_upsampler(64)
        self.ConvBlock10 = nn.Conv3d(64, 1, 1)
        self.MaxpoolSpa = nn.MaxPool3d((1, 2, 2), stride=(1, 2, 2))
        self.MaxpoolSpaTem = nn.MaxPool3d((2, 2, 2), stride=2)
        self.poolspa = nn.AdaptiveAvgPool3d((frames, 1, 1))

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return physnet_encode(self, x)[0]

    def run_head(self, features: torch.Tensor) -> torch.Tensor:
        return physnet_head(self, features)

    def pool_features(self, features: torch.Tensor) -> torch.Tensor:
        return features.mean(dim=(3, 4))

    def forward(self, x: torch.Tensor):
        features, visual_3232, visual_1616 = physnet_encode(self, x)
        return self.forward_head(features), x, visual_3232, visual_1616
