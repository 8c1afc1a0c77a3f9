"""Nearest-code search: for every query token, the index of the closest codebook row.

``‖z − c‖² = ‖z‖² − 2 z·c + ‖c‖²``; the ``‖z‖²`` term is the same for every code, so the argmin only
needs ``‖c‖² − 2 z·c`` (one ``addmm``) and ``‖z‖²`` is added back for the winner alone. Two paths:

- ``"torch"`` (any device): queries are processed in chunks so the score buffer stays bounded
  (``chunk_elements`` scores at most), never the full ``M × N`` matrix.
- ``"triton"`` (CUDA, or CPU under ``TRITON_INTERPRET=1``): one fused kernel, see `triton_search`.

``"auto"`` picks Triton for CUDA tensors when Triton is importable and the torch path otherwise.
Scores and the argmin are computed in fp32 whatever the input precision (the torch path keeps fp64
inputs in fp64).
Ties go to the lowest code index on both paths.
"""

from __future__ import annotations

import importlib.util
import os
from typing import Literal

import torch

Backend = Literal["auto", "torch", "triton"]

DEFAULT_CHUNK_ELEMENTS = 1 << 18


def nearest_code(
    z: torch.Tensor,
    codes: torch.Tensor,
    *,
    backend: Backend = "auto",
    chunk_elements: int = DEFAULT_CHUNK_ELEMENTS,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Find the nearest code for every query.

    Args:
        z: queries ``(... d)``; any leading shape, at least one query.
        codes: codebook ``(n d)``.
        backend: ``"auto"``, ``"torch"`` or ``"triton"``.
        chunk_elements: bound on the torch path's score buffer, in elements.

    Returns:
        ``indices (...)`` int64 and ``min_sq_dist (...)``: the squared Euclidean distance to the
        chosen code, in fp32 (fp64 when the torch path gets fp64 inputs).
    """
    _check_inputs(z, codes)
    lead_shape = z.shape[:-1]
    flat = z.reshape(-1, z.shape[-1])
    chosen = resolve_backend(backend, flat)
    if chosen == "triton":
        from codephys_plugin.query.triton_search import nearest_code_triton

        indices, distances = nearest_code_triton(flat, codes)
    else:
        indices, distances = _nearest_code_chunked(flat, codes, chunk_elements)
    _check_result_finite(distances)
    return indices.reshape(lead_shape), distances.reshape(lead_shape)


def triton_available() -> bool:
    return importlib.util.find_spec("triton") is not None


def resolve_backend(backend: str, z: torch.Tensor) -> str:
    """The path `nearest_code` takes for queries `z`: "torch" or "triton"; raises where the one asked for cannot run."""
    if backend == "auto":
        return "triton" if z.is_cuda and triton_available() else "torch"
    if backend == "torch":
        return backend
    if backend != "triton":
        raise ValueError(f"nearest_code: backend must be 'auto', 'torch' or 'triton', got {backend!r}")
    if not triton_available():
        raise RuntimeError("nearest_code: backend='triton' requested but Triton is not installed")
    if not z.is_cuda and os.environ.get("TRITON_INTERPRET") != "1":
        raise RuntimeError(
            "nearest_code: backend='triton' needs CUDA tensors, or TRITON_INTERPRET=1 set before "
            "Triton is imported to run the kernel on CPU"
        )
    return backend


def _check_inputs(z: torch.Tensor, codes: torch.Tensor) -> None:
    if not isinstance(z, torch.Tensor) or not isinstance(codes, torch.Tensor):
        raise ValueError("nearest_code: z and codes must be torch tensors")
    if codes.dim() != 2 or codes.shape[0] == 0 or codes.shape[1] == 0:
        raise ValueError(f"nearest_code: codes must have shape (n d) with n, d > 0; got {tuple(codes.shape)}")
    if z.dim() < 1 or z.shape[-1] != codes.shape[1]:
        raise ValueError(
            f"nearest_code: z must have shape (... d) with d={codes.shape[1]} to match codes; got {tuple(z.shape)}"
        )
    if z.numel() == 0:
        raise ValueError(f"nearest_code: z is empty (shape {tuple(z.shape)}); expected at least one query")
    if not z.is_floating_point() or not codes.is_floating_point():
        raise ValueError(f"nearest_code: z and codes must be floating point; got {z.dtype} and {codes.dtype}")
    if z.device != codes.device:
        raise ValueError(f"nearest_code: z is on {z.device} but codes are on {codes.device}")
    if not bool(torch.isfinite(codes).all()):
        raise ValueError("nearest_code: codes contain NaN or Inf")


def _check_result_finite(distances: torch.Tensor) -> None:
    """A non-finite query row (NaN/Inf, or overflow) always yields a non-finite distance: checking the
    M distances catches it without a second pass over the M × D queries."""
    bad = ~torch.isfinite(distances)
    if bool(bad.any()):
        first = int(bad.nonzero()[0, 0])
        raise ValueError(
            f"nearest_code: z has NaN/Inf (or overflows fp32) in {int(bad.sum())} of {distances.numel()} "
            f"queries, first at flat row {first}"
        )


def _score_dtype(z: torch.Tensor, codes: torch.Tensor) -> torch.dtype:
    return torch.float64 if torch.float64 in (z.dtype, codes.dtype) else torch.float32


def _nearest_code_chunked(
    z: torch.Tensor, codes: torch.Tensor, chunk_elements: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Torch path for ``z (m d)``: chunked ``addmm`` + fused min/argmin into preallocated outputs."""
    dtype = _score_dtype(z, codes)
    codes = codes.to(dtype)
    codes_t = codes.t()
    codes_sq = codes.pow(2).sum(dim=1)
    rows = z.shape[0]
    chunk_rows = max(1, min(rows, chunk_elements // codes.shape[0]))
    scores = torch.empty(chunk_rows, codes.shape[0], dtype=dtype, device=z.device)
    indices = torch.empty(rows, dtype=torch.int64, device=z.device)
    distances = torch.empty(rows, dtype=dtype, device=z.device)
    for start in range(0, rows, chunk_rows):
        stop = min(start + chunk_rows, rows)
        chunk = z[start:stop].to(dtype)
        chunk_scores = torch.addmm(codes_sq, chunk, codes_t, alpha=-2.0, out=scores[: stop - start])
        torch.min(chunk_scores, dim=1, out=(distances[start:stop], indices[start:stop]))
        distances[start:stop] += chunk.pow(2).sum(dim=1)
    return indices, distances.clamp_(min=0.0)
