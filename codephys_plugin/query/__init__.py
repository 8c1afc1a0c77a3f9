"""Code query: the codebook and the nearest-code search behind it."""

from codephys_plugin.query.codebook import Codebook, CodebookConfig, CodebookUsage, Quantized
from codephys_plugin.query.search import nearest_code, triton_available

__all__ = ["Codebook", "CodebookConfig", "CodebookUsage", "Quantized", "nearest_code", "triton_available"]
