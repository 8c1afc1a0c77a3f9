"""The nearest-code cases every kernel test runs: ragged, tiled, padded and low-precision inputs, and exact ties.

Shared by the interpreted kernel's test (CPU, `TRITON_INTERPRET=1`) and the CUDA test, so both judge the
same inputs against the same float64 brute force.
"""

from __future__ import annotations

import torch

from tests.helpers.exact_ties import exact_tie_case


def _case(rows, num_codes, dim, *, seed, dtype=torch.float32):
    generator = torch.Generator().manual_seed(seed)
    codes = torch.randn(num_codes, dim, generator=generator, dtype=torch.float64)
    z = torch.randn(rows, dim, generator=generator, dtype=torch.float64)
    return z.to(dtype), codes.to(dtype)


def _tie_case(unique_codes, rows, *, seed, dtype=torch.float32):
    z, codes, expected = exact_tie_case(unique_codes, 16, rows, seed=seed)
    return z.to(dtype), codes.to(dtype), expected


# 30 unique codes (61 with their repeats) fit one 64-code tile, so ties are decided inside a tile
# (tl.min's left tie-break); with 100, the repeats of codes 28-99 lie in the second 128-code tile,
# so ties are decided between tiles (the strict `<` of the running minimum).
TIES = {
    "exact_ties": _tie_case(30, 90, seed=6),
    "exact_ties_across_tiles": _tie_case(100, 300, seed=9),
    "exact_ties_fp16": _tie_case(100, 300, seed=10, dtype=torch.float16),
    "exact_ties_bf16": _tie_case(100, 300, seed=11, dtype=torch.bfloat16),
}


CASES = {
    "ragged_rows": _case(1000, 64, 64, seed=0),
    "single_row": _case(1, 64, 64, seed=1),
    "codes_not_power_of_two": _case(300, 37, 64, seed=2),
    "codes_span_several_tiles": _case(200, 300, 64, seed=3),
    "small_dim_padded": _case(130, 10, 5, seed=4),
    "dim_not_power_of_two": _case(77, 100, 48, seed=5),
    "fp16_inputs": _case(500, 64, 64, seed=7, dtype=torch.float16),
    "bf16_inputs": _case(500, 64, 64, seed=8, dtype=torch.bfloat16),
    **{name: (z, codes) for name, (z, codes, _) in TIES.items()},
}


def brute_force_distances(z: torch.Tensor, codes: torch.Tensor) -> torch.Tensor:
    """Squared distances `(m n)` in float64."""
    return ((z.double()[:, None, :] - codes.double()[None, :, :]) ** 2).sum(-1)


def assert_nearest_codes(name: str, indices: torch.Tensor, distances: torch.Tensor) -> None:
    """A kernel's answer to `CASES[name]` picks a code at the minimum distance and reports that distance;
    where the minimum is unique (by 1e-3) it is the brute force's own index."""
    z, codes = CASES[name]
    dist = brute_force_distances(z, codes)
    best = dist.min(dim=1).values
    assert indices.shape == distances.shape == (z.shape[0],)
    assert indices.dtype == torch.int64 and distances.dtype == torch.float32
    chosen = dist.gather(1, indices[:, None]).squeeze(1)
    torch.testing.assert_close(chosen, best, rtol=1e-5, atol=1e-4)
    torch.testing.assert_close(distances.double(), best, rtol=1e-4, atol=1e-3)
    unique = (dist - best[:, None] <= 1e-3).sum(dim=1) == 1
    assert torch.equal(indices[unique], dist.argmin(dim=1)[unique])


def assert_lowest_index_wins_ties(name: str, indices: torch.Tensor, distances: torch.Tensor) -> None:
    """A kernel's answer to `TIES[name]`: never a repeat of an earlier code, exactly the int64 expectation."""
    z, codes, expected = TIES[name]
    unique_codes = (codes.shape[0] - 1) // 2
    assert int(indices.max()) < unique_codes, "a repeat of an earlier code was chosen"
    assert torch.equal(indices, expected)
    assert torch.equal(distances.double(), brute_force_distances(z, codes).min(dim=1).values)
