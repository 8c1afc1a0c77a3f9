"""The bare baseline: a network trained the rPPG-Toolbox's way, with its own head and its own loss.

This is what `CodeQueryHead` has to beat, so it gets the toolbox's recipe and nothing weaker (see
`own_recipes`: the network's own loss on its own output, its optimiser, rate and schedule; batch 4), the
same clips and epochs as the head, the toolbox's per-video evaluation every epoch, and the head's rule for
the epoch it keeps (`selection`). Two epochs' weights are written as the network's own state_dict
(safetensors), so they load strictly into the public class and into `codephys-train --checkpoint`: the kept
one, and the first to reach the lowest validation HR MAE, the early-stopped network the benchmark's head
rows start from.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch.utils.data import DataLoader

from codephys_plugin.adapters import Adapter
from codephys_plugin.data.clip_sets import ClipSet, collate, model_chunks, network_inputs
from codephys_plugin.heart_rate.videos import Chunk, VideoReport, evaluate_videos
from codephys_plugin.rppg.filters import DEFAULT_HIGH_HZ, DEFAULT_LOW_HZ
from codephys_plugin.training.batches import epoch_batches, progress
from codephys_plugin.training.checkpoint import load_checkpoint, restore_training_state, save_checkpoint, training_state
from codephys_plugin.training.distributed import DistributedContext
from codephys_plugin.training.head_weights import save_head_weights
from codephys_plugin.training.own_recipes import OwnRecipe, own_recipe
from codephys_plugin.training.selection import SELECTION_RULES, beats_best, selection_key
from codephys_plugin.training.stage2 import write_history

@dataclass(frozen=True)
class OwnHeadConfig:
    """The toolbox's batch 4 and 30 epochs; the rest is the network's recipe. The best epoch has the lowest
    validation HR MAE, ties going to the lowest validation loss (the recipe's); unmeasurable epochs never win."""

    epochs: int = 30
    batch_size: int = 4
    lr: float | None = None
    """The peak (one-cycle) or starting rate; None: the recipe's."""
    seed: int = 0
    hr_band_hz: tuple[float, float] = (DEFAULT_LOW_HZ, DEFAULT_HIGH_HZ)
    best: Path | None = None
    """The best epoch's network state_dict (safetensors)."""
    warm_start: Path | None = None
    """The state_dict of the first epoch to reach the lowest validation HR MAE, ties not broken: the least
    trained network that reads the clean validation videos best (where the benchmark's head rows start)."""
    history: Path | None = None
    checkpoint: Path | None = None
    """Where the resumable state is written after every epoch (weights, optimiser, schedule, data order)."""
    progress: bool = False
    stop_after: int | None = None
    """Train only the run's first epochs, the schedule still spanning `epochs`: replays the start of a run (the
    benchmark rebuilds a lost warm start so)."""

    def __post_init__(self) -> None:
        if (self.epochs < 1 or self.batch_size < 1 or (self.lr is not None and not self.lr > 0)
                or (self.stop_after is not None and not 1 <= self.stop_after <= self.epochs)):
            raise ValueError(f"invalid own-head training config: {self}")


@dataclass(frozen=True)
class OwnHeadEpochSummary:
    epoch: int
    loss: float
    val: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0
    best: bool = False
    val_loss: float = math.nan
    warm_start: bool = False


def check_label_form(clips: ClipSet, name: str) -> None:
    """The toolbox trains these networks on DiffNormalized labels, and they output that form."""
    if clips.label_form != "derivative":
        raise ValueError(f"own-head training: the {name} clips hold {clips.label_form} labels; the toolbox trains "
                         "these networks on DiffNormalized (derivative) labels")


def evaluate_own_head(adapter: Adapter, clips: ClipSet, *, batch_size: int = 4,
                      band: tuple[float, float] = (DEFAULT_LOW_HZ, DEFAULT_HIGH_HZ)) -> VideoReport:
    """The network's own rPPG over `clips`, evaluated per video as the toolbox does (DiffNormalized outputs)."""
    return evaluate_videos(_own_chunks(adapter, clips, batch_size), clips.fs, diff_normalized=True,
                           low=band[0], high=band[1])


def validate_own_head(adapter: Adapter, clips: ClipSet, *, batch_size: int = 4,
                      band: tuple[float, float] = (DEFAULT_LOW_HZ, DEFAULT_HIGH_HZ)) -> tuple[float, VideoReport]:
    """(the recipe's validation loss over every clip, the per-video report) from one pass over `clips`."""
    chunks = _own_chunks(adapter, clips, batch_size)
    rppg, labels = (torch.from_numpy(np.stack([getattr(chunk, side) for chunk in chunks])) for side in
                    ("prediction", "label"))
    loss = float(own_recipe(adapter).validate(rppg, labels.to(rppg.dtype), fs=clips.fs))
    return loss, evaluate_videos(chunks, clips.fs, diff_normalized=True, low=band[0], high=band[1])


@torch.no_grad()
def _own_chunks(adapter: Adapter, clips: ClipSet, batch_size: int) -> list[Chunk]:
    check_label_form(clips, "validation")
    was_training = adapter.training
    adapter.eval()
    chunks = model_chunks(clips, adapter, adapter.rppg, batch_size=batch_size)
    adapter.train(was_training)
    return chunks


def train_own_head(
    adapter: Adapter,
    train: ClipSet,
    val: ClipSet,
    config: OwnHeadConfig = OwnHeadConfig(),
    *,
    resume_from: Path | None = None,
    on_epoch: Callable[[OwnHeadEpochSummary], None] | None = None,
) -> list[OwnHeadEpochSummary]:
    """Train the whole network (backbone and its own head) on `train`, validate on `val` every epoch. A run
    resumed from its checkpoint continues with the same data order, schedule and random draws."""
    recipe = own_recipe(adapter)
    check_label_form(train, "training")
    check_label_form(val, "validation")
    order_rng = torch.Generator().manual_seed(config.seed)
    steps = -(-len(train) // config.batch_size)
    lr = recipe.lr if config.lr is None else config.lr
    optimizer = recipe.optimizer_for(adapter.parameters(), lr)
    batch_schedule, epoch_schedule = _schedules(recipe, optimizer, lr, config.epochs, steps)
    device = next(adapter.parameters()).device
    schedules = {name: value for name, value in (("batch_schedule", batch_schedule),
                                                 ("epoch_schedule", epoch_schedule)) if value is not None}
    settings = _settings(config, adapter, train, val)
    history: list[OwnHeadEpochSummary] = []
    if resume_from is not None and Path(resume_from).exists():
        saved = restore_training_state(load_checkpoint(resume_from), model=adapter, optimizer=optimizer,
                                       order_rng=order_rng, settings=settings, **schedules)
        history = [OwnHeadEpochSummary(**summary) for summary in saved]
    for epoch in range(len(history), config.stop_after or config.epochs):
        started = time.perf_counter()
        adapter.train()
        batches = epoch_batches(len(train), config.batch_size, DistributedContext(), order_rng)
        loader = DataLoader(train.dataset, batch_sampler=[b.tolist() for b in batches], collate_fn=collate)
        total = 0.0
        for frames, ppg in progress(loader, enabled=config.progress, total=steps,
                                    description=f"epoch {epoch + 1}/{config.epochs}"):
            rppg = adapter.rppg(network_inputs(adapter, frames.to(device), train.prepared))
            loss = recipe.loss(rppg, ppg.to(device).float(), epoch=epoch, fs=train.fs)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if batch_schedule is not None:
                batch_schedule.step()
            total += float(loss.detach())
        if epoch_schedule is not None:
            epoch_schedule.step()
        val_loss, report = validate_own_head(adapter, val, batch_size=config.batch_size, band=config.hr_band_hz)
        summary = _summary(epoch + 1, total / steps, val_loss, report.summary(), history, started)
        _save_marked(summary, adapter, config)
        history.append(summary)
        if config.checkpoint is not None:
            save_checkpoint(config.checkpoint, training_state(model=adapter, optimizer=optimizer, order_rng=order_rng,
                                                              history=history, settings=settings, **schedules))
        if config.history is not None:
            write_history(config.history, history)
        if on_epoch is not None:
            on_epoch(summary)
    adapter.eval()
    return history


def _summary(epoch: int, loss: float, val_loss: float, values: dict[str, float],
             history: list[OwnHeadEpochSummary], started: float) -> OwnHeadEpochSummary:
    """The epoch's summary, marked best if it beats the last best (`beats_best`) and warm_start if its MAE
    is strictly below every earlier epoch's (so the first of equal MAEs stays the warm start). As in
    `train_stage2`, the first epoch is both until one beats it: a run that never measures an HR keeps one."""
    mae = selection_key(val_loss, values)[0]
    earlier_maes = [selection_key(summary.val_loss, summary.val)[0] for summary in history]
    is_best = beats_best(val_loss, values, history)
    return OwnHeadEpochSummary(epoch, loss, values, time.perf_counter() - started, is_best, val_loss,
                               warm_start=not earlier_maes or mae < min(earlier_maes))


def _save_marked(summary: OwnHeadEpochSummary, adapter: Adapter, config: OwnHeadConfig) -> None:
    metadata = {"codephys_own_head_epoch": str(summary.epoch)}
    for marked, path in ((summary.best, config.best), (summary.warm_start, config.warm_start)):
        if marked and path is not None:
            save_head_weights(path, adapter.model, metadata)


def _settings(config: OwnHeadConfig, adapter: Adapter, train: ClipSet, val: ClipSet) -> dict:
    """What a checkpoint must share with the run that resumes it: the schedule, the network and the clips."""
    return {"epochs": config.epochs, "batch_size": config.batch_size, "lr": config.lr, "seed": config.seed,
            "hr_band_hz": list(config.hr_band_hz), "network": type(adapter.model).__name__,
            "selection": SELECTION_RULES["mae"],
            "recipe": _recipe_description(own_recipe(adapter)),
            "training clips": f"{len(train)} clips, {train.fingerprint()}",
            "validation clips": f"{len(val)} clips, {val.fingerprint()}"}


def _recipe_description(recipe: OwnRecipe) -> str:
    return (f"{recipe.loss.__name__}, {recipe.optimizer} at {recipe.lr} (weight decay {recipe.weight_decay}), "
            f"one-cycle {recipe.one_cycle}, halved every {recipe.decay_every_epochs} epochs")


def _schedules(recipe: OwnRecipe, optimizer: torch.optim.Optimizer, lr: float, epochs: int, steps: int):
    """(per-batch scheduler, per-epoch scheduler), either None, for the recipe's schedule peaking or starting at `lr`."""
    if recipe.one_cycle:
        return torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, epochs=epochs, steps_per_epoch=steps), None
    if recipe.decay_every_epochs is not None:
        return None, torch.optim.lr_scheduler.StepLR(optimizer, step_size=recipe.decay_every_epochs, gamma=0.5)
    return None, None
