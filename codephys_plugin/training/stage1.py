"""Stage I training loop: fit the signal autoencoder and its codebook to PPG windows."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
from torch.nn.parallel import DistributedDataParallel

from codephys_plugin.autoencoder import SignalAutoencoder
from codephys_plugin.encoder.signal_encoder import check_signal_batch
from codephys_plugin.training.batches import batches_per_epoch, epoch_batches, progress
from codephys_plugin.training.checkpoint import (
    load_checkpoint,
    restore_training_state,
    save_checkpoint,
    training_state,
)
from codephys_plugin.training.distributed import DistributedContext
from codephys_plugin.training.fingerprint import tensors_digest


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
    context: DistributedContext | None = None,
    resume_from: Path | None = None,
    on_epoch: Callable[[EpochSummary], None] | None = None,
) -> list[EpochSummary]:
    """Train on ``windows (k t)`` (already normalised) and return per-epoch mean losses.

    Every rank must pass the same windows: each takes its own slice of every global batch. A run
    resumed from a checkpoint continues exactly where the interrupted one stopped (same data order,
    same random draws), so on CPU it ends with the same weights as an uninterrupted run. Without a `context`
    it is one process on the model's own device.
    """
    if context is None:
        context = DistributedContext.alone_with(model)
    check_signal_batch(windows, "windows")
    model.to(context.device)
    network = DistributedDataParallel(model) if context.active else model
    steps_per_epoch = batches_per_epoch(windows.shape[0], config.batch_size, context.world_size)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=config.epochs * steps_per_epoch)
    order_rng = torch.Generator().manual_seed(config.seed)
    history: list[EpochSummary] = []
    settings = _settings(config, model, windows)
    if resume_from is not None and Path(resume_from).exists():
        saved = restore_training_state(load_checkpoint(resume_from), model=model, optimizer=optimizer,
                                       order_rng=order_rng, settings=settings, schedule=schedule)
        history = [EpochSummary(**summary) for summary in saved]
    model.train()
    for epoch in range(len(history), config.epochs):
        totals = torch.zeros(3)
        batches = epoch_batches(windows.shape[0], config.batch_size, context, order_rng)
        bar = progress(batches, enabled=config.progress and context.is_main, description=f"epoch {epoch + 1}/{config.epochs}")
        for batch_ids in bar:
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
            state = training_state(model=model, optimizer=optimizer, order_rng=order_rng, history=history,
                                   settings=settings, schedule=schedule)
            save_checkpoint(config.checkpoint, state)
        if on_epoch is not None and context.is_main:
            on_epoch(summary)
    model.eval()
    return history


def _settings(config: Stage1TrainingConfig, model: SignalAutoencoder, windows: torch.Tensor) -> dict:
    """The settings a checkpoint must share with the run that resumes it: the schedule, the model's
    configuration and a digest of the training windows (other files, window, hop, band or rate differ)."""
    return {"epochs": config.epochs, "batch_size": config.batch_size, "lr": config.lr, "seed": config.seed,
            "model": repr(model.config),
            "training windows": f"{windows.shape[0]} x {windows.shape[1]} samples, sha256 {tensors_digest([windows])}"}
