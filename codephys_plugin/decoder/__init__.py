"""Decoders that turn (quantised) tokens back into rPPG waveforms."""

from codephys_plugin.decoder.signal_decoder import SignalDecoder

__all__ = ["SignalDecoder"]
