"""The face every adapter shows the code-query stage: prepare frames, run the network headless, give features."""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from codephys_plugin.adapters.feature_map import FeatureMap


class Adapter(nn.Module):
    """Wraps a network (ours or an instance of the public class) without copying or changing it.

    Subclasses document `input_layout` (the network input, per clip), implement `prepare` (raw frames ->
    that input), `forward` (input -> FeatureMap, never executing `head_modules`) and `rppg` (input -> the
    network's own prediction with its head: the baseline the code query is compared with).
    """

    input_layout: str = ""
    head_modules: tuple[str, ...] = ()
    has_spatial: bool = True
    time_stride: int = 1
    frame_size: int | None = None
    """The frame height and width the network is built for; None when it takes any size."""
    steps_multiple: int = 1
    """The t of every clip must be a multiple of this (EfficientPhys: its frame_depth)."""
    rppg_steps: int | None = None
    """The t its own head (`rppg`) is built for (PhysNet: its `frames`); None when it takes any."""

    @property
    def feature_channels(self) -> int:
        """c of the FeatureMap, known before any forward so a head can be built around it."""
        raise NotImplementedError

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def prepare(self, frames: torch.Tensor) -> torch.Tensor:
        """'b (t+1) c h w' raw RGB frames (pixel units) -> the network input with t steps, `input_layout`.

        The network adapters also take NumPy frames as video readers give them, '(t+1) h w c' uint8 (one
        clip) or 'b (t+1) h w c' (see `input_recipes.check_frames`)."""
        raise NotImplementedError

    def from_prepared(self, clips: torch.Tensor) -> torch.Tensor:
        """'b t c h w' clips already prepared with the network's recipe (rPPG-Toolbox caches) -> its input."""
        raise NotImplementedError(
            f"{type(self).__name__} does not know how prepared clips map to its network's input; "
            "give it raw frames through prepare() instead"
        )

    def forward(self, inputs: torch.Tensor) -> FeatureMap:
        raise NotImplementedError

    def rppg(self, inputs: torch.Tensor) -> torch.Tensor:
        """'b t' the network's own rPPG (in its own label form, e.g. DiffNormalized for the toolbox nets)."""
        raise NotImplementedError

    def extra_repr(self) -> str:
        return f"input_layout='{self.input_layout}', head_modules={self.head_modules}"


class CalledModelAdapter(Adapter):
    """Base of the generic adapters, which only call the model: the user supplies the input recipe."""

    input_layout = "as the model takes it"

    def __init__(
        self,
        model: nn.Module,
        *,
        prepare: Callable[[torch.Tensor], torch.Tensor] | None,
        output_index: int | None,
    ) -> None:
        super().__init__(model)
        self.recipe, self.output_index = prepare, output_index

    def prepare(self, frames: torch.Tensor) -> torch.Tensor:
        """The recipe given at construction; without one, frames pass through unchanged."""
        return frames if self.recipe is None else self.recipe(frames)

    def select(self, output: object, source: str) -> torch.Tensor:
        """`output[output_index]` (or `output` itself), which must be a tensor; `source` names it in errors."""
        if self.output_index is not None:
            output = output[self.output_index]
        if not isinstance(output, torch.Tensor):
            raise ValueError(
                f"{type(self).__name__}: {source} returned {type(output).__name__}, not a tensor; "
                "pass output_index to pick one element"
            )
        return output
