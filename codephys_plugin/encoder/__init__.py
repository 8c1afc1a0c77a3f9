"""Encoders that turn signals into PPG features and query tokens."""

from codephys_plugin.encoder.embedding import ChannelLayerNorm, EmbeddingLayer
from codephys_plugin.encoder.signal_encoder import (
    TOKEN_STRIDE,
    PPGFeatureExtractor,
    SignalCoderConfig,
    SignalEncoder,
    check_signal_batch,
)

__all__ = [
    "TOKEN_STRIDE",
    "ChannelLayerNorm",
    "EmbeddingLayer",
    "PPGFeatureExtractor",
    "SignalCoderConfig",
    "SignalEncoder",
    "check_signal_batch",
]
