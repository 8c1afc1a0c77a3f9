"""Validation shared by every public boundary: one place that words the errors users see."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import torch


def check_tensor(
    x: object,
    name: str,
    layout: str,
    *,
    sizes: dict[str, int] | None = None,
    finite: bool = True,
    floating: bool = True,
    dtype: torch.dtype | None = None,
) -> torch.Tensor:
    """Check that `x` is a non-empty tensor of the einops `layout` (e.g. ``"b m d"``).

    `sizes` pins named axes (``{"d": 64}``); `dtype` the dtype (that of a network's weights, see
    `weights_dtype`). Raises ``ValueError`` naming the tensor, the expected layout and what was received.
    """
    axes = layout.split()
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"{name}: expected a torch.Tensor of shape ({layout}), got {type(x).__name__}")
    if x.dim() != len(axes):
        raise ValueError(f"{name}: expected shape ({layout}), a {len(axes)}-D tensor; got shape {tuple(x.shape)}")
    if x.numel() == 0:
        raise ValueError(f"{name}: expected a non-empty tensor of shape ({layout}); got shape {tuple(x.shape)}")
    for axis, size in (sizes or {}).items():
        actual = x.shape[axes.index(axis)]
        if actual != size:
            raise ValueError(f"{name}: expected shape ({layout}) with {axis}={size}; got shape {tuple(x.shape)}")
    if floating and not x.is_floating_point():
        raise ValueError(f"{name}: expected a floating-point tensor; got dtype {x.dtype}")
    if dtype is not None and x.dtype != dtype:
        raise ValueError(f"{name}: expected dtype {dtype}, that of the network's weights; got {x.dtype}: cast the "
                         f"input (x.to({dtype})) or the network (net.to({x.dtype}))")
    if finite:
        check_finite(x, name)
    return x


def weights_dtype(module: torch.nn.Module) -> torch.dtype | None:
    """The dtype of a module's first floating-point parameter (None if it has none)."""
    return next((p.dtype for p in module.parameters() if p.is_floating_point()), None)


def check_finite(x: torch.Tensor, name: str) -> None:
    bad = ~torch.isfinite(x)
    if bool(bad.any()):
        count = int(bad.sum())
        first = tuple(int(i) for i in bad.nonzero()[0])
        raise ValueError(f"{name}: {count} non-finite value(s) (NaN or Inf), first at index {first}")


def check_signal(x: object, name: str, *, min_length: int = 1) -> np.ndarray:
    """Return `x` as a finite 1-D float64 array of at least `min_length` samples (complex is refused:
    casting would drop the imaginary part)."""
    if np.iscomplexobj(x):
        raise ValueError(f"{name}: expected a real signal, got complex values (take .real or np.abs first)")
    array = np.asarray(x, dtype=np.float64)
    if array.ndim != 1:
        raise ValueError(f"{name}: expected a 1-D signal (t), got shape {array.shape}")
    if array.size < min_length:
        raise ValueError(f"{name}: expected at least {min_length} samples, got {array.size}")
    if not np.all(np.isfinite(array)):
        bad = np.flatnonzero(~np.isfinite(array))
        raise ValueError(f"{name}: {bad.size} non-finite sample(s) (NaN or Inf), first at index {bad[0]}")
    return array


def per_signal(signals: object, name: str, fn: Callable[[np.ndarray, str], Any], *, min_length: int = 1) -> Any:
    """Apply `fn(signal, name)` to each 't' signal of ``(... t)`` `signals` (NumPy or torch), each checked by
    `check_signal` under a name that says which one (``name[1, 0]``). One 't' signal gives `fn`'s result
    as it is; a batch gives the results stacked to ``(...)`` (scalars) or ``(... t')`` (arrays)."""
    if isinstance(signals, torch.Tensor):
        signals = signals.detach().cpu().numpy()
    if np.iscomplexobj(signals):
        raise ValueError(f"{name}: expected a real signal, got complex values (take .real or np.abs first)")
    array = np.asarray(signals, dtype=np.float64)
    if array.ndim == 1:
        return fn(check_signal(array, name, min_length=min_length), name)
    if array.ndim == 0 or 0 in array.shape[:-1]:
        raise ValueError(f"{name}: expected signals (... t), got shape {array.shape}")
    results = [fn(check_signal(array[index], f"{name}{list(index)}", min_length=min_length), f"{name}{list(index)}")
               for index in np.ndindex(*array.shape[:-1])]
    stacked = np.asarray(results)
    return stacked.reshape(*array.shape[:-1], *stacked.shape[1:])


def check_sampling_rate(fs: object, name: str = "fs") -> float:
    try:
        rate = float(fs)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValueError(f"{name}: expected a sampling rate in Hz, got {fs!r}") from None
    if not np.isfinite(rate) or rate <= 0:
        raise ValueError(f"{name}: expected a positive, finite sampling rate in Hz, got {fs!r}")
    return rate


def check_band(low: float, high: float, fs: float) -> tuple[float, float]:
    """A pass band in Hz must satisfy 0 < low < high < fs/2."""
    if not (0 < low < high < fs / 2):
        raise ValueError(f"band ({low}, {high}) Hz: expected 0 < low < high < fs/2 = {fs / 2} Hz")
    return float(low), float(high)
