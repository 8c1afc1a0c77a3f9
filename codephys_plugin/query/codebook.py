"""The vector-quantisation codebook C (CodePhys Sec. III-A): N noise-free PPG codes of D dims."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Literal, NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from codephys_plugin._checks import check_tensor
from codephys_plugin.losses.stage1 import COMMITMENT_WEIGHT, quantization_losses
from codephys_plugin.query.distributed import all_reduce_sum_, broadcast_from_main_, is_main_rank
from codephys_plugin.query.search import nearest_code

UpdateRule = Literal["gradient", "ema"]


@dataclass(frozen=True)
class CodebookConfig:
    """How the codebook is shaped and trained.

    ``update="gradient"`` learns the codes by backpropagation of the codebook term of Eq. 5 (the
    paper's GLO-style default); ``"ema"`` replaces that term by exponential moving averages of the
    assigned tokens (VQ-VAE-2 style), which needs no optimizer state for the codes.
    ``dead_code_steps=K > 0`` re-seeds codes unused for K training steps from current tokens.
    """

    num_codes: int = 64
    dim: int = 64
    commitment_weight: float = COMMITMENT_WEIGHT
    update: UpdateRule = "gradient"
    ema_decay: float = 0.99
    ema_epsilon: float = 1e-5
    kmeans_init: bool = False
    kmeans_iters: int = 10
    dead_code_steps: int = 0
    temperature: float = 1.0

    def __post_init__(self) -> None:
        if self.num_codes < 1 or self.dim < 1:
            raise ValueError(f"codebook: num_codes and dim must be positive, got {self.num_codes}, {self.dim}")
        if self.update not in ("gradient", "ema"):
            raise ValueError(f"codebook: update must be 'gradient' or 'ema', got {self.update!r}")
        if not 0.0 < self.ema_decay < 1.0:
            raise ValueError(f"codebook: ema_decay must lie in (0, 1), got {self.ema_decay}")
        if self.temperature <= 0 or self.commitment_weight < 0 or self.ema_epsilon <= 0:
            raise ValueError("codebook: temperature and ema_epsilon must be positive, commitment_weight >= 0")
        if self.kmeans_iters < 1 or self.dead_code_steps < 0:
            raise ValueError("codebook: kmeans_iters must be >= 1 and dead_code_steps >= 0")


class Quantized(NamedTuple):
    """What a codebook forward returns."""

    quantized: torch.Tensor
    """``(b m d)`` codes with the straight-through estimator: forward value ẑ, gradient of z."""
    indices: torch.Tensor
    """``(b m)`` int64 code indices."""
    codebook_loss: torch.Tensor
    """``‖sg(z) − ẑ‖²`` (scalar; carries no gradient under EMA updates)."""
    commitment_loss: torch.Tensor
    """``δ‖z − sg(ẑ)‖²`` (scalar, already weighted)."""

    @property
    def loss(self) -> torch.Tensor:
        """L_feat (Eq. 5)."""
        return self.codebook_loss + self.commitment_loss


class CodebookUsage(NamedTuple):
    counts: torch.Tensor
    """``(n)`` assignments per code since the last `reset_usage`."""
    perplexity: float
    """``exp(entropy)`` of the usage distribution: 1 if one code takes everything, N if all share."""
    dead_codes: int
    """Codes never assigned since the last `reset_usage`."""


def usage_from_counts(counts: torch.Tensor) -> CodebookUsage:
    """Perplexity and dead codes from per-code assignment counts ``(n)``."""
    counts = counts.detach().to("cpu", torch.int64).clone()
    total = int(counts.sum())
    if total == 0:
        return CodebookUsage(counts, float("nan"), counts.numel())
    probs = counts[counts > 0].double() / total
    entropy = float(-(probs * probs.log()).sum())
    return CodebookUsage(counts, math.exp(entropy), int((counts == 0).sum()))


class Codebook(nn.Module):
    """Nearest-code quantiser over ``(b m d)`` tokens with a keyword-only configuration.

    Distances and the argmin always run in fp32 (autocast is disabled inside). Under
    ``torch.distributed`` every statistic that changes the codes (k-means sums, EMA sums, usage for
    dead-code restarts) is all-reduced and random choices are made on rank 0 and broadcast, so all
    ranks keep an identical codebook.
    """

    def __init__(
        self,
        *,
        num_codes: int = 64,
        dim: int = 64,
        commitment_weight: float = COMMITMENT_WEIGHT,
        update: UpdateRule = "gradient",
        ema_decay: float = 0.99,
        ema_epsilon: float = 1e-5,
        kmeans_init: bool = False,
        kmeans_iters: int = 10,
        dead_code_steps: int = 0,
        temperature: float = 1.0,
    ) -> None:
        super().__init__()
        self.config = CodebookConfig(
            num_codes=num_codes,
            dim=dim,
            commitment_weight=commitment_weight,
            update=update,
            ema_decay=ema_decay,
            ema_epsilon=ema_epsilon,
            kmeans_init=kmeans_init,
            kmeans_iters=kmeans_iters,
            dead_code_steps=dead_code_steps,
            temperature=temperature,
        )
        initial = torch.empty(num_codes, dim).uniform_(-1.0 / num_codes, 1.0 / num_codes)
        if update == "gradient":
            self.codes = nn.Parameter(initial)
        else:
            self.register_buffer("codes", initial)
            self.register_buffer("ema_cluster_size", torch.ones(num_codes))
            self.register_buffer("ema_code_sum", initial.clone())
        self.register_buffer("initialized", torch.tensor(not kmeans_init))
        self.register_buffer("usage_counts", torch.zeros(num_codes, dtype=torch.int64))
        self.register_buffer("steps_since_used", torch.zeros(num_codes, dtype=torch.int64))
        self.frozen = False

    @classmethod
    def from_config(cls, config: CodebookConfig) -> Codebook:
        return cls(**asdict(config))

    @property
    def num_codes(self) -> int:
        return self.config.num_codes

    @property
    def dim(self) -> int:
        return self.config.dim

    def forward(self, tokens: torch.Tensor) -> Quantized:
        """Quantise ``tokens (b m d)``; in training mode (and not frozen) also update the statistics."""
        check_tensor(tokens, "tokens", "b m d", sizes={"d": self.dim})
        learning = self.training and not self.frozen
        with torch.autocast(device_type=tokens.device.type, enabled=False):
            flat = tokens.float()
            if learning and self.config.kmeans_init and not bool(self.initialized):
                self.kmeans_init_(flat.detach().reshape(-1, self.dim))
            indices, _ = nearest_code(flat.detach(), self.codes.detach().float())
            codes = F.embedding(indices, self.codes.float())
            codebook_loss, commitment_loss = quantization_losses(
                flat, codes, commitment_weight=self.config.commitment_weight
            )
            if learning:
                self._learn_from(flat.detach().reshape(-1, self.dim), indices.reshape(-1))
            straight_through = flat + (codes - flat).detach()
        return Quantized(straight_through.to(tokens.dtype), indices, codebook_loss, commitment_loss)

    def logits(self, tokens: torch.Tensor, temperature: float | None = None) -> torch.Tensor:
        """Code logits ``(b m n)`` = −‖z − c‖² / τ for the code-index cross-entropy of Eq. 14."""
        check_tensor(tokens, "tokens", "b m d", sizes={"d": self.dim})
        tau = self.config.temperature if temperature is None else temperature
        if tau <= 0:
            raise ValueError(f"logits: temperature must be positive, got {tau}")
        with torch.autocast(device_type=tokens.device.type, enabled=False):
            z = tokens.float()
            codes = self.codes.float()
            sq_dist = z.pow(2).sum(-1, keepdim=True) - 2.0 * z @ codes.t() + codes.pow(2).sum(-1)
            return -sq_dist.clamp(min=0.0) / tau

    def lookup(self, indices: torch.Tensor) -> torch.Tensor:
        """Codes for integer ``indices (b m)`` -> ``(b m d)``."""
        check_tensor(indices, "indices", "b m", floating=False, finite=False)
        if indices.is_floating_point() or bool(((indices < 0) | (indices >= self.num_codes)).any()):
            raise ValueError(f"indices: expected integer code indices in [0, {self.num_codes})")
        return F.embedding(indices, self.codes)

    def freeze(self) -> Codebook:
        """Fix the codes for Stage II: no gradient, no EMA, no restarts, no k-means."""
        self.frozen = True
        self.codes.requires_grad_(False)
        return self

    def usage(self) -> CodebookUsage:
        """Usage accumulated by training forwards since the last `reset_usage`."""
        return usage_from_counts(self.usage_counts)

    def reset_usage(self) -> None:
        self.usage_counts.zero_()

    @torch.no_grad()
    def kmeans_init_(self, tokens: torch.Tensor) -> None:
        """Set the codes to k-means centroids of ``tokens (k d)``: k-means++ seeds drawn on rank 0, then
        Lloyd iterations whose sums are pooled over all ranks."""
        check_tensor(tokens, "tokens", "k d", sizes={"d": self.dim})
        tokens = tokens.float()
        centroids = torch.empty(self.num_codes, self.dim, device=tokens.device)
        if is_main_rank():
            centroids.copy_(_kmeans_plus_plus_seeds(tokens, self.num_codes))
        broadcast_from_main_(centroids)
        for _ in range(self.config.kmeans_iters):
            sums, counts = self._cluster_sums(tokens, nearest_code(tokens, centroids)[0])
            filled = counts > 0
            centroids[filled] = sums[filled] / counts[filled, None]
        self.codes.data.copy_(centroids)
        if self.config.update == "ema":
            self.ema_code_sum.copy_(centroids)
            self.ema_cluster_size.fill_(1.0)
        self.initialized.fill_(True)

    @torch.no_grad()
    def _learn_from(self, tokens: torch.Tensor, indices: torch.Tensor) -> None:
        sums, counts = self._cluster_sums(tokens, indices)
        self.usage_counts += counts.long()
        if self.config.update == "ema":
            self._ema_update(sums, counts)
        if self.config.dead_code_steps > 0:
            self.steps_since_used.add_(1).masked_fill_(counts > 0, 0)
            self._restart_dead_codes(tokens)

    def _cluster_sums(self, tokens: torch.Tensor, indices: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-code sums ``(n d)`` and counts ``(n)`` of the assigned tokens, summed over ranks."""
        sums = torch.zeros(self.num_codes, self.dim, device=tokens.device).index_add_(0, indices, tokens)
        counts = torch.bincount(indices, minlength=self.num_codes).float()
        return all_reduce_sum_(sums), all_reduce_sum_(counts)

    def _ema_update(self, sums: torch.Tensor, counts: torch.Tensor) -> None:
        decay = self.config.ema_decay
        self.ema_cluster_size.mul_(decay).add_(counts, alpha=1.0 - decay)
        self.ema_code_sum.mul_(decay).add_(sums, alpha=1.0 - decay)
        total = self.ema_cluster_size.sum()
        eps = self.config.ema_epsilon
        smoothed = (self.ema_cluster_size + eps) / (total + self.num_codes * eps) * total
        self.codes.copy_(self.ema_code_sum / smoothed[:, None])

    def _restart_dead_codes(self, tokens: torch.Tensor) -> None:
        dead = self.steps_since_used >= self.config.dead_code_steps
        num_dead = int(dead.sum())
        if num_dead == 0:
            return
        replacements = self._sample_tokens(tokens, num_dead)
        self.codes.data[dead] = replacements
        if self.config.update == "ema":
            self.ema_code_sum[dead] = replacements
            self.ema_cluster_size[dead] = 1.0
        self.steps_since_used[dead] = 0

    def _sample_tokens(self, tokens: torch.Tensor, count: int) -> torch.Tensor:
        """`count` tokens drawn on rank 0 (with replacement if it has fewer), broadcast to all ranks."""
        sample = torch.empty(count, self.dim, device=tokens.device)
        if is_main_rank():
            if tokens.shape[0] >= count:
                picks = torch.randperm(tokens.shape[0], device=tokens.device)[:count]
            else:
                picks = torch.randint(tokens.shape[0], (count,), device=tokens.device)
            sample.copy_(tokens[picks])
        return broadcast_from_main_(sample)


def _kmeans_plus_plus_seeds(tokens: torch.Tensor, count: int) -> torch.Tensor:
    """k-means++ seeding: each next seed is a token drawn with probability ∝ its squared distance to
    the nearest seed so far, which avoids starting two centroids in one cluster."""
    seeds = torch.empty(count, tokens.shape[1], device=tokens.device)
    seeds[0] = tokens[torch.randint(tokens.shape[0], (1,), device=tokens.device)]
    nearest_sq = (tokens - seeds[0]).pow(2).sum(dim=1)
    for i in range(1, count):
        total = nearest_sq.sum()
        if total > 0:
            pick = torch.multinomial(nearest_sq / total, 1)
        else:
            pick = torch.randint(tokens.shape[0], (1,), device=tokens.device)
        seeds[i] = tokens[pick]
        nearest_sq = torch.minimum(nearest_sq, (tokens - seeds[i]).pow(2).sum(dim=1))
    return seeds
