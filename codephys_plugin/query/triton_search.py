"""Fused nearest-code kernel in Triton.

Each program owns a tile of ``BLOCK_M`` queries held on-chip and streams the codebook through in
tiles of ``BLOCK_N`` codes (for the default 64×64 codebook that is the whole codebook in one tile):
``‖c‖² − 2 z·c`` comes from one ``tl.dot`` per tile, and a running (min, argmin) pair is kept per
query. Nothing of size ``M × N`` is ever written to memory. Ties go to the lowest index: ``tl.min``
breaks ties to the left inside a tile and a later tile must be strictly better (``<``).

fp32 inputs use an IEEE fp32 dot (no TF32, so the argmin matches a float64 brute force except on
near-ties). fp16 inputs use the native dot with fp32 accumulation (fp16 products are exact in fp32).
bf16 inputs are widened to fp32 on-chip and take the IEEE dot: the same result as a bf16 dot with fp32
accumulation, and the one form the CPU interpreter computes correctly (its bf16 dot is wrong), so the
path the GPU runs is the path the tests check. The search is bound by reading the queries, not by
the dot, so the wider dot costs little.

Set ``TRITON_INTERPRET=1`` before Triton is imported to run the kernel on CPU tensors (tests do).
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

BLOCK_M = 64
MAX_BLOCK_N = 128
MIN_DOT_SIZE = 16


@triton.jit
def _nearest_code_kernel(
    z_ptr,
    codes_ptr,
    codes_sq_ptr,
    indices_ptr,
    distances_ptr,
    num_queries,
    num_codes,
    dim,
    stride_z,
    stride_codes,
    BLOCK_M: tl.constexpr,
    BLOCK_N: tl.constexpr,
    BLOCK_D: tl.constexpr,
    IEEE_DOT: tl.constexpr,
):
    rows = tl.program_id(0) * BLOCK_M + tl.arange(0, BLOCK_M)
    feats = tl.arange(0, BLOCK_D)
    row_ok = rows < num_queries
    feat_ok = feats < dim
    z = tl.load(
        z_ptr + rows[:, None] * stride_z + feats[None, :],
        mask=row_ok[:, None] & feat_ok[None, :],
        other=0.0,
    )
    z_sq = tl.sum(z.to(tl.float32) * z.to(tl.float32), axis=1)

    best = tl.full([BLOCK_M], float("inf"), tl.float32)
    best_index = tl.zeros([BLOCK_M], tl.int32)
    for first in range(0, num_codes, BLOCK_N):
        code_ids = first + tl.arange(0, BLOCK_N)
        code_ok = code_ids < num_codes
        codes = tl.load(
            codes_ptr + code_ids[:, None] * stride_codes + feats[None, :],
            mask=code_ok[:, None] & feat_ok[None, :],
            other=0.0,
        )
        codes_sq = tl.load(codes_sq_ptr + code_ids, mask=code_ok, other=float("inf"))
        if IEEE_DOT:
            dots = tl.dot(z.to(tl.float32), tl.trans(codes.to(tl.float32)), input_precision="ieee")
        else:
            dots = tl.dot(z, tl.trans(codes), out_dtype=tl.float32)
        scores = codes_sq[None, :] - 2.0 * dots
        tile_best, tile_index = tl.min(scores, axis=1, return_indices=True, return_indices_tie_break_left=True)
        improved = tile_best < best
        best = tl.where(improved, tile_best, best)
        best_index = tl.where(improved, tile_index + first, best_index)

    tl.store(indices_ptr + rows, best_index.to(tl.int64), mask=row_ok)
    tl.store(distances_ptr + rows, tl.maximum(best + z_sq, 0.0), mask=row_ok)


def nearest_code_triton(z: torch.Tensor, codes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Fused search for ``z (m d)`` against ``codes (n d)``; returns ``indices (m)``, ``min_sq_dist (m)``.

    Inputs are already validated by `nearest_code`. Queries and codes are brought to a common dtype
    (fp32 unless both are fp16 or both bf16).
    """
    dtype = z.dtype if z.dtype == codes.dtype and z.dtype in (torch.float16, torch.bfloat16) else torch.float32
    z = z.to(dtype).contiguous()
    codes = codes.to(dtype).contiguous()
    codes_sq = codes.float().pow(2).sum(dim=1).contiguous()
    num_queries, dim = z.shape
    num_codes = codes.shape[0]
    indices = torch.empty(num_queries, dtype=torch.int64, device=z.device)
    distances = torch.empty(num_queries, dtype=torch.float32, device=z.device)
    block_n = max(MIN_DOT_SIZE, min(MAX_BLOCK_N, triton.next_power_of_2(num_codes)))
    block_d = max(MIN_DOT_SIZE, triton.next_power_of_2(dim))
    grid = (triton.cdiv(num_queries, BLOCK_M),)
    _nearest_code_kernel[grid](
        z,
        codes,
        codes_sq,
        indices,
        distances,
        num_queries,
        num_codes,
        dim,
        z.stride(0),
        codes.stride(0),
        BLOCK_M=BLOCK_M,
        BLOCK_N=block_n,
        BLOCK_D=block_d,
        IEEE_DOT=dtype != torch.float16,
    )
    return indices, distances
