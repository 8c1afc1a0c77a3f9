"""Auxiliary prior branch (APB) and its fusion with E_vf's tokens (Eq. 10).

E_s was trained in Stage I to map PPG windows onto codebook-like tokens. The APB reuses it in Stage II:
it reads a pseudo-periodic signal off the spatial-aware video features and encodes it with a fine-tuned
copy of E_s, so its tokens start with the codebook's statistics; `fuse` hands those statistics to E_vf's
tokens (AdaIN, Eq. 9) and adds the two.

Two choices are ours. The paper gets the pseudo-signal by global average pooling; we pool over h and w
and then take a learned pointwise projection c -> 1 instead of a plain channel mean, because the
channel mean of bounded (e.g. tanh) features can be nearly constant and so carry no pulse. And the
pseudo-signal is z-scored per clip, as E_s's training windows were.
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from einops import rearrange, reduce
from torch import Tensor, nn

from codephys_plugin._checks import check_tensor
from codephys_plugin.encoder.adain import adain
from codephys_plugin.encoder.signal_encoder import TOKEN_STRIDE, SignalEncoder

ZSCORE_EPS = 1e-8
"""Added to the variance when z-scoring, so a constant pseudo-signal becomes zeros, not NaN."""


class AuxiliaryPriorBranch(nn.Module):
    """APB: ``b c t h w`` (or ``b c t``) features -> (``b d m`` tokens, ``b T`` pseudo-signal).

    `encoder` is a pretrained E_s; the branch keeps a trainable deep copy and never touches the original.
    `time_reduction` says how far the features are from the frame rate, as in `VideoEncoderConfig`: 4 for
    frame-rate features (the pseudo-signal has T = t samples), 1 for features already at the token rate
    T/4 (the pseudo-signal is linearly upsampled ×4 so that E_s, which makes one token per 4 samples,
    returns t tokens), 2 in between (×2). The returned pseudo-signal is the z-scored one E_s encodes.
    """

    def __init__(self, channels: int, encoder: SignalEncoder, *, time_reduction: int = 4) -> None:
        super().__init__()
        if channels < 1:
            raise ValueError(f"AuxiliaryPriorBranch: channels must be positive, got {channels}")
        if not isinstance(encoder, SignalEncoder):
            raise ValueError(f"AuxiliaryPriorBranch: expected a SignalEncoder, got {type(encoder).__name__}")
        if time_reduction not in (1, 2, 4):
            raise ValueError(f"AuxiliaryPriorBranch: time_reduction must be 1, 2 or 4, got {time_reduction}")
        self.channels = channels
        self.time_reduction = time_reduction
        self.project = nn.Conv1d(channels, 1, kernel_size=1)
        self.encoder = copy.deepcopy(encoder).requires_grad_(True)

    def forward(self, features: Tensor) -> tuple[Tensor, Tensor]:
        signal = self.pseudo_signal(features)
        return rearrange(self.encoder(signal), "b m d -> b d m"), signal

    def pseudo_signal(self, features: Tensor) -> Tensor:
        """Spatial average, projection to one channel, ×(4 / time_reduction) upsampling, z-score: ``b T``."""
        channels = {"c": self.channels}
        if isinstance(features, Tensor) and features.dim() == 5:
            check_tensor(features, "AuxiliaryPriorBranch features", "b c t h w", sizes=channels)
            features = reduce(features, "b c t h w -> b c t", "mean")
        else:
            check_tensor(features, "AuxiliaryPriorBranch features", "b c t", sizes=channels)
        factor = TOKEN_STRIDE // self.time_reduction
        frames = features.shape[2]
        if (frames * factor) % TOKEN_STRIDE:
            raise ValueError(
                f"AuxiliaryPriorBranch features: length T={frames} must be divisible by time_reduction="
                f"{self.time_reduction} (E_s makes one token per {TOKEN_STRIDE} samples); "
                f"got shape {tuple(features.shape)}"
            )
        signal = self.project(features)
        if factor > 1:
            signal = F.interpolate(signal, scale_factor=factor, mode="linear", align_corners=False)
        return zscore(signal[:, 0])


def zscore(signal: Tensor) -> Tensor:
    """'b t' signals z-scored per clip, the form E_s's Stage I windows had; a constant clip becomes zeros."""
    var, mean = torch.var_mean(signal, dim=-1, correction=0, keepdim=True)
    return (signal - mean) / (var + ZSCORE_EPS).sqrt()


def fuse(encoder_tokens: Tensor, prior_tokens: Tensor) -> Tensor:
    """Eq. 10: ``adain(encoder_tokens, prior_tokens) + prior_tokens``, both ``b d m`` of one shape."""
    check_tensor(encoder_tokens, "fuse encoder_tokens", "b d m")
    batch, dim, tokens = encoder_tokens.shape
    check_tensor(prior_tokens, "fuse prior_tokens", "b d m", sizes={"b": batch, "d": dim, "m": tokens})
    return adain(encoder_tokens, prior_tokens) + prior_tokens
