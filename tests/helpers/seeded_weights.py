"""Fill any module's state_dict from a seed, so two implementations with the same keys get the same weights.

Why: the golden outputs in tests/fixtures/public_outputs/ were computed by the public implementations
with weights filled this way; our re-implementations, filled the same way, must reproduce them.
Scales keep activations away from saturation so that a wrong layer order shows up in the numbers.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator

import torch
from torch import nn


def _fan_in(shape: torch.Size) -> int:
    return max(1, math.prod(shape[1:]))


def seeded_value(key: str, like: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    if key.endswith("num_batches_tracked"):
        return torch.full_like(like, 7)
    noise = torch.randn(like.shape, generator=generator, dtype=torch.float64)
    if key.endswith("running_var"):
        return (0.5 + noise.abs()).to(like.dtype)
    if key.endswith("running_mean"):
        return (0.1 * noise).to(like.dtype)
    if like.dim() <= 1:  # norm weights/biases and layer biases
        base = 1.0 if key.endswith("weight") else 0.0
        return (base + 0.1 * noise).to(like.dtype)
    return (noise / math.sqrt(_fan_in(like.shape))).to(like.dtype)


def fill_seeded(module: nn.Module, seed: int = 0) -> nn.Module:
    """Overwrite every state_dict entry, visiting keys in sorted order with one generator."""
    generator = torch.Generator().manual_seed(seed)
    state = module.state_dict()
    filled = {key: seeded_value(key, state[key], generator) for key in sorted(state)}
    module.load_state_dict(filled, strict=True)
    return module


def seeded_input(shape: tuple[int, ...], seed: int = 1, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Drawn in float64, whose CPU sampler is scalar code: float32 `randn` takes a vectorised path
    on AVX2 machines and gives other values elsewhere."""
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64).to(dtype)


@contextlib.contextmanager
def float64_defaults() -> Iterator[None]:
    """Build and run models in float64, tensors they create internally included."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        yield
    finally:
        torch.set_default_dtype(previous)
