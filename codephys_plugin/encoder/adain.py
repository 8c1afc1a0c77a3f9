"""Adaptive instance normalisation (AdaIN, Eq. 9) of query tokens.

E_vf's tokens and the auxiliary prior branch's tokens are computed in parallel from the same video
feature, but only the prior branch (a fine-tuned E_s) starts with the statistics of the codebook. AdaIN
gives E_vf's tokens the prior tokens' per-channel mean and spread, so the query starts near the codes.
"""

from __future__ import annotations

import torch
from torch import Tensor

from codephys_plugin._checks import check_tensor


def adain(content: Tensor, style: Tensor, eps: float = 1e-5) -> Tensor:
    """``b d m`` content tokens with the per-sample, per-channel mean and std (over m) of `style` ``b d n``.

    Statistics are population ones (so m = 1 works) and both stds are ``sqrt(var + eps)``: constant
    content maps to the style mean and the gradient stays finite.
    """
    check_tensor(content, "adain content", "b d m")
    batch, dim, _ = content.shape
    check_tensor(style, "adain style", "b d n", sizes={"b": batch, "d": dim})
    content_var, content_mean = torch.var_mean(content, dim=2, correction=0, keepdim=True)
    style_var, style_mean = torch.var_mean(style, dim=2, correction=0, keepdim=True)
    normalised = (content - content_mean) / (content_var + eps).sqrt()
    return normalised * (style_var + eps).sqrt() + style_mean
