"""DeepPhys (Chen & McDuff, ECCV 2018) with the rPPG-Toolbox's parameter names and numerics.

The toolbox's checkpoints load with `strict=True` (after stripping DataParallel's `module.` prefix, see
`codephys_plugin.adapters.checkpoint`). The functions below take the network as an argument and reach
its layers by name, so they run on an instance of the toolbox class just as on ours.
"""

from __future__ import annotations

import torch
from torch import nn

from codephys_plugin._checks import check_tensor, weights_dtype
from codephys_plugin.adapters.networks._face import RPPGNetwork

FLAT_WIDTH_BY_IMG_SIZE = {36: 3136, 72: 16384, 96: 30976}
HEAD_MODULES = ("final_dense_1", "dropout_4", "final_dense_2")


class AttentionMask(nn.Module):
    """Soft mask normalised to sum to h·w/2 over each frame, so gating keeps the features' scale."""

    def forward(self, mask: torch.Tensor) -> torch.Tensor:
        height, width = mask.shape[-2:]
        return mask / mask.sum(dim=(2, 3), keepdim=True) * (height * width * 0.5)


def img_size_of(net: nn.Module) -> int:
    """The frame size a DeepPhys/EfficientPhys instance accepts: recorded by ours, read off the head otherwise."""
    if hasattr(net, "img_size"):
        return net.img_size
    width = net.final_dense_1.in_features
    sizes = {flat: size for size, flat in FLAT_WIDTH_BY_IMG_SIZE.items()}
    if width not in sizes:
        raise ValueError(f"final_dense_1 takes {width} features; expected one of {sorted(sizes)}")
    return sizes[width]


def gate(features: torch.Tensor, source: torch.Tensor, attention_conv: nn.Module, mask: nn.Module) -> torch.Tensor:
    """Multiply `features` by the normalised sigmoid mask that `attention_conv` computes from `source`."""
    return features * mask(torch.sigmoid(attention_conv(source)))


def deepphys_features(net: nn.Module, inputs: torch.Tensor) -> torch.Tensor:
    """'(b t) 6 h w' (DiffNormalized ch 0-2, Standardized ch 3-5) -> '(b t) c h/4-2 w/4-2' at `dropout_3`.

    The appearance branch only supplies the attention masks; the feature is the gated motion path.
    """
    size = img_size_of(net)
    check_tensor(inputs, "DeepPhys inputs", "n c h w", sizes={"c": 2 * net.in_channels, "h": size, "w": size},
                 dtype=weights_dtype(net))
    motion, appearance = inputs[:, : net.in_channels], inputs[:, net.in_channels :]
    d2 = torch.tanh(net.motion_conv2(torch.tanh(net.motion_conv1(motion))))
    r2 = torch.tanh(net.apperance_conv2(torch.tanh(net.apperance_conv1(appearance))))
    gated1 = gate(d2, r2, net.apperance_att_conv1, net.attn_mask_1)
    d4 = net.dropout_1(net.avg_pooling_1(gated1))
    r4 = net.dropout_2(net.avg_pooling_2(r2))
    d6 = torch.tanh(net.motion_conv4(torch.tanh(net.motion_conv3(d4))))
    r6 = torch.tanh(net.apperance_conv4(torch.tanh(net.apperance_conv3(r4))))
    gated2 = gate(d6, r6, net.apperance_att_conv2, net.attn_mask_2)
    return net.dropout_3(net.avg_pooling_3(gated2))


def dense_head(net: nn.Module, features: torch.Tensor) -> torch.Tensor:
    """'(b t) c h w' -> '(b t) 1': the per-frame derivative of the PPG (DeepPhys and EfficientPhys)."""
    hidden = torch.tanh(net.final_dense_1(features.flatten(1)))
    return net.final_dense_2(net.dropout_4(hidden))


class GatedMotionNetwork(RPPGNetwork):
    """What DeepPhys and EfficientPhys share: the motion convs, attention masks, pools, dropouts and dense head."""

    head_modules = HEAD_MODULES

    def __init__(
        self,
        *,
        name: str,
        in_channels: int,
        nb_filters1: int,
        nb_filters2: int,
        kernel_size: int,
        dropout_rate1: float,
        dropout_rate2: float,
        pool_size: tuple[int, int],
        nb_dense: int,
        img_size: int,
    ) -> None:
        super().__init__()
        if img_size not in FLAT_WIDTH_BY_IMG_SIZE:
            raise ValueError(f"{name} img_size: expected one of {sorted(FLAT_WIDTH_BY_IMG_SIZE)}, got {img_size}")
        self.in_channels, self.img_size, self.num_features = in_channels, img_size, nb_filters2
        self.motion_conv1 = nn.Conv2d(in_channels, nb_filters1, kernel_size, padding=1)
        self.motion_conv2 = nn.Conv2d(nb_filters1, nb_filters1, kernel_size)
        self.motion_conv3 = nn.Conv2d(nb_filters1, nb_filters2, kernel_size, padding=1)
        self.motion_conv4 = nn.Conv2d(nb_filters2, nb_filters2, kernel_size)
        self.apperance_att_conv1 = nn.Conv2d(nb_filters1, 1, 1)
        self.attn_mask_1 = AttentionMask()
        self.apperance_att_conv2 = nn.Conv2d(nb_filters2, 1, 1)
        self.attn_mask_2 = AttentionMask()
        self.avg_pooling_1 = nn.AvgPool2d(pool_size)
        self.avg_pooling_2 = nn.AvgPool2d(pool_size)
        self.avg_pooling_3 = nn.AvgPool2d(pool_size)
        self.dropout_1 = nn.Dropout(dropout_rate1)
        self.dropout_2 = nn.Dropout(dropout_rate1)
        self.dropout_3 = nn.Dropout(dropout_rate1)
        self.dropout_4 = nn.Dropout(dropout_rate2)
        self.final_dense_1 = nn.Linear(FLAT_WIDTH_BY_IMG_SIZE[img_size], nb_dense)
        self.final_dense_2 = nn.Linear(nb_dense, 1)

    def run_head(self, features: torch.Tensor) -> torch.Tensor:
        return dense_head(self, features)

    def pool_features(self, features: torch.Tensor) -> torch.Tensor:
        return features.mean(dim=(2, 3))

    def forward(self, inputs: torch.Tensor, params: object = None) -> torch.Tensor:
        """'(n) c h w' -> '(n) 1' per frame (`params` is accepted and ignored, as in the toolbox)."""
        return self.forward_head(self.forward_features(inputs))


class DeepPhys(GatedMotionNetwork):
    """Two-branch 2-D conv attention network; one prediction per frame of a '(b t) 6 h w' batch.

    Constructor arguments and their defaults are the toolbox's (the toolbox's configs use img_size=72).
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
        img_size: int = 36,
    ) -> None:
        super().__init__(
            name="DeepPhys", in_channels=in_channels, nb_filters1=nb_filters1, nb_filters2=nb_filters2,
            kernel_size=kernel_size, dropout_rate1=dropout_rate1, dropout_rate2=dropout_rate2,
            pool_size=pool_size, nb_dense=nb_dense, img_size=img_size,
        )
        self.apperance_conv1 = nn.Conv2d(in_channels, nb_filters1, kernel_size, padding=1)
        self.apperance_conv2 = nn.Conv2d(nb_filters1, nb_filters1, kernel_size)
        self.apperance_conv3 = nn.Conv2d(nb_filters1, nb_filters2, kernel_size, padding=1)
        self.apperance_conv4 = nn.Conv2d(nb_filters2, nb_filters2, kernel_size)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """'(b t) 6 h w' -> '(b t) c h' w'' at `dropout_3`."""
        return deepphys_features(self, x)
