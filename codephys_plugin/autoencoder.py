"""Stage I model: signal encoder E_s, codebook C and signal decoder D_s trained on contact PPG."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

from torch import Tensor, nn

from codephys_plugin._checks import weights_dtype
from codephys_plugin.decoder.signal_decoder import SignalDecoder
from codephys_plugin.encoder.signal_encoder import SignalCoderConfig, SignalEncoder, check_signal_batch
from codephys_plugin.losses.stage1 import reconstruction_loss
from codephys_plugin.query.codebook import Codebook, CodebookConfig, Quantized


@dataclass(frozen=True)
class AutoencoderConfig:
    coder: SignalCoderConfig = field(default_factory=SignalCoderConfig)
    codebook: CodebookConfig = field(default_factory=CodebookConfig)

    def __post_init__(self) -> None:
        if self.coder.dim != self.codebook.dim:
            raise ValueError(f"token dim {self.coder.dim} differs from codebook dim {self.codebook.dim}")


class Reconstruction(NamedTuple):
    reconstruction: Tensor
    """``(b t)`` D_s(Ẑ), the signal decoded from codebook rows."""
    tokens: Tensor
    """``(b m d)`` Z = E_s(s) before quantisation."""
    quantized: Quantized


class Stage1Loss(NamedTuple):
    total: Tensor
    """L_code = L_rec + L_feat (Eq. 6)."""
    reconstruction: Tensor
    feature: Tensor


class SignalAutoencoder(nn.Module):
    """``(b t)`` PPG -> tokens ``(b m d)`` -> nearest codes -> ``(b t)`` reconstruction."""

    def __init__(self, config: AutoencoderConfig | None = None) -> None:
        super().__init__()
        self.config = config or AutoencoderConfig()
        self.encoder = SignalEncoder(self.config.coder)
        self.codebook = Codebook.from_config(self.config.codebook)
        self.decoder = SignalDecoder(self.config.coder)

    def forward(self, signal: Tensor) -> Reconstruction:
        """'b t' signals of any floating dtype (float64 from numpy included), cast to the weights' dtype."""
        signal = check_signal_batch(signal).to(weights_dtype(self))
        tokens = self.encoder(signal)
        quantized = self.codebook(tokens)
        return Reconstruction(self.decoder(quantized.quantized), tokens, quantized)

    def loss(self, signal: Tensor, output: Reconstruction) -> Stage1Loss:
        rec = reconstruction_loss(output.reconstruction, signal)
        feat = output.quantized.loss
        return Stage1Loss(rec + feat, rec, feat)
