"""Stage I training loop: fit the signal autoencoder and its codebook to PPG windows."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import torch
from torch.nn.parallel import DistributedDataParallel

from codephys_plugin.autoencoder import SignalAutoencoder
from codephys_plugin.encoder.signal_encoder import check_signal_batch
from codephys_plugin.training.checkpoint import load_checkpoint, save_checkpoint
from codephys_plugin.training.distributed import DistributedContext


@dataclass(frozen=True)
class Stage1TrainingConfig:
    """The paper's Stage I: Adam, lr initialised to 5e-3, batch 8, 15 epochs. The paper does not say
    how the rate evolves; we anneal it to zero on a cosine over all steps. Under DDP `batch_size` is
    per process."""

    epochs: int = 15
    batch_size: int = 8
    lr: float = 5e-3
    seed: int = 0
    checkpoint: Path | None = None
    """Written after every epoch; pass it back as `resume_from` to continue."""
    progress: bool = False

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.batch_size < 1 or self.lr <= 0:
            raise ValueError(f"invalid Stage I training config: {self}")


@dataclass(frozen=True)
class EpochSummary:
    epoch: int
    loss: float
    reconstruction: float
    feature: float


def train_stage1(
    model: SignalAutoencoder,
    windows: torch.Tensor,
    config: Stage1TrainingConfig = Stage1TrainingConfig(),
    *,
    context: DistributedContext = DistributedContext(),
    resume_from: Path | None = None,
    on_epoch: Callable[[EpochSummary], None] | None = None,
) -> list[EpochSummary]:
    """Train on ``windows (k t)`` (already normalised) and return per-epoch mean losses.

    Every rank must pass the same windows: each takes its own slice of every global batch. A run
    resumed from a checkpoint continues exactly where the interrupted one stopped (same data order,
    same random draws), so on CPU it ends with the same weights as an uninterrupted run.
    """
    check_signal_batch(windows, "windows")
    model.to(context.device)
    network = DistributedDataParallel(model) if context.active else model
    batches_per_epoch = _batches_per_epoch(windows.shape[0], config.batch_size, context.world_size)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=config.epochs * batches_per_epoch)
    order_rng = torch.Generator().manual_seed(config.seed)
    history: list[EpochSummary] = []
    if resume_from is not None and Path(resume_from).exists():
        history = _restore(load_checkpoint(resume_from), model, optimizer, schedule, order_rng, config)
    model.train()
    for epoch in range(len(history), config.epochs):
        totals = torch.zeros(3)
        batches = _epoch_batches(windows.shape[0], config.batch_size, context, order_rng)
        for batch_ids in _progress(batches, config, context, epoch):
            batch = windows[batch_ids].to(context.device)
            losses = model.loss(batch, network(batch))
            optimizer.zero_grad(set_to_none=True)
            losses.total.backward()
            optimizer.step()
            schedule.step()
            totals += torch.stack([loss.detach().cpu() for loss in losses])
        summary = EpochSummary(epoch + 1, *(totals / len(batches)).tolist())
        history.append(summary)
        if config.checkpoint is not None and context.is_main:
            save_checkpoint(config.checkpoint, _snapshot(model, optimizer, schedule, order_rng, history, config))
        if on_epoch is not None and context.is_main:
            on_epoch(summary)
    model.eval()
    return history


def _batches_per_epoch(count: int, batch_size: int, world_size: int) -> int:
    if world_size == 1:
        return -(-count // batch_size)
    batches = count // (batch_size * world_size)
    if batches == 0:
        raise ValueError(f"{count} windows cannot fill one batch of {batch_size} on each of {world_size} processes")
    return batches


def _epoch_batches(
    count: int, batch_size: int, context: DistributedContext, order_rng: torch.Generator
) -> list[torch.Tensor]:
    """This rank's batches of one epoch. All ranks draw the same permutation; under DDP every global
    batch holds `world_size` per-rank batches and an incomplete last one is dropped."""
    order = torch.randperm(count, generator=order_rng)
    if not context.active:
        return list(order.split(batch_size))
    global_size = batch_size * context.world_size
    usable = (count // global_size) * global_size
    return [order[start + context.rank * batch_size : start + (context.rank + 1) * batch_size]
            for start in range(0, usable, global_size)]


def _progress(batches: list[torch.Tensor], config: Stage1TrainingConfig, context: DistributedContext, epoch: int):
    if not (config.progress and context.is_main):
        return batches
    from tqdm.auto import tqdm

    return tqdm(batches, desc=f"epoch {epoch + 1}/{config.epochs}", unit="batch", leave=False)


def _settings(config: Stage1TrainingConfig) -> dict:
    """The settings a checkpoint must share with the run that resumes it."""
    return {"epochs": config.epochs, "batch_size": config.batch_size, "lr": config.lr, "seed": config.seed}


def _snapshot(model, optimizer, schedule, order_rng, history, config) -> dict:
    return {
        "epoch": len(history),
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "schedule": schedule.state_dict(),
        "order_rng": order_rng.get_state(),
        "torch_rng": torch.get_rng_state(),
        "history": [asdict(summary) for summary in history],
        "training": _settings(config),
    }


def _restore(state, model, optimizer, schedule, order_rng, config) -> list[EpochSummary]:
    saved, current = state.get("training", {}), _settings(config)
    if saved != current:
        raise ValueError(f"checkpoint was written with training settings {saved}, not {current}")
    model.load_state_dict(state["model"], strict=True)
    optimizer.load_state_dict(state["optimizer"])
    schedule.load_state_dict(state["schedule"])
    order_rng.set_state(state["order_rng"])
    torch.set_rng_state(state["torch_rng"])
    return [EpochSummary(**summary) for summary in state["history"]]
