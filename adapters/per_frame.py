"""Adapters for the toolbox's per-frame 2-D networks, DeepPhys and EfficientPhys.

Both run on a flattened '(b t) c h w' batch in which the frames of a clip are contiguous; the adapters
take clips as 'b t c h w', flatten them, and fold the features back to 'b c t h w'. Features are the
output of `dropout_3` (64 channels, 16×16 at 72 px), the input of the dense head, which is not run.
"""

from __future__ import annotations

import torch
from einops import rearrange

from codephys_plugin._checks import check_tensor
from codephys_plugin.adapters.base import Adapter
from codephys_plugin.adapters.feature_map import FeatureMap
from codephys_plugin.adapters.input_recipes import check_frames, diff_normalized, standardized
from codephys_plugin.adapters.networks.deepphys import HEAD_MODULES, deepphys_features, dense_head, img_size_of
from codephys_plugin.adapters.networks.efficientphys import efficientphys_features_from_diffs, frame_depth_of


class PerFrameAdapter(Adapter):
    """Shared by both: subclasses turn 'b t ...' clips into '(b t) c h w' features at `dropout_3`."""

    input_layout = "b t c h w"
    head_modules = HEAD_MODULES

    @property
    def feature_channels(self) -> int:
        return self.model.motion_conv4.out_channels

    @property
    def frame_size(self) -> int:
        return img_size_of(self.model)

    def per_frame_features(self, inputs: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, inputs: torch.Tensor) -> FeatureMap:
        features = rearrange(self.per_frame_features(inputs), "(b t) c h w -> b c t h w", b=inputs.shape[0])
        return FeatureMap.from_spatial(features, layer="dropout_3")

    def rppg(self, inputs: torch.Tensor) -> torch.Tensor:
        prediction = dense_head(self.model, self.per_frame_features(inputs))
        return rearrange(prediction, "(b t) 1 -> b t", b=inputs.shape[0])


class DeepPhysAdapter(PerFrameAdapter):
    """DeepPhys without `final_dense_1`, `dropout_4`, `final_dense_2`.

    Input 'b t 6 h w': DiffNormalized (ch 0-2) and Standardized (ch 3-5) frames, h = w = img_size.
    """

    def prepare(self, frames: torch.Tensor) -> torch.Tensor:
        """'b (t+1) 3 h w' -> 'b t 6 h w': frame j's appearance channels go with the difference (j, j+1)."""
        frames = check_frames(frames)
        return torch.cat([diff_normalized(frames), standardized(frames[:, :-1])], dim=2)

    def from_prepared(self, clips: torch.Tensor) -> torch.Tensor:
        """Toolbox DeepPhys caches already hold the 6 channels per step."""
        return clips

    def per_frame_features(self, inputs: torch.Tensor) -> torch.Tensor:
        size = img_size_of(self.model)
        channels = 2 * self.model.in_channels
        check_tensor(inputs, "DeepPhys inputs", "b t c h w", sizes={"c": channels, "h": size, "w": size})
        return deepphys_features(self.model, inputs.flatten(0, 1))


class EfficientPhysAdapter(PerFrameAdapter):
    """EfficientPhys without its dense head, with the frame difference taken per clip.

    Input 'b (t+1) 3 h w' Standardized frames (the toolbox's extra frame per clip), t a multiple of the
    network's frame_depth so that no temporal-shift segment straddles two clips.
    """

    @property
    def steps_multiple(self) -> int:
        return frame_depth_of(self.model)

    def prepare(self, frames: torch.Tensor) -> torch.Tensor:
        """'b (t+1) 3 h w' -> 'b (t+1) 3 h w' z-scored per clip; the network differences them itself."""
        return standardized(frames)

    def from_prepared(self, clips: torch.Tensor) -> torch.Tensor:
        """'b t 3 h w' Standardized -> 'b (t+1) 3 h w': the last frame repeated, as the toolbox's trainer
        does (per batch there; per clip here, so the last step's difference is zero)."""
        return torch.cat([clips, clips[:, -1:]], dim=1)

    def per_frame_features(self, inputs: torch.Tensor) -> torch.Tensor:
        check_tensor(inputs, "EfficientPhys inputs", "b t c h w", sizes={"c": 3})
        steps, depth = inputs.shape[1] - 1, frame_depth_of(self.model)
        if steps < 1 or steps % depth:
            below, above = depth * max(1, steps // depth), depth * (steps // depth + 1)
            raise ValueError(
                f"EfficientPhys inputs: got {inputs.shape[1]} frames per clip; expected t+1 frames with t a "
                f"multiple of frame_depth={depth} (e.g. {below + 1} or {above + 1})"
            )
        diffs = torch.diff(inputs, dim=1).flatten(0, 1)
        return efficientphys_features_from_diffs(self.model, diffs)
