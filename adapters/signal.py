"""SignalAdapter: any model's output rPPG as a one-channel feature.

The code query then acts as a black-box refinement of a model we cannot open: its predicted waveform is
the query, and the codebook pulls it towards clean pulse shapes.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from codephys_plugin.adapters.base import CalledModelAdapter
from codephys_plugin.adapters.feature_map import FeatureMap
from codephys_plugin.adapters.layouts import SIGNAL_LAYOUTS, check_layout, to_feature_axes


class SignalAdapter(CalledModelAdapter):
    """Runs the whole model (head included) and returns its rPPG as FeatureMap.temporal 'b 1 t'.

    layout: the rPPG's layout, "b t" or "(b t)" (per-frame nets such as DeepPhys give '(b t) 1', which
    is read as "(b t)" with the trailing 1 dropped); output_index picks it from a tuple output (PhysNet
    and PhysFormer return (rppg, ...), index 0).
    """

    def __init__(
        self,
        model: nn.Module,
        *,
        layout: str = "b t",
        clip_length: int | None = None,
        output_index: int | None = None,
        prepare: Callable[[torch.Tensor], torch.Tensor] | None = None,
    ) -> None:
        super().__init__(model, prepare=prepare, output_index=output_index)
        if layout not in SIGNAL_LAYOUTS:
            raise ValueError(f"SignalAdapter: layout must be one of {SIGNAL_LAYOUTS}, got {layout!r}")
        check_layout(layout, clip_length, "SignalAdapter")
        self.layout, self.clip_length = layout, clip_length
        self.has_spatial = False

    @property
    def feature_channels(self) -> int:
        return 1

    def rppg(self, inputs: torch.Tensor) -> torch.Tensor:
        output = self.select(self.model(inputs), "the model")
        if self.layout == "(b t)" and output.dim() == 2 and output.shape[1] == 1:
            output = output.squeeze(1)
        return to_feature_axes(output, self.layout, self.clip_length, "model rPPG").squeeze(1)

    def forward(self, inputs: torch.Tensor) -> FeatureMap:
        return FeatureMap(temporal=self.rppg(inputs).unsqueeze(1), spatial=None, time_stride=1, layer="output")
