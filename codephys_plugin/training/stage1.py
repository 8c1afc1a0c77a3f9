"""Stage I training loop: fit the signal autoencoder and its codebook to PPG windows."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch

from codephys_plugin.autoencoder import SignalAutoencoder
from codephys_plugin.encoder.signal_encoder import check_signal_batch


@dataclass(frozen=True)
class Stage1TrainingConfig:
    """The paper's Stage I: Adam, lr initialised to 5e-3, batch 8, 15 epochs. The paper does not say
    how the rate evolves; we anneal it to zero on a cosine over all steps."""

    epochs: int = 15
    batch_size: int = 8
    lr: float = 5e-3
    seed: int = 0

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
    on_epoch: Callable[[EpochSummary], None] | None = None,
) -> list[EpochSummary]:
    """Train on ``windows (k t)`` (already normalised) and return per-epoch mean losses."""
    check_signal_batch(windows, "windows")
    generator = torch.Generator().manual_seed(config.seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    steps_per_epoch = -(-windows.shape[0] // config.batch_size)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=config.epochs * steps_per_epoch)
    history = []
    model.train()
    for epoch in range(config.epochs):
        totals = torch.zeros(3)
        order = torch.randperm(windows.shape[0], generator=generator)
        batches = order.split(config.batch_size)
        for batch_ids in batches:
            batch = windows[batch_ids]
            output = model(batch)
            losses = model.loss(batch, output)
            optimizer.zero_grad(set_to_none=True)
            losses.total.backward()
            optimizer.step()
            schedule.step()
            totals += torch.stack([loss.detach() for loss in losses])
        means = (totals / len(batches)).tolist()
        summary = EpochSummary(epoch + 1, *means)
        history.append(summary)
        if on_epoch is not None:
            on_epoch(summary)
    model.eval()
    return history
