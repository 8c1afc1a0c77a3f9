"""Which epoch a training run keeps. One rule for the bare network (`train_own_head`) and for the head
(`train_stage2`), so the benchmark compares them at epochs chosen alike: the lowest validation HR MAE, and
among equal MAEs the lowest validation loss. The MAE of a few clean validation videos reaches its floor
(often 0.00) within a few epochs; without the loss to break the tie the earliest such epoch would win."""

from __future__ import annotations

import math
from typing import Literal, Protocol, TypeVar

SelectBy = Literal["mae", "loss"]
SELECTION_RULES: dict[str, str] = {"mae": "lowest validation HR MAE, ties by the lowest validation loss",
                                   "loss": "lowest validation loss"}


class _Marked(Protocol):
    best: bool
    val_loss: float
    val: dict[str, float]


Summary = TypeVar("Summary", bound=_Marked)


def best_epoch(history: list[Summary]) -> Summary | None:
    """The last epoch marked best (each one marked beat every earlier one)."""
    return next((summary for summary in reversed(history) if summary.best), None)


def beats_best(val_loss: float, values: dict[str, float], history: list[Summary],
               select_by: SelectBy = "mae") -> bool:
    """Whether an epoch validated so beats the last epoch marked best in `history`. The first epoch is kept until
    one beats it, so a run that never measures an HR still keeps one (by its loss)."""
    best = best_epoch(history)
    key = selection_key(val_loss, values, select_by)
    return best is None or key < selection_key(best.val_loss, best.val, select_by)


def selection_key(val_loss: float, values: dict[str, float], select_by: SelectBy = "mae") -> tuple[float, ...]:
    """Lower is better; an unmeasurable MAE or loss (NaN: no video gave an HR) never wins."""
    if select_by not in SELECTION_RULES:
        raise ValueError(f"select_by: expected one of {sorted(SELECTION_RULES)}, got {select_by!r}")
    loss = val_loss if math.isfinite(val_loss) else math.inf
    if select_by == "loss":
        return (loss,)
    mae = values.get("mae", math.nan)
    return (mae if math.isfinite(mae) else math.inf, loss)
