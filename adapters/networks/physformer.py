"""PhysFormer (Yu et al., CVPR 2022), the toolbox's `ViT_ST_ST_Compact3_TDC_gra_sharp`: names and numerics.

Three conv stems and a patch embedding turn a clip into T/4 × 4 × 4 tokens; three stages of transformer
blocks (temporal-difference attention, spatio-temporal feed-forward) mix them; two temporal upsamplers
bring them back to T frames and a 1×1 conv reads out the rPPG. Every submodule keeps its public name, so
the toolbox's checkpoints load with `strict=True` once DataParallel's `module.` prefix is stripped. The
functions below take the network as an argument and reach its layers by name, so they run on an instance
of the toolbox class just as on ours.

The public blocks fold tokens back into a 4×4 spatial grid without being told its size, so a network
built with 4×4×4 patches only runs on 128×128 frames, and T must be divisible by 4. Smaller spatial patches
keep every block and the 4×4 grid on smaller frames: (4, p, p) patches take 32·p px (4×1×1: 32 px).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

from codephys_plugin._checks import check_tensor, weights_dtype
from codephys_plugin.adapters.networks._face import RPPGNetwork
from codephys_plugin.encoder.temporal_difference import TemporalDifferenceConv

TOKEN_GRID = 4
"""Tokens form a 4×4 grid per time step; the public attention and feed-forward assume it."""
STEM_STRIDE = 8
"""The three stems halve height and width once each."""
TIME_PATCH = 4
"""The head's two ×2 upsamplers restore T only from T/4 tokens."""
HEAD_MODULES = ("ConvBlockLast",)


def tokens_to_grid(tokens: torch.Tensor) -> torch.Tensor:
    """'b (t h w) c' -> 'b c t h w' on the 4×4 grid."""
    return rearrange(tokens, "b (t h w) c -> b c t h w", h=TOKEN_GRID, w=TOKEN_GRID)


def grid_to_tokens(grid: torch.Tensor) -> torch.Tensor:
    """'b c t h w' -> 'b (t h w) c'."""
    return rearrange(grid, "b c t h w -> b (t h w) c")


class TemporalDifferenceAttention(nn.Module):
    """Multi-head self-attention whose q and k come from temporal-difference convs over the token grid.

    Scores are divided by `gra_sharp` (a temperature the caller picks) instead of √(head width).
    """

    def __init__(self, dim: int, num_heads: int, dropout: float, theta: float) -> None:
        super().__init__()
        self.proj_q = nn.Sequential(TemporalDifferenceConv(dim, dim, 3, theta=theta), nn.BatchNorm3d(dim))
        self.proj_k = nn.Sequential(TemporalDifferenceConv(dim, dim, 3, theta=theta), nn.BatchNorm3d(dim))
        self.proj_v = nn.Sequential(nn.Conv3d(dim, dim, 1, bias=False))
        self.drop = nn.Dropout(dropout)
        self.n_heads = num_heads

    def forward(self, x: torch.Tensor, gra_sharp: float) -> tuple[torch.Tensor, torch.Tensor]:
        """'b p c' -> ('b p c', scores 'b heads p p'), p = t·4·4; scores are returned after dropout."""
        grid = tokens_to_grid(x)
        q, k, v = (
            rearrange(grid_to_tokens(proj(grid)), "b p (n d) -> b n p d", n=self.n_heads)
            for proj in (self.proj_q, self.proj_k, self.proj_v)
        )
        scores = self.drop(F.softmax(q @ k.transpose(-2, -1) / gra_sharp, dim=-1))
        return rearrange(scores @ v, "b n p d -> b p (n d)"), scores


class SpatioTemporalFeedForward(nn.Module):
    """Pointwise widen, depthwise 3×3×3 conv over the token grid, pointwise narrow (each with BN)."""

    def __init__(self, dim: int, ff_dim: int) -> None:
        super().__init__()
        self.fc1 = nn.Sequential(nn.Conv3d(dim, ff_dim, 1, bias=False), nn.BatchNorm3d(ff_dim), nn.ELU())
        self.STConv = nn.Sequential(
            nn.Conv3d(ff_dim, ff_dim, 3, padding=1, groups=ff_dim, bias=False), nn.BatchNorm3d(ff_dim), nn.ELU()
        )
        self.fc2 = nn.Sequential(nn.Conv3d(ff_dim, dim, 1, bias=False), nn.BatchNorm3d(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """'b p c' -> 'b p c'."""
        return grid_to_tokens(self.fc2(self.STConv(self.fc1(tokens_to_grid(x)))))


class TransformerBlock(nn.Module):
    """Pre-norm block: x + drop(proj(attn(norm1 x))), then x + drop(pwff(norm2 x))."""

    def __init__(self, dim: int, num_heads: int, ff_dim: int, dropout: float, theta: float) -> None:
        super().__init__()
        self.attn = TemporalDifferenceAttention(dim, num_heads, dropout, theta)
        self.proj = nn.Linear(dim, dim)
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.pwff = SpatioTemporalFeedForward(dim, ff_dim)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, gra_sharp: float) -> tuple[torch.Tensor, torch.Tensor]:
        attended, scores = self.attn(self.norm1(x), gra_sharp)
        x = x + self.drop(self.proj(attended))
        return x + self.drop(self.pwff(self.norm2(x))), scores


class Transformer(nn.Module):
    """A stack of blocks; returns the tokens and the last block's attention scores."""

    def __init__(self, num_layers: int, dim: int, num_heads: int, ff_dim: int, dropout: float, theta: float) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(
            TransformerBlock(dim, num_heads, ff_dim, dropout, theta) for _ in range(num_layers)
        )

    def forward(self, x: torch.Tensor, gra_sharp: float) -> tuple[torch.Tensor, torch.Tensor]:
        for block in self.blocks:
            x, scores = block(x, gra_sharp)
        return x, scores


def stem(in_channels: int, out_channels: int, kernel: tuple[int, int, int], padding: tuple[int, int, int]):
    """Conv3d + BN + ReLU, then a 2× spatial max pool."""
    return nn.Sequential(
        nn.Conv3d(in_channels, out_channels, kernel, padding=padding),
        nn.BatchNorm3d(out_channels),
        nn.ReLU(inplace=True),
        nn.MaxPool3d((1, 2, 2), stride=(1, 2, 2)),
    )


def temporal_upsampler(in_channels: int, out_channels: int) -> nn.Sequential:
    """Doubles T by repetition, then a [3,1,1] conv + BN + ELU."""
    return nn.Sequential(
        nn.Upsample(scale_factor=(2, 1, 1)),
        nn.Conv3d(in_channels, out_channels, (3, 1, 1), padding=(1, 0, 0)),
        nn.BatchNorm3d(out_channels),
        nn.ELU(),
    )


def frame_size_for(patch_h: int, patch_w: int) -> tuple[int, int]:
    """The (h, w) whose stems and patches leave the 4×4 token grid: 128×128 for 4×4 patches."""
    return TOKEN_GRID * STEM_STRIDE * patch_h, TOKEN_GRID * STEM_STRIDE * patch_w


def patches_for(frame_size: int) -> tuple[int, int, int]:
    """The (t, h, w) patches that leave the 4×4 token grid on square `frame_size` frames: (4, 4, 4) at 128."""
    side = TOKEN_GRID * STEM_STRIDE
    if frame_size < side or frame_size % side:
        raise ValueError(f"PhysFormer frame size: must be a multiple of {side} (the stems halve it three times and "
                         f"the patches must leave a {TOKEN_GRID}×{TOKEN_GRID} token grid), got {frame_size}")
    return TIME_PATCH, frame_size // side, frame_size // side


def physformer_frame_size(net: nn.Module) -> int:
    """The square frame size a built PhysFormer (ours or the toolbox's) runs on, read from its patches."""
    height, width = frame_size_for(*net.patch_embedding.kernel_size[1:])
    if height != width:
        raise ValueError(f"PhysFormer: patches {tuple(net.patch_embedding.kernel_size)} need {height}×{width} "
                         "frames, which are not square")
    return height


def check_physformer_input(net: nn.Module, x: torch.Tensor) -> torch.Tensor:
    check_tensor(x, "PhysFormer inputs", "b c t h w", sizes={"c": net.Stem0[0].in_channels}, dtype=weights_dtype(net))
    frames, height, width = x.shape[2:]
    need_h, need_w = frame_size_for(*net.patch_embedding.kernel_size[1:])
    if (height, width) != (need_h, need_w):
        raise ValueError(
            f"PhysFormer needs {need_h}×{need_w} frames (its blocks fold tokens into a hard-coded "
            f"{TOKEN_GRID}×{TOKEN_GRID} grid); got inputs of shape {tuple(x.shape)}"
        )
    patch_t = net.patch_embedding.kernel_size[0]
    if frames % patch_t:
        raise ValueError(
            f"PhysFormer needs T divisible by {patch_t} (one token per {patch_t} frames); "
            f"got T={frames} in inputs of shape {tuple(x.shape)}"
        )
    return x


def physformer_tokens(
    net: nn.Module, x: torch.Tensor, gra_sharp: float = 2.0
) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """'b 3 t 128 128' DiffNormalized frames -> ('b c t/4 4 4' tokens after `transformer3`, and the last
    block's attention of each stage, three 'b heads p p' with p = t/4·16)."""
    check_physformer_input(net, x)
    tokens = grid_to_tokens(net.patch_embedding(net.Stem2(net.Stem1(net.Stem0(x)))))
    scores = []
    for stage in (net.transformer1, net.transformer2, net.transformer3):
        tokens, stage_scores = stage(tokens, gra_sharp)
        scores.append(stage_scores)
    return tokens_to_grid(tokens), tuple(scores)


def physformer_frames(net: nn.Module, tokens: torch.Tensor) -> torch.Tensor:
    """'b c t/4 4 4' tokens -> 'b c/2 t 4 4' per-frame features (the output of `upsample2`)."""
    check_tensor(
        tokens, "PhysFormer tokens", "b c t h w",
        sizes={"c": net.patch_embedding.out_channels, "h": TOKEN_GRID, "w": TOKEN_GRID},
    )
    return net.upsample2(net.upsample(tokens))


def physformer_head(net: nn.Module, frames: torch.Tensor) -> torch.Tensor:
    """'b c t h w' -> 'b t': spatial mean (over h, then w, as the public code orders it) and `ConvBlockLast`."""
    check_tensor(frames, "PhysFormer frame features", "b c t h w", sizes={"c": net.ConvBlockLast.in_channels})
    return net.ConvBlockLast(frames.mean(dim=3).mean(dim=3)).squeeze(1)


def _triple(value: int | tuple[int, ...], name: str) -> tuple[int, int, int]:
    """An int or a (t, h, w) triple; the public class takes only triples (an int crashes there)."""
    triple = (value,) * 3 if isinstance(value, int) else tuple(value)
    if len(triple) != 3:
        raise ValueError(f"PhysFormer {name}: expected an int or a (t, h, w) triple, got {value!r}")
    return triple


def check_config(
    dim: int, num_heads: int, num_layers: int, patches: int | tuple[int, ...], image_size: int | tuple[int, ...]
) -> tuple[int, int, int]:
    """Reject the configurations the public class builds but cannot run; returns the patch triple."""
    if num_layers % 3:
        raise ValueError(f"PhysFormer num_layers: must be divisible by 3 (three transformer stages), got {num_layers}")
    if dim % 4 or dim % num_heads:
        raise ValueError(
            f"PhysFormer dim: must be divisible by 4 (the stems use dim/4) and by num_heads={num_heads}, got {dim}"
        )
    patch = _triple(patches, "patches")
    if patch[0] != TIME_PATCH:
        raise ValueError(
            f"PhysFormer patches: the temporal patch must be {TIME_PATCH} (the head upsamples ×4), got {patch}"
        )
    _, height, width = _triple(image_size, "image_size")
    if (height, width) != frame_size_for(patch[1], patch[2]):
        raise ValueError(
            f"PhysFormer image_size: {height}×{width} frames with patches {patch} do not give the "
            f"{TOKEN_GRID}×{TOKEN_GRID} token grid the blocks assume (4×4×4 patches need 128×128)"
        )
    return patch


class PhysFormer(RPPGNetwork):
    """'b 3 t 128 128' -> ('b t' rPPG, score1, score2, score3) like the toolbox's `forward(x, gra_sharp)`.

    Defaults are the toolbox's and the official configuration (the public class's own defaults crash).
    `image_size` only fixes the frame size (checked against `patches`); T comes from the input. `name`,
    `pretrained`, `attention_dropout_rate`, `representation_size`, `load_repr_layer`, `classifier` and
    `frame` are accepted so the public call sites work, and ignored, as in the public class. `in_channels`
    sets `Stem0`'s input width (the public class ignores it and always takes 3).
    """

    head_modules = HEAD_MODULES

    def __init__(
        self,
        name: str | None = None,
        pretrained: bool = False,
        patches: int | tuple[int, int, int] = (4, 4, 4),
        dim: int = 96,
        ff_dim: int = 144,
        num_heads: int = 4,
        num_layers: int = 12,
        attention_dropout_rate: float = 0.0,
        dropout_rate: float = 0.1,
        representation_size: int | None = None,
        load_repr_layer: bool = False,
        classifier: str = "token",
        in_channels: int = 3,
        frame: int = 160,
        theta: float = 0.7,
        image_size: int | tuple[int, int, int] = (160, 128, 128),
    ) -> None:
        super().__init__()
        patch = check_config(dim, num_heads, num_layers, patches, image_size)
        self.dim = dim
        self.num_features = dim // 2
        self.patch_embedding = nn.Conv3d(dim, dim, kernel_size=patch, stride=patch)
        for index in (1, 2, 3):
            stage = Transformer(num_layers // 3, dim, num_heads, ff_dim, dropout_rate, theta)
            setattr(self, f"transformer{index}", stage)
        self.Stem0 = stem(in_channels, dim // 4, (1, 5, 5), (0, 2, 2))
        self.Stem1 = stem(dim // 4, dim // 2, (3, 3, 3), (1, 1, 1))
        self.Stem2 = stem(dim // 2, dim, (3, 3, 3), (1, 1, 1))
        self.upsample = temporal_upsampler(dim, dim)
        self.upsample2 = temporal_upsampler(dim, dim // 2)
        self.ConvBlockLast = nn.Conv1d(dim // 2, 1, 1)
        self.init_weights()

    @torch.no_grad()
    def init_weights(self) -> None:
        """The public initialisation: only the blocks' Linear `proj` layers are re-initialised."""
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.xavier_uniform_(module.weight)
                if module.bias is not None:
                    nn.init.normal_(module.bias, std=1e-6)

    def forward_features(self, x: torch.Tensor, gra_sharp: float = 2.0) -> torch.Tensor:
        """'b 3 t 128 128' -> 'b c/2 t 4 4', the output of `upsample2`."""
        return physformer_frames(self, physformer_tokens(self, x, gra_sharp)[0])

    def run_head(self, features: torch.Tensor) -> torch.Tensor:
        return physformer_head(self, features)

    def pool_features(self, features: torch.Tensor) -> torch.Tensor:
        return features.mean(dim=(3, 4))

    def forward(self, x: torch.Tensor, gra_sharp: float = 2.0):
        """('b t' rPPG, or 'b c/2 t' pooled features once the head is stripped, then the three scores)."""
        tokens, scores = physformer_tokens(self, x, gra_sharp)
        return (self.forward_head(physformer_frames(self, tokens)), *scores)
