"""A trained network, bare or with the code-query head, on a held-out test set: the toolbox's per-video metrics
and the paper's Fig. 4 plots."""

from codephys_plugin.evaluate.model_runs import ModelEvaluation, evaluate_bare, evaluate_head, worst_videos
from codephys_plugin.evaluate.test_sets import open_test_set

__all__ = ["ModelEvaluation", "evaluate_bare", "evaluate_head", "open_test_set", "worst_videos"]
