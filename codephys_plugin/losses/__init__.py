"""Training objectives of CodePhys Stage I (Eqs. 4-6) and Stage II (Eqs. 12-16)."""

from codephys_plugin.losses.pearson import negative_pearson, pearson_r
from codephys_plugin.losses.spectral import band_power_spectrum, psd_cross_entropy
from codephys_plugin.losses.stage1 import quantization_losses, reconstruction_loss
from codephys_plugin.losses.stage2 import (
    code_query_loss,
    overall_loss,
    physiological_loss,
    soft_feature_distillation,
)

__all__ = [
    "band_power_spectrum",
    "code_query_loss",
    "negative_pearson",
    "overall_loss",
    "pearson_r",
    "physiological_loss",
    "psd_cross_entropy",
    "quantization_losses",
    "reconstruction_loss",
    "soft_feature_distillation",
]
