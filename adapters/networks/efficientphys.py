"""EfficientPhys (Liu et al., WACV 2023) as in the rPPG-Toolbox: names, shapes and numerics.

The toolbox's forward takes `torch.diff` over the *flattened* batch, so the last difference of each clip
crosses into the next clip. `forward` keeps that for fidelity; `efficientphys_features_from_diffs` lets an
adapter take the differences per clip instead (see `codephys_plugin.adapters.efficientphys`).
"""

from __future__ import annotations

import torch
from torch import nn

from codephys_plugin._checks import check_tensor, weights_dtype
from codephys_plugin.adapters.networks.deepphys import GatedMotionNetwork, gate, img_size_of


class TemporalShift(nn.Module):
    """Temporal shift (TSM): within each run of `n_segment` frames, channel fold 0 takes the next frame's
    values, fold 1 the previous frame's, the rest stay; runs are zero-padded at their edges."""

    def __init__(self, n_segment: int = 10, fold_div: int = 3) -> None:
        super().__init__()
        self.n_segment, self.fold_div = n_segment, fold_div

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        frames, channels = x.shape[:2]
        if frames % self.n_segment:
            raise ValueError(
                f"EfficientPhys temporal shift: {frames} frames is not a multiple of frame_depth={self.n_segment}"
            )
        clips = x.reshape(frames // self.n_segment, self.n_segment, *x.shape[1:])
        fold = channels // self.fold_div
        shifted = torch.zeros_like(clips)
        shifted[:, :-1, :fold] = clips[:, 1:, :fold]
        shifted[:, 1:, fold : 2 * fold] = clips[:, :-1, fold : 2 * fold]
        shifted[:, :, 2 * fold :] = clips[:, :, 2 * fold :]
        return shifted.reshape(x.shape)


def frame_depth_of(net: nn.Module) -> int:
    return net.TSM_1.n_segment


def efficientphys_features_from_diffs(net: nn.Module, diffs: torch.Tensor) -> torch.Tensor:
    """'(b t) 3 h w' frame differences -> '(b t) c h/4-2 w/4-2' at `dropout_3` (batch norm, TSM, gated convs).

    Frames of a clip must be contiguous and t a multiple of the network's frame_depth, so that no
    temporal-shift segment straddles two clips.
    """
    size = img_size_of(net)
    check_tensor(diffs, "EfficientPhys frame differences", "n c h w", sizes={"c": 3, "h": size, "w": size},
                 dtype=weights_dtype(net))
    x = net.batch_norm(diffs)
    d1 = torch.tanh(net.motion_conv1(net.TSM_1(x)))
    d2 = torch.tanh(net.motion_conv2(net.TSM_2(d1)))
    gated1 = gate(d2, d2, net.apperance_att_conv1, net.attn_mask_1)
    d4 = net.TSM_3(net.dropout_1(net.avg_pooling_1(gated1)))
    d5 = net.TSM_4(torch.tanh(net.motion_conv3(d4)))
    d6 = torch.tanh(net.motion_conv4(d5))
    gated2 = gate(d6, d6, net.apperance_att_conv2, net.attn_mask_2)
    return net.dropout_3(net.avg_pooling_3(gated2))


class EfficientPhys(GatedMotionNetwork):
    """Single-branch TSM network with self-attention masks; '(n+1) 3 h w' Standardized frames -> 'n 1'.

    Constructor arguments and defaults are the toolbox's (its configs use frame_depth=10, img_size=72);
    `channel` is stored and ignored, as there.
    """

    def __init__(
        self,
        in_channels: int = 3,
        nb_filters1: int = 32,
        nb_filters2: int = 64,
        kernel_size: int = 3,
        dropout_rate1: float = 0.25,
        dropout_rate2: float = 0.5,
        pool_size: tuple[int, int] = (2, 2),
        nb_dense: int = 128,
        frame_depth: int = 20,
        img_size: int = 36,
        channel: str = "raw",
    ) -> None:
        super().__init__(
            name="EfficientPhys", in_channels=in_channels, nb_filters1=nb_filters1, nb_filters2=nb_filters2,
            kernel_size=kernel_size, dropout_rate1=dropout_rate1, dropout_rate2=dropout_rate2,
            pool_size=pool_size, nb_dense=nb_dense, img_size=img_size,
        )
        self.channel = channel
        self.TSM_1 = TemporalShift(frame_depth)
        self.TSM_2 = TemporalShift(frame_depth)
        self.TSM_3 = TemporalShift(frame_depth)
        self.TSM_4 = TemporalShift(frame_depth)
        self.batch_norm = nn.BatchNorm2d(3)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """'(n+1) 3 h w' -> 'n c h' w'': differences over the flattened batch, as the toolbox takes them."""
        check_tensor(x, "EfficientPhys inputs", "n c h w", sizes={"c": 3})
        return efficientphys_features_from_diffs(self, torch.diff(x, dim=0))
