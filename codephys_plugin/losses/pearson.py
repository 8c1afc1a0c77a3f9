"""Negative Pearson loss: the temporal term shared by Stage I (Eq. 4) and Stage II (Eq. 13)."""

from __future__ import annotations

import torch

from codephys_plugin._checks import check_tensor

# Added to each signal's centred energy so that r, and its gradient, stay finite for flat signals.
ENERGY_FLOOR = 1e-12


def pearson_r(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Pearson correlation along the last axis of ``(b t)`` signals -> ``(b)``.

    A constant signal has no defined correlation; it is given r = 0 (no agreement) with finite
    gradients, so a training batch with a flat label cannot produce NaN.
    """
    check_tensor(pred, "pred", "b t")
    check_tensor(target, "target", "b t", sizes={"b": pred.shape[0], "t": pred.shape[1]})
    pred = pred.float()
    target = target.float()
    pred = pred - pred.mean(dim=-1, keepdim=True)
    target = target - target.mean(dim=-1, keepdim=True)
    pred_norm = torch.sqrt(pred.pow(2).sum(dim=-1) + ENERGY_FLOOR)
    target_norm = torch.sqrt(target.pow(2).sum(dim=-1) + ENERGY_FLOOR)
    return (pred * target).sum(dim=-1) / (pred_norm * target_norm)


def negative_pearson(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """``mean_b (1 − r)`` for ``(b t)`` signals: 0 for perfect agreement, 1 for none, 2 for inversion."""
    return (1.0 - pearson_r(pred, target)).mean()
