"""The benchmark's videos on disk: one toolbox cache per network recipe and split or test condition, written
once by the video lab and reused by every row and seed (a finished folder's manifest says so)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from codephys_plugin.benchmark.protocol import CLEAN, FIRST_SUBJECT, Protocol, architecture, parse_condition
from codephys_plugin.data.clip_sets import ClipSet, concatenate, toolbox_clips
from codephys_plugin.video_lab import RECIPES, LabDatasetConfig, write_lab_dataset
from codephys_plugin.video_lab.lab_dataset import DegradationRange, holds_dataset

RAW = "raw"
"""The recipe of the classic methods: pixel levels, as the toolbox's unsupervised methods read them."""


def recipe_name(network: str) -> str:
    return RAW if network == RAW else architecture(network)


def dataset_config(protocol: Protocol, network: str, split: str, condition: str | None = None) -> LabDatasetConfig:
    """The lab videos of a split for `network` (or RAW): its toolbox recipe at its benchmark frame size."""
    size = protocol.frame_size if network == RAW else protocol.size_of(network)
    recipe = dataclasses.replace(RECIPES[recipe_name(network)], size=size, chunk_length=protocol.chunk_length)
    subjects = {"train": protocol.train_subjects, "val": protocol.val_subjects, "test": protocol.test_subjects}[split]
    degradations = protocol.train_degradations if split == "train" else ()
    degraded = parse_condition(condition) if condition is not None else None
    if degraded is not None:
        degradations = (DegradationRange(degraded[0], degraded[1], degraded[1]),)
    elif condition == CLEAN and protocol.paired_clean and protocol.degradations:
        degradations = (DegradationRange(protocol.degradations[0], 0.0, 0.0),)
    return LabDatasetConfig(recipe=recipe, subjects=subjects, first_subject=FIRST_SUBJECT[split],
                            seconds=protocol.seconds, fs=protocol.fs, degradations=degradations)


def degraded_copies(protocol: Protocol, network: str) -> dict[str, LabDatasetConfig]:
    """The clean-plus-mild protocol's extra training videos, by folder name: the training subjects again,
    split evenly among `train_degraded_copies`, each group rendered under its one degradation."""
    clean = dataset_config(protocol, network, "train")
    groups = np.array_split(np.arange(protocol.train_subjects), max(1, len(protocol.train_degraded_copies)))
    return {f"train_mild_{spec.name}": dataclasses.replace(clean, subjects=len(group), degradations=(spec,),
                                                           first_subject=clean.first_subject + int(group[0]))
            for spec, group in zip(protocol.train_degraded_copies, groups)}


def folder(work: Path, network: str, size: int, name: str) -> Path:
    """One folder per recipe and size: the toolbox's trained PhysNets share their videos."""
    return work / "data" / f"{recipe_name(network)}_{size}px" / name


def ensure(work: Path, network: str, config: LabDatasetConfig, name: str) -> Path:
    """The folder `name` holding the videos of `config`, written unless it already holds exactly these."""
    out = folder(work, network, config.recipe.size, name)
    if not holds_dataset(out, config):
        write_lab_dataset(config, out, overwrite=True)
    return out


def split_folders(protocol: Protocol, network: str, split: str, condition: str | None = None) -> dict[str, LabDatasetConfig]:
    """The folders a split (or test condition) is read from, by name: its own, and for the training split the
    protocol's degraded copies."""
    folders = {split if condition is None else f"{split}_{condition}": dataset_config(protocol, network, split, condition)}
    if split == "train":
        folders.update(degraded_copies(protocol, network))
    return folders


def clips(work: Path, protocol: Protocol, network: str, split: str, condition: str | None = None) -> ClipSet:
    """The clips of a split (or test condition): DiffNormalized labels for the networks, waveforms for the
    raw recipe; the training split gains the protocol's degraded copies, their videos named '<copy>/<video>'."""
    label_form = "waveform" if network == RAW else "derivative"
    folders = split_folders(protocol, network, split, condition)
    parts = [toolbox_clips(ensure(work, network, config, name), layout="NDHWC", label_form=label_form, fs=protocol.fs)
             for name, config in folders.items()]
    if len(parts) == 1:
        return parts[0]
    return concatenate(parts, ["", *(f"{name}/" for name in list(folders)[1:])])
