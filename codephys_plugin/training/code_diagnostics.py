"""What limits Stage II, measured on validation clips: does the query pick the label's codes, and how good
could the frozen decoder be at all?

- code accuracy: the predicted code index equals the index of Q_gt (the label's own codes, E_s then the
  nearest code), top-5 accuracy, and the perplexity of the predicted codes against that of the label codes
  (a query that collapses onto a few codes has a far lower perplexity than the labels);
- the oracle ceiling: the frozen decoder on Q_gt's codes (the best the code query can ever give on these
  labels) and on the continuous queries (the no-quantisation path), each evaluated per video like the head.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import Tensor

from codephys_plugin.heart_rate.videos import Chunk, evaluate_videos
from codephys_plugin.losses.pearson import pearson_r
from codephys_plugin.query.codebook import usage_from_counts

if TYPE_CHECKING:
    from codephys_plugin.code_query_head import CodeQueryHead, CodeQueryOutput

TOP_K = 5


@dataclass
class CodeTally:
    """Running counts over a validation pass; `summary` turns them into the reported figures."""

    num_codes: int
    tokens: int = 0
    hits: int = 0
    top_hits: int = 0
    predicted_counts: Tensor = field(init=False)
    label_counts: Tensor = field(init=False)

    def __post_init__(self) -> None:
        self.predicted_counts = torch.zeros(self.num_codes, dtype=torch.int64)
        self.label_counts = torch.zeros(self.num_codes, dtype=torch.int64)

    def add(self, logits: Tensor, predicted: Tensor, target: Tensor) -> None:
        """logits 'b m n', predicted and target indices 'b m'."""
        predicted, target = predicted.detach().cpu(), target.detach().cpu()
        top = logits.detach().topk(min(TOP_K, self.num_codes), dim=-1).indices.cpu()
        self.tokens += target.numel()
        self.hits += int((predicted == target).sum())
        self.top_hits += int((top == target[..., None]).any(dim=-1).sum())
        self.predicted_counts += torch.bincount(predicted.reshape(-1), minlength=self.num_codes)
        self.label_counts += torch.bincount(target.reshape(-1), minlength=self.num_codes)

    def summary(self) -> dict[str, float]:
        if self.tokens == 0:
            return {"code_accuracy": math.nan, "code_top5_accuracy": math.nan, "chance": 1 / self.num_codes,
                    "predicted_perplexity": math.nan, "label_perplexity": math.nan}
        return {
            "code_accuracy": self.hits / self.tokens,
            "code_top5_accuracy": self.top_hits / self.tokens,
            "chance": 1 / self.num_codes,
            "predicted_perplexity": usage_from_counts(self.predicted_counts).perplexity,
            "label_perplexity": usage_from_counts(self.label_counts).perplexity,
        }


PATHS = ("oracle", "continuous")
"""The decoder on the label's own codes (the ceiling of the code query), and on the unquantised queries."""


@dataclass
class ValidationDiagnostics:
    """Everything `CodeTally` counts, plus the two decoded paths' chunks and waveform correlations."""

    tally: CodeTally
    chunks: dict[str, list[Chunk]] = field(default_factory=lambda: {path: [] for path in PATHS})
    correlations: dict[str, list[float]] = field(default_factory=lambda: {path: [] for path in PATHS})

    @torch.no_grad()
    def add(self, head: CodeQueryHead, output: CodeQueryOutput, label: Tensor, videos: list[str], indices: list[int]) -> None:
        """One batch: the head's output and its labels 'b t' in the bundle's label form."""
        target = head.label_codes(label)
        self.tally.add(output.logits, output.indices, target)
        length = label.shape[1]
        decoded = {"oracle": head.decode(head.codebook.lookup(target), length),
                   "continuous": head.decode(output.tokens, length)}
        for path, waveforms in decoded.items():
            self.correlations[path] += pearson_r(waveforms, label).tolist()
            self.chunks[path] += [Chunk(video, index, waveform, truth) for video, index, waveform, truth
                                  in zip(videos, indices, waveforms.cpu().numpy(), label.cpu().numpy())]

    def summary(self, fs: float, *, diff_normalized: bool, band: tuple[float, float]) -> dict[str, float]:
        values = self.tally.summary()
        for path in PATHS:
            report = evaluate_videos(self.chunks[path], fs, diff_normalized=diff_normalized, low=band[0], high=band[1])
            values[f"{path}_mae"] = report.summary()["mae"]
            values[f"{path}_r"] = float(np.mean(self.correlations[path])) if self.correlations[path] else math.nan
        return values
