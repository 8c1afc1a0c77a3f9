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


_OUTPUT_LAYOUTS: tuple[tuple[tuple[type[nn.Module], ...], tuple[str, ...]], ...] = (
    ((nn.Conv3d, nn.ConvTranspose3d, nn.BatchNorm3d, nn.InstanceNorm3d, nn.MaxPool3d, nn.AvgPool3d,
      nn.AdaptiveAvgPool3d, nn.AdaptiveMaxPool3d), ("b c t h w",)),
    ((nn.Conv2d, nn.ConvTranspose2d, nn.BatchNorm2d, nn.InstanceNorm2d, nn.MaxPool2d, nn.AvgPool2d,
      nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d), ("(b t) c h w",)),
    ((nn.Conv1d, nn.ConvTranspose1d), ("b c t",)),
    ((nn.Linear,), ("b t c", "(b t) c")),
)
"""The layouts PyTorch's own layers give (channels right after the batch for convolutions and norms)."""
_ELEMENT_WISE = (nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.ELU, nn.GELU, nn.SiLU, nn.Sigmoid, nn.Tanh, nn.Hardswish,
                 nn.Dropout, nn.Dropout2d, nn.Dropout3d, nn.Identity)


def _known_output_layouts(module: nn.Module) -> tuple[str, tuple[str, ...]] | None:
    """(layer type, layouts its output can have) when the layer is a PyTorch layer, or a Sequential that
    ends in one (possibly followed by element-wise modules); None for custom modules, whose forward may permute."""
    while isinstance(module, nn.Sequential):
        shaping = [child for child in module if not isinstance(child, _ELEMENT_WISE)]
        if not shaping:
            return None
        module = shaping[-1]
    layouts = _layouts_of(module)
    return (type(module).__name__, layouts) if layouts is not None else None


def _layouts_of(module: nn.Module) -> tuple[str, ...] | None:
    return next((layouts for types, layouts in _OUTPUT_LAYOUTS if isinstance(module, types)), None)


class HookAdapter(CalledModelAdapter):
    """Runs `model(inputs)` and takes the output of the submodule `layer` through a forward hook.

    layout: the layer output's einops layout, one of "b c t h w", "b t c h w", "(b t) c h w", "b c t",
    "b t c", "(b t) c", "b t", "(b t)"; "(b t)" layouts need `clip_length` (frames per clip).
    output_index: which element to take when the layer returns a tuple.
    stop: True (default) skips everything after `layer` by aborting the forward, so the head never runs;
    False lets the forward finish and ignores its result (for models whose forward must complete).
    prepare: optional raw-frames -> model-input recipe; without it `prepare` passes frames through.
    channels: the layer's output channels, read off the layer (`out_channels`, `num_features`) when omitted.

    The layout is checked against the layer where it can be known: a PyTorch convolution, norm or pool
    (or a Sequential ending in one) fixes it, and the captured tensor's c axis must match the layer's
    channels. A custom module whose output has as many channels as frames cannot be checked: declaring
    "b t c h w" for a "b c t h w" output then swaps time and channels silently, so state its layout with care.
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
        known = _known_output_layouts(modules[layer])
        if known is not None and layout not in known[1]:
            raise ValueError(
                f"HookAdapter: layer {layer!r} is a {known[0]}, whose output is ({' or '.join(known[1])}) by "
                f"PyTorch's convention; layout {layout!r} would mix up its axes"
            )
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
        if self._channels is not None and features.shape[1] != self._channels:
            raise ValueError(
                f"HookAdapter: output of {self.layer!r} has {features.shape[1]} at the c axis of layout {self.layout!r}, "
                f"but the layer gives {self._channels} channels; is the layout right?"
            )
        if is_spatial(self.layout):
            return FeatureMap.from_spatial(features, layer=self.layer)
        return FeatureMap(temporal=features, spatial=None, time_stride=1, layer=self.layer)
