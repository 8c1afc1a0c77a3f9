"""Stage II's optimiser settings: the backbone and the head learn at their own rates, the rates warm up
linearly (or follow the one-cycle shape the toolbox trains its networks with), gradients can be clipped, and
a warm-started backbone can stay frozen for the first epochs.

Rates are a function of the step and epoch alone (set on every step, no scheduler state), so a resumed
run follows exactly the schedule an uninterrupted one does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from codephys_plugin.code_query_head import CodeQueryHead

HEAD, BACKBONE = "head", "backbone"
ONE_CYCLE_RISE, ONE_CYCLE_START_DIVISOR, ONE_CYCLE_END_DIVISOR = 0.3, 25.0, 1e4
"""torch's OneCycleLR defaults, which the toolbox's trainers use: the rate rises from lr/25 to lr over the
first 30 % of the steps and falls to lr/25/1e4 by the last, both on half a cosine."""


@dataclass(frozen=True)
class Schedule:
    lr: float
    """The head's rate (projection, attention, E_vf, prior branch, E_ppg features)."""
    backbone_lr: float | None = None
    """The backbone's rate; None: the head's."""
    warmup_steps: int = 0
    """Rates rise linearly from 1/warmup_steps of their value to it over the first steps."""
    frozen_backbone_epochs: int = 0
    """The backbone does not learn (rate 0, eval mode) in these first epochs: the warm start from a
    checkpoint trained with the network's own head, so the new head settles before it moves the backbone."""
    grad_clip: float | None = None
    """Largest total gradient norm per step; None: no clipping."""
    one_cycle: bool = False
    """The rates follow torch's OneCycleLR shape over the whole run, peaking at their values (so the head
    can be trained on the schedule the bare network is); replaces the linear warm-up."""

    def __post_init__(self) -> None:
        if not self.lr > 0 or (self.backbone_lr is not None and not self.backbone_lr >= 0):
            raise ValueError(f"learning rates: expected lr > 0 and backbone_lr ≥ 0, got {self.lr}, {self.backbone_lr}")
        if self.warmup_steps < 0 or self.frozen_backbone_epochs < 0:
            raise ValueError("warmup_steps and frozen_backbone_epochs must be ≥ 0")
        if self.grad_clip is not None and not self.grad_clip > 0:
            raise ValueError(f"grad_clip: expected a positive norm, got {self.grad_clip}")
        if self.one_cycle and self.warmup_steps:
            raise ValueError("one_cycle has its own warm-up: set warmup_steps to 0 with it")

    def rates(self, step: int, epoch: int, total_steps: int | None = None) -> dict[str, float]:
        """Each group's rate at global `step` (0-based) in `epoch` (0-based) of a run of `total_steps`
        (needed by the one-cycle shape only)."""
        warm = self._one_cycle_factor(step, total_steps) if self.one_cycle else self._warmup_factor(step)
        backbone = 0.0 if self.backbone_frozen(epoch) else (self.lr if self.backbone_lr is None else self.backbone_lr)
        return {HEAD: self.lr * warm, BACKBONE: backbone * warm}

    def backbone_frozen(self, epoch: int) -> bool:
        return epoch < self.frozen_backbone_epochs

    def _warmup_factor(self, step: int) -> float:
        return 1.0 if self.warmup_steps == 0 else min(1.0, (step + 1) / self.warmup_steps)

    @staticmethod
    def _one_cycle_factor(step: int, total_steps: int | None) -> float:
        if total_steps is None or not 0 <= step < total_steps:
            raise ValueError(f"one-cycle rates: expected 0 ≤ step < total_steps, got step {step} of {total_steps}")
        start, end = 1 / ONE_CYCLE_START_DIVISOR, 1 / ONE_CYCLE_START_DIVISOR / ONE_CYCLE_END_DIVISOR
        peak_step = ONE_CYCLE_RISE * total_steps - 1
        if step <= peak_step:
            return _cosine(start, 1.0, step / peak_step)
        return _cosine(1.0, end, (step - peak_step) / (total_steps - 1 - peak_step))


def _cosine(start: float, end: float, fraction: float) -> float:
    """From `start` at fraction 0 to `end` at 1 on half a cosine."""
    return end + (start - end) * (1 + math.cos(math.pi * fraction)) / 2


def parameter_groups(head: CodeQueryHead) -> list[dict]:
    """The trainable parameters in two named groups (the backbone's group is left out when it has none)."""
    backbone = [p for p in head.adapter.parameters() if p.requires_grad]
    owned = {id(p) for p in backbone}
    groups = [{"name": HEAD, "params": [p for p in head.parameters() if p.requires_grad and id(p) not in owned]}]
    if backbone:
        groups.append({"name": BACKBONE, "params": backbone})
    return groups


def set_rates(optimizer: torch.optim.Optimizer, rates: dict[str, float]) -> None:
    for group in optimizer.param_groups:
        group["lr"] = rates[group["name"]]


def clip_gradients(parameters: list[nn.Parameter], max_norm: float | None) -> None:
    if max_norm is not None:
        torch.nn.utils.clip_grad_norm_(parameters, max_norm)
