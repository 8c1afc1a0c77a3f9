"""codephys-plugin: the code-query stage of CodePhys for any end-to-end rPPG network.

Data path: video → adapter → features → encoder → query → decoder → rPPG → heart rate.
"""

from codephys_plugin.autoencoder import AutoencoderConfig, SignalAutoencoder
from codephys_plugin.code_query_head import Ablation, CodeQueryHead, CodeQueryOutput
from codephys_plugin.decoder import SignalDecoder
from codephys_plugin.encoder import PPGFeatureExtractor, SignalCoderConfig, SignalEncoder
from codephys_plugin.query import Codebook, CodebookConfig, Quantized, nearest_code

from codephys_plugin._version import __version__

__all__ = [
    "Ablation",
    "CodeQueryHead",
    "CodeQueryOutput",
    "AutoencoderConfig",
    "Codebook",
    "CodebookConfig",
    "PPGFeatureExtractor",
    "Quantized",
    "SignalAutoencoder",
    "SignalCoderConfig",
    "SignalDecoder",
    "SignalEncoder",
    "__version__",
    "nearest_code",
]
