"""Adapters for the clip networks that take 'b c t h w': PhysFormer, PhysNet and SSPD.

Which layer each gives (see shared/reference/backbones.md §0 and §5):
- PhysFormer: `upsample2`'s output 'b 48 t 4 4' (frame rate); `ConvBlockLast` is not run. With
  level="tokens", `transformer3`'s tokens 'b 96 t/4 4 4' instead, and neither upsampler runs.
- PhysNet: `upsample2`'s output 'b 64 t h/16 w/16'; `poolspa` and `ConvBlock10` are not run (the temporal
  features are the plain spatial mean, which equals `poolspa` when t equals the net's `frames`).
- SSPD / SSPDL3: `backbone_step4`'s 'b 256 t 8 8' and its 'b 256 t' pooled output, *not* detached, so the
  backbone fine-tunes; `predictor` (and SSPDL3's `ts_block*`) are not run.
"""

from __future__ import annotations

from typing import Callable, Literal

import torch
from einops import rearrange
from torch import nn

from codephys_plugin.adapters.base import Adapter
from codephys_plugin.adapters.feature_map import FeatureMap
from codephys_plugin.adapters.input_recipes import bgr_residuals, diff_normalized
from codephys_plugin.adapters.networks.physformer import (physformer_frame_size, physformer_frames, physformer_head,
                                                          physformer_tokens)
from codephys_plugin.adapters.networks.physnet import physnet_encode, physnet_head
from codephys_plugin.adapters.networks.sspd import sspd_backbone, sspd_predict


class ClipAdapter(Adapter):
    """Shared by the clip networks: per-step inputs 'b t c h w' (their recipe's output, or a toolbox cache)
    become the network's 'b c t h w'."""

    input_layout = "b c t h w"
    step_recipe: Callable[[torch.Tensor], torch.Tensor]
    """'b (t+1) 3 h w' raw frames -> 'b t c h w' steps."""

    def prepare(self, frames: torch.Tensor) -> torch.Tensor:
        return self.from_prepared(self.step_recipe(frames))

    def from_prepared(self, clips: torch.Tensor) -> torch.Tensor:
        return rearrange(clips, "b t c h w -> b c t h w")


class PhysFormerAdapter(ClipAdapter):
    """PhysFormer without its head. Input 'b 3 t s s' DiffNormalized frames, t divisible by 4, s = 128 for the
    toolbox's 4×4×4 patches (32·p for (4, p, p) patches).

    `gra_sharp` is the attention temperature the toolbox trains and tests with (2.0).
    """

    step_recipe = staticmethod(diff_normalized)

    def __init__(self, model: nn.Module, *, level: Literal["frames", "tokens"] = "frames", gra_sharp: float = 2.0):
        super().__init__(model)
        if level not in ("frames", "tokens"):
            raise ValueError(f"PhysFormerAdapter level: expected 'frames' or 'tokens', got {level!r}")
        self.level, self.gra_sharp = level, gra_sharp
        self.time_stride = 4 if level == "tokens" else 1
        self.head_modules = ("ConvBlockLast",) if level == "frames" else ("upsample", "upsample2", "ConvBlockLast")

    @property
    def frame_size(self) -> int:
        return physformer_frame_size(self.model)

    @property
    def feature_channels(self) -> int:
        return self.model.patch_embedding.out_channels // (1 if self.level == "tokens" else 2)

    def forward(self, inputs: torch.Tensor) -> FeatureMap:
        tokens, _ = physformer_tokens(self.model, inputs, self.gra_sharp)
        if self.level == "tokens":
            return FeatureMap.from_spatial(tokens, time_stride=4, layer="transformer3")
        return FeatureMap.from_spatial(physformer_frames(self.model, tokens), layer="upsample2")

    def rppg(self, inputs: torch.Tensor) -> torch.Tensor:
        tokens, _ = physformer_tokens(self.model, inputs, self.gra_sharp)
        return physformer_head(self.model, physformer_frames(self.model, tokens))


class PhysNetAdapter(ClipAdapter):
    """PhysNet without `poolspa` and `ConvBlock10`. Input 'b 3 t h w' DiffNormalized frames, t divisible by 4."""

    step_recipe = staticmethod(diff_normalized)
    head_modules = ("poolspa", "ConvBlock10")

    @property
    def feature_channels(self) -> int:
        return self.model.upsample2[0].out_channels

    @property
    def rppg_steps(self) -> int:
        return self.model.poolspa.output_size[0]

    def forward(self, inputs: torch.Tensor) -> FeatureMap:
        return FeatureMap.from_spatial(physnet_encode(self.model, inputs)[0], layer="upsample2")

    def rppg(self, inputs: torch.Tensor) -> torch.Tensor:
        return physnet_head(self.model, physnet_encode(self.model, inputs)[0])


class SSPDAdapter(ClipAdapter):
    """SSPD (or SSPDL3) without its predictor. Input 'b 3 t 128 128' BGR frame residuals in pixel units, t even."""

    frame_size = 128
    step_recipe = staticmethod(bgr_residuals)

    def __init__(self, model: nn.Module) -> None:
        super().__init__(model)
        self.head_modules = ("predictor",) + tuple(
            name for name in ("ts_block1", "ts_block2", "ts_block3") if hasattr(model, name)
        )

    @property
    def feature_channels(self) -> int:
        return self.model.backbone_step4.Conv_Layer1.out_channels

    def forward(self, inputs: torch.Tensor) -> FeatureMap:
        spatial, pooled = sspd_backbone(self.model, inputs)
        return FeatureMap(temporal=pooled, spatial=spatial, time_stride=1, layer="backbone_step4")

    def rppg(self, inputs: torch.Tensor) -> torch.Tensor:
        return sspd_predict(self.model, sspd_backbone(self.model, inputs)[0])
