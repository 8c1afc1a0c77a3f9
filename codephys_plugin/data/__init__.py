"""Data sources: the embedded synthetic PPG (more loaders come with Stage I pretraining)."""

from codephys_plugin.data.synthetic_ppg import SyntheticPPG, SyntheticPPGConfig, synthesize_ppg, synthesize_recordings

__all__ = ["SyntheticPPG", "SyntheticPPGConfig", "synthesize_ppg", "synthesize_recordings"]
