"""Stage II objectives (CodePhys Eqs. 12-16): supervise the query tokens, the codes they pick and
the video features, with the codebook and decoder frozen."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from einops import rearrange

from codephys_plugin._checks import check_tensor
from codephys_plugin.losses.pearson import negative_pearson
from codephys_plugin.losses.spectral import DEFAULT_BAND_HZ, psd_cross_entropy

TEMPORAL_WEIGHT = 0.1
PHYSIOLOGICAL_WEIGHT = 2.0
CODE_WEIGHT = 0.1


def physiological_loss(
    pred: torch.Tensor,
    target: torch.Tensor,
    fs: float,
    *,
    temporal_weight: float = TEMPORAL_WEIGHT,
    band: tuple[float, float] = DEFAULT_BAND_HZ,
) -> torch.Tensor:
    """L_phy (Eq. 13) = λ·NP(pred, target) + CE(PSD(pred), PSD(target)) for ``(b t)`` signals, λ=0.1."""
    return temporal_weight * negative_pearson(pred, target) + psd_cross_entropy(pred, target, fs, band=band)


def code_query_loss(
    logits: torch.Tensor, target_indices: torch.Tensor, tokens: torch.Tensor, quantized: torch.Tensor
) -> torch.Tensor:
    """L_code' (Eq. 14, and Eq. 15 for the PPG branch).

    Cross-entropy of the code logits ``(b m n)`` against the label's code indices ``(b m)`` plus
    ``‖z − sg(ẑ)‖²`` pulling the tokens ``(b m d)`` onto their frozen codes ``(b m d)``.
    """
    check_tensor(logits, "logits", "b m n")
    batch, tokens_per_clip, num_codes = logits.shape
    check_tensor(target_indices, "target_indices", "b m", sizes={"b": batch, "m": tokens_per_clip}, floating=False)
    if target_indices.is_floating_point() or bool(((target_indices < 0) | (target_indices >= num_codes)).any()):
        raise ValueError(f"target_indices: expected integer code indices in [0, {num_codes})")
    check_tensor(tokens, "tokens", "b m d", sizes={"b": batch, "m": tokens_per_clip})
    check_tensor(quantized, "quantized", "b m d", sizes=dict(zip("bmd", tokens.shape)))
    cross_entropy = F.cross_entropy(rearrange(logits.float(), "b m n -> (b m) n"), target_indices.reshape(-1))
    return cross_entropy + F.mse_loss(tokens.float(), quantized.detach().float())


def soft_feature_distillation(video_features: torch.Tensor, ppg_features: torch.Tensor) -> torch.Tensor:
    """L_distill (Eq. 12): smooth-L1 between the video features at every spatial position and the
    stop-gradient PPG features broadcast over space, summed over positions, averaged over the batch.

    Args:
        video_features: ``(b c t h w)``, or ``(b c t)`` for features without spatial axes.
        ppg_features: ``(b c t)`` from the PPG feature extractor E_ppg.
    """
    if isinstance(video_features, torch.Tensor) and video_features.dim() == 3:
        video_features = rearrange(video_features, "b c t -> b c t 1 1")
    check_tensor(video_features, "video_features", "b c t h w")
    batch, channels, length = video_features.shape[:3]
    check_tensor(ppg_features, "ppg_features", "b c t", sizes={"b": batch, "c": channels, "t": length})
    target = rearrange(ppg_features.detach().float(), "b c t -> b c t 1 1").expand_as(video_features)
    per_element = F.smooth_l1_loss(video_features.float(), target, reduction="none")
    per_position = per_element.mean(dim=(1, 2))
    return per_position.sum(dim=(1, 2)).mean()


def overall_loss(
    physiological: torch.Tensor,
    code: torch.Tensor,
    code_ppg: torch.Tensor,
    distill: torch.Tensor,
    *,
    alpha: float = PHYSIOLOGICAL_WEIGHT,
    beta: float = CODE_WEIGHT,
) -> torch.Tensor:
    """L_overall (Eq. 16) = α·L_phy + β·(L_code' + L_code'^ppg) + L_distill, α=2, β=0.1."""
    return alpha * physiological + beta * (code + code_ppg) + distill
