"""Nearest-code cases whose ties are exact in any arithmetic order.

Small integers make every product and partial sum of `‖c‖² − 2 z·c` an integer far below 2^11, so
fp16, bf16 (inputs ≤ 8 in magnitude), fp32 and fp64 compute the same exact scores whatever order a
BLAS, a kernel or an interpreter sums them in. Ties are then real ties, and the lowest index must win
on every machine. The expected answer is computed in int64.
"""

from __future__ import annotations

import numpy as np
import torch

VALUE_RANGE = 3


def exact_tie_case(
    unique_codes: int, dim: int, rows: int, *, seed: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Integer-valued `z (rows dim)` and `codes (2·unique+1 dim)`: every code repeated, the first twice.

    Each query is a code moved by −1, 0 or +1 in a few features, so its nearest code is often tied
    with the repeats of that code and sometimes with other codes too. Returns `z`, `codes` (float32)
    and the expected int64 indices: the lowest index among all codes at the minimum distance.
    """
    rng = np.random.default_rng(seed)
    unique = _distinct_rows(rng, unique_codes, dim)
    codes = np.concatenate([unique, unique, unique[:1]])
    anchors = unique[np.arange(rows) % unique_codes]
    moves = rng.integers(-1, 2, size=(rows, dim)) * (rng.random((rows, dim)) < 0.2)
    z = anchors + moves
    distances = ((z[:, None, :] - codes[None, :, :]) ** 2).sum(-1)
    expected = distances.argmin(axis=1)  # numpy's argmin returns the first minimum
    return torch.from_numpy(z).float(), torch.from_numpy(codes).float(), torch.from_numpy(expected)


def _distinct_rows(rng: np.random.Generator, count: int, dim: int) -> np.ndarray:
    while True:
        rows = rng.integers(-VALUE_RANGE, VALUE_RANGE + 1, size=(count, dim), dtype=np.int64)
        if len(np.unique(rows, axis=0)) == count:
            return rows

