"""Signal encoder E_s (Eq. 1) and the PPG feature extractor E_ppg (E_s without its last conv)."""

from __future__ import annotations

from dataclasses import dataclass

from einops import rearrange
from torch import Tensor, nn

from codephys_plugin._checks import check_tensor
from codephys_plugin.encoder.embedding import EmbeddingLayer

TOKEN_STRIDE = 4
"""E_s turns T samples into M = T/4 tokens."""


@dataclass(frozen=True)
class SignalCoderConfig:
    """Shape of the signal encoder/decoder pair: D-dim tokens, K = 2D hidden width by default."""

    dim: int = 64
    hidden: int | None = None
    num_embedding_layers: int = 2
    kernel_size: int = 5

    def __post_init__(self) -> None:
        if self.dim < 1 or self.num_embedding_layers < 0 or (self.hidden is not None and self.hidden < 1):
            raise ValueError(f"invalid signal coder config: {self}")

    @property
    def hidden_width(self) -> int:
        return 2 * self.dim if self.hidden is None else self.hidden


def check_signal_batch(signal: Tensor, name: str = "signal") -> Tensor:
    """A ``(b t)`` batch of finite signals with T divisible by 4."""
    check_tensor(signal, name, "b t")
    if signal.shape[1] % TOKEN_STRIDE:
        raise ValueError(
            f"{name}: length T={signal.shape[1]} must be divisible by {TOKEN_STRIDE} "
            f"(E_s makes T/{TOKEN_STRIDE} tokens); got shape {tuple(signal.shape)}"
        )
    return signal


def embedding_stack(config: SignalCoderConfig) -> nn.Sequential:
    return nn.Sequential(
        *(
            EmbeddingLayer(config.dim, config.hidden_width, kernel_size=config.kernel_size)
            for _ in range(config.num_embedding_layers)
        )
    )


class PPGFeatureExtractor(nn.Module):
    """E_ppg: widening 1×1 conv then the embedding layers; ``(b t)`` -> ``(b d t)``.

    It is also the trunk of E_s, so ``copy.deepcopy(encoder.features)`` gives Stage II an E_ppg that
    starts from the Stage I weights.
    """

    def __init__(self, config: SignalCoderConfig) -> None:
        super().__init__()
        self.config = config
        self.widen = nn.Conv1d(1, config.dim, kernel_size=1)
        self.embed = embedding_stack(config)

    def forward(self, signal: Tensor) -> Tensor:
        check_signal_batch(signal)
        return self.embed(self.widen(rearrange(signal, "b t -> b 1 t")))


class SignalEncoder(nn.Module):
    """E_s (Eq. 1): ``(b t)`` signals -> ``(b m d)`` tokens, M = T/4, via a kernel-5 stride-4 conv."""

    def __init__(self, config: SignalCoderConfig | None = None) -> None:
        super().__init__()
        self.config = config or SignalCoderConfig()
        self.features = PPGFeatureExtractor(self.config)
        dim = self.config.dim
        self.downsample = nn.Conv1d(dim, dim, kernel_size=5, stride=TOKEN_STRIDE, padding=2)

    def forward(self, signal: Tensor) -> Tensor:
        return rearrange(self.downsample(self.features(signal)), "b d m -> b m d")
