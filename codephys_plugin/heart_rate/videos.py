"""The rPPG-Toolbox's evaluation protocol: one heart rate per video from its chunks, then metrics over videos.

The toolbox concatenates a video's predicted chunks (and label chunks) in chunk order, post-processes
the whole sequence once (integration for DiffNormalized, detrend, band-pass), takes the FFT heart
rate of each, and reports MAE / RMSE / SD / MAPE / Pearson r over videos together with the mean SNR
of the predictions. We add the mean MACC. A video whose HR cannot be measured (a flat prediction, a
sequence too short to filter) is not dropped silently: it is listed in `failed` with the reason.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from typing import Iterable

import numpy as np

from codephys_plugin.data.formats.toolbox_cache import first_missing_chunk
from codephys_plugin.heart_rate.estimate import HRMethod, evaluate_window
from codephys_plugin.heart_rate.metrics import HRMetrics, hr_metrics
from codephys_plugin.rppg.filters import DEFAULT_HIGH_HZ, DEFAULT_LOW_HZ
from codephys_plugin.rppg.stitch import stitch_windows


@dataclass(frozen=True)
class Chunk:
    """One clip's prediction and label 't', both in the same form, and where it sits in its video."""

    video: str
    index: int
    prediction: np.ndarray
    label: np.ndarray
    start: int | None = None
    """The chunk's first sample in its video, for chunks that may overlap: a video whose chunks all carry
    one is stitched (overlaps averaged, each sample once) instead of concatenated by index."""


@dataclass(frozen=True)
class VideoResult:
    video: str
    samples: int
    hr_pred: float
    hr_label: float
    snr_db: float
    macc: float


@dataclass(frozen=True)
class VideoReport:
    """Per-video results, their HR metrics (None when no video could be measured), mean SNR and MACC."""

    videos: tuple[VideoResult, ...]
    failed: tuple[tuple[str, str], ...]
    metrics: HRMetrics | None

    @property
    def snr_db(self) -> float:
        return float(np.mean([v.snr_db for v in self.videos])) if self.videos else math.nan

    @property
    def macc(self) -> float:
        return float(np.mean([v.macc for v in self.videos])) if self.videos else math.nan

    def summary(self) -> dict[str, float]:
        """The headline numbers as plain floats (NaN where undefined), for logs and JSON."""
        metrics = self.metrics
        values = {name: getattr(metrics, name) if metrics else math.nan for name in ("mae", "rmse", "sd", "mape", "pearson")}
        return {**values, "snr_db": self.snr_db, "macc": self.macc, "videos": len(self.videos), "failed": len(self.failed)}


def evaluate_videos(
    chunks: Iterable[Chunk],
    fs: float,
    *,
    diff_normalized: bool,
    method: HRMethod = "fft",
    low: float = DEFAULT_LOW_HZ,
    high: float = DEFAULT_HIGH_HZ,
) -> VideoReport:
    """Group `chunks` by video, join them (by start where all have one, else in index order) and evaluate
    each whole video as the toolbox does, band-passing and looking for the HR in ``[low, high]`` Hz."""
    by_video: dict[str, list[Chunk]] = defaultdict(list)
    for chunk in chunks:
        by_video[chunk.video].append(chunk)
    results, failed = [], []
    for video in sorted(by_video):
        try:
            prediction, label = join_chunks(by_video[video])
            window = evaluate_window(
                prediction, label, fs, diff_normalized=diff_normalized, method=method, low=low, high=high
            )
        except ValueError as problem:
            failed.append((video, str(problem)))
            continue
        results.append(VideoResult(video, prediction.size, window.hr_pred, window.hr_label, window.snr_db, window.macc))
    metrics = hr_metrics([r.hr_pred for r in results], [r.hr_label for r in results]) if results else None
    return VideoReport(tuple(results), tuple(failed), metrics)


def join_chunks(chunks: list[Chunk]) -> tuple[np.ndarray, np.ndarray]:
    """A video's prediction and label: stitched by start where every chunk has one, else concatenated by index."""
    if all(chunk.start is not None for chunk in chunks):
        starts = [chunk.start for chunk in chunks]
        return (stitch_windows(starts, [chunk.prediction for chunk in chunks]),
                stitch_windows(starts, [chunk.label for chunk in chunks]))
    ordered = sorted(chunks, key=lambda chunk: chunk.index)
    missing = first_missing_chunk([chunk.index for chunk in ordered])
    if missing is not None:
        raise ValueError(f"chunk {missing} is missing; a video is not joined over a hole")
    return (np.concatenate([np.asarray(c.prediction, dtype=np.float64).reshape(-1) for c in ordered]),
            np.concatenate([np.asarray(c.label, dtype=np.float64).reshape(-1) for c in ordered]))
