"""Time `nearest_code` against named baselines, in one run, and print the ratios.

    python examples/benchmark_nearest_code.py                  # M in {1e4,1e5,1e6}, N in {64,512,1024}
    python examples/benchmark_nearest_code.py --m 100000 --n 64 --devices cpu

Baselines, both computing the same argmin:
- ``cdist``: ``torch.cdist(z, codes).argmin(1)`` (materialises the M × N distance matrix, takes sqrt);
- ``naive``: ``((z[:, None] - codes[None]) ** 2).sum(-1).argmin(1)`` (materialises M × N × D; skipped
  where it would need more than ``--max-naive-gib``).
``ours`` is `nearest_code(..., backend="auto")`: the chunked addmm path on CPU, the fused Triton
kernel on CUDA, where ``chunked`` times the other path, ``backend="torch"``, so that the choice ``auto`` makes
is measured too (on CPU it is ours). Ratios > 1 mean ours is faster. Every result is also checked against ``cdist``:
the mismatch column counts differing indices whose distances differ by more than rounding.
"""

from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import dataclass
from typing import Callable

import torch

from codephys_plugin.query.search import nearest_code, resolve_backend


@dataclass(frozen=True)
class Row:
    device: str
    rows: int
    codes: int
    ours_ms: float
    chunked_ms: float | None
    """The torch path where `auto` picks another; None where it is ours."""
    cdist_ms: float
    naive_ms: float | None
    mismatches: int


def timed(fn: Callable[[], object], device: torch.device, repeats: int) -> float:
    """Median wall time in ms over `repeats` calls, after one warm-up call."""
    fn()
    samples = []
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        samples.append((time.perf_counter() - start) * 1e3)
    return statistics.median(samples)


def cdist_argmin(z: torch.Tensor, codes: torch.Tensor) -> torch.Tensor:
    return torch.cdist(z, codes).argmin(dim=1)


def naive_argmin(z: torch.Tensor, codes: torch.Tensor) -> torch.Tensor:
    return ((z[:, None, :] - codes[None, :, :]) ** 2).sum(-1).argmin(dim=1)


def count_real_mismatches(z: torch.Tensor, codes: torch.Tensor, ours: torch.Tensor, reference: torch.Tensor) -> int:
    """Differing indices that are not near-ties (distance gap above fp32 rounding)."""
    differ = (ours != reference).nonzero().squeeze(1)
    if differ.numel() == 0:
        return 0
    q = z[differ].double()
    gap = (q - codes[ours[differ]].double()).pow(2).sum(1) - (q - codes[reference[differ]].double()).pow(2).sum(1)
    tolerance = 1e-4 * (1 + q.pow(2).sum(1))
    return int((gap.abs() > tolerance).sum())


def benchmark(device: torch.device, rows: int, num_codes: int, dim: int, repeats: int, max_naive_gib: float) -> Row:
    generator = torch.Generator(device=device).manual_seed(0)
    z = torch.randn(rows, dim, device=device, generator=generator)
    codes = torch.randn(num_codes, dim, device=device, generator=generator)
    ours_indices, _ = nearest_code(z, codes)
    reference = cdist_argmin(z, codes)
    ours_ms = timed(lambda: nearest_code(z, codes), device, repeats)
    chunked_ms = None
    if resolve_backend("auto", z) != "torch":
        chunked_indices, _ = nearest_code(z, codes, backend="torch")
        if not torch.equal(chunked_indices, ours_indices):
            raise AssertionError(f"M={rows}, N={num_codes} on {device}: the torch path and the kernel chose other codes")
        chunked_ms = timed(lambda: nearest_code(z, codes, backend="torch"), device, repeats)
    cdist_ms = timed(lambda: cdist_argmin(z, codes), device, repeats)
    naive_gib = rows * num_codes * dim * 4 / 2**30
    naive_ms = timed(lambda: naive_argmin(z, codes), device, repeats) if naive_gib <= max_naive_gib else None
    mismatches = count_real_mismatches(z, codes, ours_indices, reference)
    return Row(str(device), rows, num_codes, ours_ms, chunked_ms, cdist_ms, naive_ms, mismatches)


def format_row(row: Row) -> str:
    naive = "skipped" if row.naive_ms is None else f"{row.naive_ms:10.2f}"
    naive_ratio = "   -" if row.naive_ms is None else f"{row.naive_ms / row.ours_ms:6.3g}x"
    chunked = "ours" if row.chunked_ms is None else f"{row.chunked_ms:10.2f}"
    return (
        f"{row.device:6s} {row.rows:>9,d} {row.codes:>5d} {row.ours_ms:10.2f} {chunked:>10s} {row.cdist_ms:10.2f} {naive:>10s} "
        f"{row.cdist_ms / row.ours_ms:8.3g}x {naive_ratio:>8s} {row.mismatches:>10d}"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--m", type=int, nargs="+", default=[10_000, 100_000, 1_000_000], help="query counts M")
    parser.add_argument("--n", type=int, nargs="+", default=[64, 512, 1024], help="codebook sizes N")
    parser.add_argument("--dim", type=int, default=64, help="code dimension D")
    parser.add_argument("--devices", nargs="+", default=None, help="default: cpu, and cuda when present")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--max-naive-gib", type=float, default=4.0, help="skip the naive baseline above this")
    args = parser.parse_args(argv)
    devices = args.devices or (["cpu", "cuda"] if torch.cuda.is_available() else ["cpu"])
    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads, D={args.dim}")
    if torch.cuda.is_available():
        print(f"CUDA device: {torch.cuda.get_device_name()}")
    print(
        f"{'device':6s} {'M':>9s} {'N':>5s} {'ours ms':>10s} {'chunked ms':>10s} {'cdist ms':>10s} {'naive ms':>10s} "
        f"{'vs cdist':>9s} {'vs naive':>8s} {'mismatches':>10s}"
    )
    for device_name in devices:
        device = torch.device(device_name)
        for num_codes in args.n:
            for rows in args.m:
                print(format_row(benchmark(device, rows, num_codes, args.dim, args.repeats, args.max_naive_gib)),
                      flush=True)


if __name__ == "__main__":
    main()
