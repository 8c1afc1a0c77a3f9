"""Data sources: the embedded synthetic PPG and face videos, and rPPG-Toolbox clip caches."""

from codephys_plugin.data.synthetic_ppg import SyntheticPPG, SyntheticPPGConfig, synthesize_ppg, synthesize_recordings
from codephys_plugin.data.synthetic_video import (
    SyntheticClip,
    SyntheticClipDataset,
    SyntheticVideoConfig,
    synthesize_clip,
)
from codephys_plugin.data.toolbox_clips import ToolboxClip, ToolboxClipDataset, find_toolbox_clips

__all__ = [
    "SyntheticClip",
    "SyntheticClipDataset",
    "SyntheticPPG",
    "SyntheticPPGConfig",
    "SyntheticVideoConfig",
    "ToolboxClip",
    "ToolboxClipDataset",
    "find_toolbox_clips",
    "synthesize_clip",
    "synthesize_ppg",
    "synthesize_recordings",
]
