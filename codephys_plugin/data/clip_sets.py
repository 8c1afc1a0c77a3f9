"""Stage II training and validation data: clips with their PPG, and which video each clip belongs to.

Two kinds of items reach the head: raw RGB frames ``(t+1) 3 h w`` in pixel units (the synthetic video
generator, or any dataset of raw clips), which go through the adapter's own input recipe, and clips
the rPPG-Toolbox already prepared ``t c h w``, which only change layout (`Adapter.from_prepared`).
Each item also carries its video and chunk index, so validation can rebuild whole videos for the
toolbox's per-video heart rates, and splits can keep a video's chunks together.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Literal, Sequence

import torch
from torch.utils.data import ConcatDataset, DataLoader, Dataset, Subset

from codephys_plugin.adapters import Adapter
from codephys_plugin.data.splits import held_out_groups
from codephys_plugin.data.synthetic_video import SyntheticClipDataset, SyntheticVideoConfig
from codephys_plugin.data.toolbox_clips import Layout, ToolboxClipDataset, find_toolbox_clips
from codephys_plugin.heart_rate.videos import Chunk
from codephys_plugin.training.fingerprint import dataset_description, text_digest

LabelForm = Literal["waveform", "derivative"]


@dataclass(frozen=True)
class ClipSet:
    """Items ``(clip, ppg 't')`` of `dataset`; `videos[i]` and `chunks[i]` place item i in its video.

    prepared: items are network-ready clips ``t c h w`` (toolbox caches), not raw frames ``(t+1) 3 h w``.
    label_form: what the PPG items hold ("waveform", or "derivative" for DiffNormalized labels).
    """

    dataset: Dataset
    videos: tuple[str, ...]
    chunks: tuple[int, ...]
    prepared: bool
    label_form: LabelForm
    fs: float

    def __post_init__(self) -> None:
        if not len(self.videos) == len(self.chunks) == len(self.dataset) > 0:
            raise ValueError(
                f"ClipSet: {len(self.dataset)} items, {len(self.videos)} video names and {len(self.chunks)} chunk "
                "indices; need the same non-zero number of each"
            )
        if self.label_form not in ("waveform", "derivative"):
            raise ValueError(f"ClipSet label_form: expected 'waveform' or 'derivative', got {self.label_form!r}")
        if not (math.isfinite(self.fs) and self.fs > 0):
            raise ValueError(f"ClipSet fs: expected a positive sampling rate in Hz, got {self.fs}")

    def __len__(self) -> int:
        return len(self.videos)

    def fingerprint(self) -> str:
        """A digest of where the items come from and how they are labelled (see `training.fingerprint`)."""
        return text_digest(f"{dataset_description(self.dataset)}|{self.videos}|{self.chunks}|{self.prepared}|"
                           f"{self.label_form}|{self.fs!r}")

    def subset(self, indices: Sequence[int]) -> ClipSet:
        indices = list(indices)
        return ClipSet(
            Subset(self.dataset, indices), tuple(self.videos[i] for i in indices), tuple(self.chunks[i] for i in indices),
            self.prepared, self.label_form, self.fs,
        )

    def clip_length(self) -> int:
        """T of the first item: PPG samples per clip."""
        return int(self.dataset[0][1].shape[-1])


def concatenate(sets: Sequence[ClipSet], prefixes: Sequence[str]) -> ClipSet:
    """One ClipSet of `sets` in order, each one's video names prefixed so that videos of different sets never
    merge; they must agree on `prepared`, `label_form` and `fs`."""
    if not sets or len(sets) != len(prefixes):
        raise ValueError(f"concatenate: need one prefix per clip set, got {len(sets)} sets and {len(prefixes)} prefixes")
    kinds = {(clips.prepared, clips.label_form, clips.fs) for clips in sets}
    if len(kinds) > 1:
        raise ValueError(f"concatenate: the clip sets differ in (prepared, label_form, fs): {sorted(kinds)}")
    videos = tuple(prefix + video for clips, prefix in zip(sets, prefixes) for video in clips.videos)
    if len(set(zip(videos, (chunk for clips in sets for chunk in clips.chunks)))) < len(videos):
        raise ValueError("concatenate: two sets share a (video, chunk); give them different prefixes")
    first = sets[0]
    return ClipSet(ConcatDataset([clips.dataset for clips in sets]), videos,
                   tuple(chunk for clips in sets for chunk in clips.chunks), first.prepared, first.label_form, first.fs)


def synthetic_clips(count: int, config: SyntheticVideoConfig) -> ClipSet:
    """`count` synthetic face clips, each its own video; different `config.seed`s give disjoint sets."""
    names = tuple(f"synthetic_{config.seed}_{i:04d}" for i in range(count))
    return ClipSet(SyntheticClipDataset(count, config), names, (0,) * count, False, "waveform", config.fs)


def toolbox_clips(directory: str | Path, *, layout: Layout, label_form: LabelForm, fs: float) -> ClipSet:
    """Every ``<video>_input<k>.npy`` chunk of a toolbox cache folder with its label, each read once
    up front (see `ToolboxClipDataset.validate`)."""
    clips = find_toolbox_clips(directory)
    dataset = ToolboxClipDataset(clips, layout=layout)
    dataset.validate(label_form)
    return ClipSet(dataset, tuple(c.video for c in clips), tuple(c.chunk for c in clips), True, label_form, fs)


def split_by_video(clips: ClipSet, fraction: float, seed: int) -> tuple[ClipSet, ClipSet]:
    """Hold out about `fraction` of the videos; all chunks of a video land on the same side."""
    videos = sorted(set(clips.videos))
    if len(videos) < 2:
        raise ValueError(f"split_by_video: need at least two videos to hold some out, got {len(videos)}")
    if not 0 < fraction < 1:
        raise ValueError(f"split_by_video: fraction must be in (0, 1), got {fraction}")
    held_out = held_out_groups(videos, min(len(videos) - 1, max(1, round(fraction * len(videos)))), seed)
    train = [i for i, video in enumerate(clips.videos) if video not in held_out]
    val = [i for i, video in enumerate(clips.videos) if video in held_out]
    return clips.subset(train), clips.subset(val)


def collate(items: list[tuple[torch.Tensor, torch.Tensor]]) -> tuple[torch.Tensor, torch.Tensor]:
    """Stack items into ``b ...`` clips and ``b t`` PPG; clips of different sizes are named in the error."""
    shapes = sorted({tuple(clip.shape) for clip, _ in items})
    if len(shapes) > 1:
        raise ValueError(f"clips in one batch differ in shape: {shapes}; every clip must have the same size")
    return torch.stack([clip for clip, _ in items]), torch.stack([ppg for _, ppg in items])


def network_inputs(adapter: Adapter, clips: torch.Tensor, prepared: bool) -> torch.Tensor:
    """A batch of items in the adapter's `input_layout`: raw frames go through its recipe, toolbox-prepared
    clips only change layout."""
    return adapter.from_prepared(clips) if prepared else adapter.prepare(clips)


@torch.no_grad()
def model_chunks(clips: ClipSet, adapter: Adapter, run: Callable[[torch.Tensor], torch.Tensor],
                 labels: Callable[[torch.Tensor], torch.Tensor] = lambda ppg: ppg, *, batch_size: int = 4,
                 progress: Callable[[Iterable], Iterable] = lambda batches: batches) -> list[Chunk]:
    """Every clip through `run` (the adapter's input 'b ...' -> 'b t' rPPG), with its label 'b t' through
    `labels` (e.g. to the model's label form), as `Chunk`s that place each clip in its video."""
    device = next(adapter.parameters()).device
    chunks, start = [], 0
    for frames, ppg in progress(DataLoader(clips.dataset, batch_size=batch_size, collate_fn=collate)):
        rppg = run(network_inputs(adapter, frames.to(device), clips.prepared))
        items = range(start, start + ppg.shape[0])
        chunks += [Chunk(clips.videos[i], clips.chunks[i], prediction, label)
                   for i, prediction, label in zip(items, rppg.double().cpu().numpy(), labels(ppg).numpy())]
        start += ppg.shape[0]
    return chunks
