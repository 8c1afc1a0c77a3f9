"""Signal decoder D_s (Eq. 3): E_s in reverse, tokens back to a waveform."""

from __future__ import annotations

from einops import rearrange
from torch import Tensor, nn

from codephys_plugin._checks import check_tensor
from codephys_plugin.encoder.signal_encoder import TOKEN_STRIDE, SignalCoderConfig, embedding_stack


class SignalDecoder(nn.Module):
    """``(b m d)`` tokens -> ``(b t)`` signal with T = 4M: a transposed kernel-5 stride-4 conv that
    undoes E_s's downsampling, the embedding layers, and a 1×1 conv back to one channel."""

    def __init__(self, config: SignalCoderConfig | None = None) -> None:
        super().__init__()
        self.config = config or SignalCoderConfig()
        dim = self.config.dim
        self.upsample = nn.ConvTranspose1d(
            dim, dim, kernel_size=5, stride=TOKEN_STRIDE, padding=2, output_padding=TOKEN_STRIDE - 1
        )
        self.embed = embedding_stack(self.config)
        self.project = nn.Conv1d(dim, 1, kernel_size=1)

    def forward(self, tokens: Tensor) -> Tensor:
        check_tensor(tokens, "tokens", "b m d", sizes={"d": self.config.dim})
        features = self.embed(self.upsample(rearrange(tokens, "b m d -> b d m")))
        return rearrange(self.project(features), "b 1 t -> b t")
