"""Stage I objectives (CodePhys Eqs. 4-6): reconstruct the label PPG through the codebook."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from codephys_plugin._checks import check_tensor
from codephys_plugin.losses.pearson import negative_pearson

COMMITMENT_WEIGHT = 0.25


def reconstruction_loss(reconstruction: torch.Tensor, signal: torch.Tensor) -> torch.Tensor:
    """L_rec (Eq. 4) = MSE + negative Pearson between ``(b t)`` signals."""
    check_tensor(signal, "signal", "b t", sizes={"b": reconstruction.shape[0], "t": reconstruction.shape[-1]})
    return F.mse_loss(reconstruction.float(), signal.float()) + negative_pearson(reconstruction, signal)


def quantization_losses(
    tokens: torch.Tensor, quantized: torch.Tensor, *, commitment_weight: float = COMMITMENT_WEIGHT
) -> tuple[torch.Tensor, torch.Tensor]:
    """The two terms of L_feat (Eq. 5) for ``(b m d)`` tokens and their (non straight-through) codes.

    Returns ``(codebook_term, commitment_term)``: ``‖sg(z) − ẑ‖²`` moves the codes towards the
    tokens; ``δ‖z − sg(ẑ)‖²`` moves the encoder towards its codes. δ weights the *commitment* term,
    as in the paper (taming-transformers' "legacy" form puts it on the codebook term). Squared norms
    are averaged over elements.
    """
    check_tensor(tokens, "tokens", "b m d")
    check_tensor(quantized, "quantized", "b m d", sizes=dict(zip("bmd", tokens.shape)), finite=False)
    codebook_term = F.mse_loss(quantized.float(), tokens.detach().float())
    commitment_term = commitment_weight * F.mse_loss(tokens.float(), quantized.detach().float())
    return codebook_term, commitment_term
