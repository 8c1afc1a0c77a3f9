"""Collective helpers that keep codebook statistics identical on every rank (no-ops without DDP)."""

from __future__ import annotations

import torch
import torch.distributed as dist


def is_distributed() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def is_main_rank() -> bool:
    return not is_distributed() or dist.get_rank() == 0


def all_reduce_sum_(tensor: torch.Tensor) -> torch.Tensor:
    """Sum `tensor` over ranks in place and return it."""
    if is_distributed():
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor


def broadcast_from_main_(tensor: torch.Tensor) -> torch.Tensor:
    """Overwrite `tensor` on every rank with rank 0's copy and return it."""
    if is_distributed():
        dist.broadcast(tensor, src=0)
    return tensor
