"""A model over a test set, evaluated with the rPPG-Toolbox's per-video protocol (`heart_rate.videos`)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Callable, Iterable


from codephys_plugin.adapters import Adapter
from codephys_plugin.code_query_head import CodeQueryHead, to_label_form
from codephys_plugin.data.clip_sets import ClipSet, LabelForm, model_chunks
from codephys_plugin.heart_rate import prepare_for_hr
from codephys_plugin.heart_rate.videos import Chunk, VideoReport, evaluate_videos, join_chunks
from codephys_plugin.heart_rate.track import HRTrack, hr_track


@dataclass(frozen=True)
class ModelEvaluation:
    name: str
    report: VideoReport
    chunks: tuple[Chunk, ...]
    derivative: bool
    """Predictions and labels are in the derivative (DiffNormalized) form and are integrated for HR."""

    def video_tracks(self, video: str, fs: float, band: tuple[float, float], window_s: float) -> tuple[HRTrack, HRTrack]:
        """HR over time of one video's prediction and of its label."""
        prediction, label = join_chunks([chunk for chunk in self.chunks if chunk.video == video])
        return tuple(hr_track(prepare_for_hr(signal, fs, diff_normalized=self.derivative, low=band[0], high=band[1]),
                              fs, window_s=window_s, low=band[0], high=band[1]) for signal in (prediction, label))


def evaluate_bare(adapter: Adapter, clips: ClipSet, label_form: LabelForm, band: tuple[float, float], *,
                  batch_size: int = 4, progress: Callable[[Iterable], Iterable] = lambda batches: batches,
                  ) -> ModelEvaluation:
    """The network's own head; its outputs are in `label_form` (the toolbox's networks: derivative). Labels
    already in that form are used as they are, as the toolbox does."""
    adapter.eval()
    same = clips.label_form == label_form
    chunks = model_chunks(clips, adapter, adapter.rppg,
                          lambda ppg: ppg if same else to_label_form(ppg.float(), clips.label_form, label_form),
                          batch_size=batch_size, progress=progress)
    return _evaluated("bare", chunks, clips.fs, label_form == "derivative", band)


def evaluate_head(head: CodeQueryHead, clips: ClipSet, band: tuple[float, float], *, batch_size: int = 4,
                  progress: Callable[[Iterable], Iterable] = lambda batches: batches) -> ModelEvaluation:
    """The code-query head; labels are brought to its bundle's label form."""
    head.eval()
    chunks = model_chunks(clips, head.adapter, lambda inputs: head(inputs).rppg,
                          lambda ppg: to_label_form(ppg.float(), clips.label_form, head.label_form),
                          batch_size=batch_size, progress=progress)
    return _evaluated("head", chunks, clips.fs, head.label_form == "derivative", band)


def _evaluated(name: str, chunks: list[Chunk], fs: float, derivative: bool, band: tuple[float, float]) -> ModelEvaluation:
    report = evaluate_videos(chunks, fs, diff_normalized=derivative, low=band[0], high=band[1])
    return ModelEvaluation(name, report, tuple(chunks), derivative)


def worst_videos(evaluations: list[ModelEvaluation], count: int) -> list[str]:
    """The `count` videos with the largest |HR error| of any model."""
    errors: dict[str, float] = defaultdict(float)
    for evaluation in evaluations:
        for video in evaluation.report.videos:
            errors[video.video] = max(errors[video.video], abs(video.hr_pred - video.hr_label))
    return sorted(errors, key=lambda video: -errors[video])[:count] if errors else []
