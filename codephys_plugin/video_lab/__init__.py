"""The synthetic video lab on disk: lab videos as rPPG-Toolbox caches, with a manifest of their truth."""

from codephys_plugin.video_lab.lab_dataset import DegradationRange, LabDatasetConfig, lab_videos, write_lab_dataset
from codephys_plugin.video_lab.toolbox_recipes import RECIPES, ToolboxRecipe, chunks, preprocess_video

__all__ = ["RECIPES", "DegradationRange", "LabDatasetConfig", "ToolboxRecipe", "chunks", "lab_videos",
           "preprocess_video", "write_lab_dataset"]
