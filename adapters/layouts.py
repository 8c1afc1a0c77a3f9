"""Turn a tensor in a user-declared einops layout into the FeatureMap axes ('b c t h w' or 'b c t')."""

from __future__ import annotations

import torch
from einops import rearrange

from codephys_plugin._checks import check_tensor

SPATIAL_LAYOUTS = ("b c t h w", "b t c h w", "(b t) c h w")
SIGNAL_LAYOUTS = ("b t", "(b t)")
TEMPORAL_LAYOUTS = ("b c t", "b t c", "(b t) c") + SIGNAL_LAYOUTS


def is_spatial(layout: str) -> bool:
    return layout in SPATIAL_LAYOUTS


def check_layout(layout: str, clip_length: int | None, owner: str) -> None:
    if layout not in SPATIAL_LAYOUTS + TEMPORAL_LAYOUTS:
        raise ValueError(f"{owner}: layout {layout!r} is not one of {SPATIAL_LAYOUTS + TEMPORAL_LAYOUTS}")
    if layout.startswith("(b t)") and (clip_length is None or clip_length < 1):
        raise ValueError(f"{owner}: layout {layout!r} flattens clips into the batch; pass clip_length=T (frames per clip)")


def to_feature_axes(x: torch.Tensor, layout: str, clip_length: int | None, name: str) -> torch.Tensor:
    """`x` in `layout` -> 'b c t h w' (spatial layouts) or 'b c t' (temporal layouts; 'b t' gives c=1)."""
    check_tensor(x, name, layout.replace("(b t)", "n"), finite=False)
    if layout.startswith("(b t)") and x.shape[0] % clip_length:
        raise ValueError(f"{name}: {x.shape[0]} frames in the flattened batch is not a multiple of clip_length={clip_length}")
    lengths = {"t": clip_length} if layout.startswith("(b t)") else {}
    target = "b c t h w" if is_spatial(layout) else "b c t"
    if layout in SIGNAL_LAYOUTS:
        layout, x = f"{layout} c", x.unsqueeze(-1)
    return rearrange(x, f"{layout} -> {target}", **lengths)
