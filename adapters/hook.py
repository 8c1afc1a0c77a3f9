"""HookAdapter: features from any named module of any network, for models no dedicated adapter knows."""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from codephys_plugin.adapters.base import CalledModelAdapter
from codephys_plugin.adapters.feature_map import FeatureMap
from codephys_plugin.adapters.layouts import check_layout, is_spatial, to_feature_axes


class _StopForward(Exception):
    """Raised inside the hook to skip the rest of the network once the features are captured."""


def _declared_channels(module: nn.Module) -> int | None:
    """Output channels a layer states: its own `out_channels`/`num_features`, or its last child's."""
    for candidate in [module, *reversed(list(module.modules()))]:
        for attribute in ("out_channels", "num_features", "out_features"):
            if isinstance(getattr(candidate, attribute, None), int):
                return getattr(candidate, attribute)
    return None


class HookAdapter(CalledModelAdapter):
    """Runs `model(inputs)` and takes the output of the submodule `layer` through a forward hook.

    layout: the layer output's einops layout, one of "b c t h w", "b t c h w", "(b t) c h w", "b c t",
    "b t c", "(b t) c", "b t", "(b t)"; "(b t)" layouts need `clip_length` (frames per clip).
    output_index: which element to take when the layer returns a tuple.
    stop: True (default) skips everything after `layer` by aborting the forward, so the head never runs;
    False lets the forward finish and ignores its result (for models whose forward must complete).
    prepare: optional raw-frames -> model-input recipe; without it `prepare` passes frames through.
    channels: the layer's output channels, read off the layer (`out_channels`, `num_features`) when omitted.
    """

    def __init__(
        self,
        model: nn.Module,
        layer: str,
        layout: str = "b c t h w",
        *,
        clip_length: int | None = None,
        output_index: int | None = None,
        stop: bool = True,
        prepare: Callable[[torch.Tensor], torch.Tensor] | None = None,
        channels: int | None = None,
    ) -> None:
        super().__init__(model, prepare=prepare, output_index=output_index)
        modules = dict(model.named_modules())
        if layer not in modules or not layer:
            candidates = ", ".join(name for name in list(modules)[1:20])
            raise ValueError(f"HookAdapter: {type(model).__name__} has no submodule {layer!r} (some that exist: {candidates})")
        check_layout(layout, clip_length, "HookAdapter")
        self.layer, self.layout, self.clip_length, self.stop = layer, layout, clip_length, stop
        self._target = modules[layer]
        self.has_spatial = is_spatial(layout)
        self._channels = channels if channels is not None else _declared_channels(self._target)

    @property
    def feature_channels(self) -> int:
        if self._channels is None:
            raise ValueError(
                f"HookAdapter: cannot tell how many channels layer {self.layer!r} "
                f"({type(self._target).__name__}) gives; pass channels=..."
            )
        return self._channels

    def rppg(self, inputs: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError(
            "HookAdapter reads one layer and does not know the model's output format; "
            "wrap the model in SignalAdapter to get its rPPG"
        )

    def forward(self, inputs: torch.Tensor) -> FeatureMap:
        captured: list[torch.Tensor] = []

        def capture(_module: nn.Module, _args: object, output: object) -> None:
            captured.append(self.select(output, f"layer {self.layer!r}"))
            if self.stop:
                raise _StopForward

        handle = self._target.register_forward_hook(capture)
        try:
            self.model(inputs)
        except _StopForward:
            pass
        finally:
            handle.remove()
        if not captured:
            raise RuntimeError(f"HookAdapter: layer {self.layer!r} did not run during {type(self.model).__name__}.forward")
        features = to_feature_axes(captured[0], self.layout, self.clip_length, f"output of {self.layer!r}")
        if is_spatial(self.layout):
            return FeatureMap.from_spatial(features, layer=self.layer)
        return FeatureMap(temporal=features, spatial=None, time_stride=1, layer=self.layer)
