"""Aggregate HR metrics over windows or videos, with the rPPG-Toolbox's standard errors."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class HRMetrics:
    """e = HR_pred − HR_gt over n windows. SD is the population standard deviation of e (ddof=0);
    ``*_se`` are the toolbox's standard errors (its RMSE one is √(std(e²)/√n), kept for parity)."""

    n: int
    mae: float
    rmse: float
    sd: float
    mape: float
    pearson: float
    mae_se: float
    rmse_se: float
    mape_se: float
    pearson_se: float


def hr_metrics(hr_pred: object, hr_gt: object) -> HRMetrics:
    pred = np.asarray(hr_pred, dtype=np.float64).reshape(-1)
    gt = np.asarray(hr_gt, dtype=np.float64).reshape(-1)
    if pred.size == 0 or pred.shape != gt.shape:
        raise ValueError(f"hr_metrics: need equally many predicted and true HRs (>0); got {pred.size} and {gt.size}")
    if not (np.all(np.isfinite(pred)) and np.all(np.isfinite(gt))):
        raise ValueError("hr_metrics: HR values contain NaN or Inf")
    if np.any(gt <= 0):
        raise ValueError("hr_metrics: true HR must be positive (MAPE divides by it)")
    n = pred.size
    error = pred - gt
    abs_error = np.abs(error)
    rel_error = abs_error / gt
    root_n = np.sqrt(n)
    pearson = _pearson(pred, gt)
    pearson_se = float(np.sqrt((1 - pearson**2) / (n - 2))) if n > 2 and np.isfinite(pearson) else float("nan")
    return HRMetrics(
        n=n,
        mae=float(abs_error.mean()),
        rmse=float(np.sqrt((error**2).mean())),
        sd=float(error.std()),
        mape=float(100 * rel_error.mean()),
        pearson=pearson,
        mae_se=float(abs_error.std() / root_n),
        rmse_se=float(np.sqrt((error**2).std() / root_n)),
        mape_se=float(100 * rel_error.std() / root_n),
        pearson_se=pearson_se,
    )


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson r, NaN when undefined (fewer than two values, or a constant series)."""
    if a.size < 2 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return float("nan")
    return float(np.corrcoef(a, b)[0, 1])
