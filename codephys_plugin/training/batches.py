"""Batches of an epoch, the same on every DDP rank, and the progress bar over them."""

from __future__ import annotations

import sys
from typing import Iterable, TypeVar

import torch

from codephys_plugin.training.distributed import DistributedContext

Item = TypeVar("Item")


def batches_per_epoch(count: int, batch_size: int, world_size: int) -> int:
    """Single process: every item, the last batch possibly short. DDP: only complete global batches."""
    if world_size == 1:
        return -(-count // batch_size)
    batches = count // (batch_size * world_size)
    if batches == 0:
        raise ValueError(f"{count} items cannot fill one batch of {batch_size} on each of {world_size} processes")
    return batches


def epoch_batches(count: int, batch_size: int, context: DistributedContext, order_rng: torch.Generator) -> list[torch.Tensor]:
    """This rank's batches of item indices for one epoch. All ranks draw the same permutation; under DDP
    every global batch holds `world_size` per-rank batches and an incomplete last one is dropped."""
    batches_per_epoch(count, batch_size, context.world_size)
    order = torch.randperm(count, generator=order_rng)
    if not context.active:
        return list(order.split(batch_size))
    global_size = batch_size * context.world_size
    usable = (count // global_size) * global_size
    return [order[start + context.rank * batch_size : start + (context.rank + 1) * batch_size]
            for start in range(0, usable, global_size)]


def progress(items: Iterable[Item], *, enabled: bool, description: str, total: int | None = None,
             unit: str = "batch") -> Iterable[Item]:
    """A tqdm bar over `items` when `enabled` (the main process of a run that asked for one) and the
    bar's stream is a terminal: in a file or a CI log its carriage-return frames pile up, and the
    per-epoch lines the CLIs print already say how training goes."""
    if not enabled or not sys.stderr.isatty():
        return items
    from tqdm.auto import tqdm

    return tqdm(items, desc=description, unit=unit, leave=False, total=total)
