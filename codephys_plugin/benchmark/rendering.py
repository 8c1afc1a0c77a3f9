"""A run's lab videos written up front in parallel, one folder per process: the benchmark otherwise renders each
folder when a cell first reads it, in its own process, which leaves a many-core GPU machine's cores idle while
the GPU waits (the full preset's 480 videos: 34.5 s in 12 processes on the lent H200's host)."""

from __future__ import annotations

import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import torch

from codephys_plugin.benchmark import datasets
from codephys_plugin.benchmark.protocol import NO_PULSE, Protocol
from codephys_plugin.video_lab import LabDatasetConfig


@dataclass(frozen=True)
class FolderJob:
    work: Path
    source: str
    """A network, or datasets.RAW for the classic methods."""
    name: str
    config: LabDatasetConfig


def folder_jobs(protocol: Protocol, work: Path, sources: list[str]) -> list[FolderJob]:
    """Every folder the sources' cells read (training, validation and each test condition for a network; the test
    conditions for RAW, and its training split when the no-pulse floor, which reads its rates, is a chosen row),
    each once: networks of one recipe and size share their folders."""
    jobs: dict[Path, FolderJob] = {}
    for source in sources:
        splits = [("test", condition) for condition in protocol.conditions()]
        if source != datasets.RAW:
            splits = [("train", None), ("val", None), *splits]
        elif NO_PULSE in protocol.methods:
            splits = [("train", None), *splits]
        for split, condition in splits:
            for name, config in datasets.split_folders(protocol, source, split, condition).items():
                path = datasets.folder(work, source, config.recipe.size, name)
                jobs.setdefault(path, FolderJob(work, source, name, config))
    return list(jobs.values())


def render_folders(jobs: list[FolderJob], workers: int) -> list[tuple[str, float]]:
    """Write the folders not already complete, `workers` at a time, each process single-threaded; returns each
    folder's path and seconds (≈ 0 for one already complete)."""
    if workers < 1:
        raise ValueError(f"render_folders: workers must be at least 1, got {workers}")
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=context, initializer=torch.set_num_threads, initargs=(1,)) as pool:
        return list(pool.map(_render, jobs))


def _render(job: FolderJob) -> tuple[str, float]:
    started = time.perf_counter()
    path = datasets.ensure(job.work, job.source, job.config, job.name)
    return str(path), round(time.perf_counter() - started, 1)
