"""Rendering a run's lab videos up front in parallel: every folder a cell reads, each once, the same videos."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch

from codephys_plugin.benchmark import cli, datasets
from codephys_plugin.benchmark.cells import Cell
from codephys_plugin.benchmark.cli import main, run_benchmark, video_sources
from codephys_plugin.benchmark.rendering import folder_jobs, render_folders
from codephys_plugin.video_lab.lab_dataset import DegradationRange, holds_dataset
from tests.test_benchmark import TOY

MILD = dataclasses.replace(TOY, train_degraded_copies=(DegradationRange("noise", 0.5, 0.5),))


def test_the_jobs_are_every_folder_the_cells_read_each_once(tmp_path):
    at_72 = dataclasses.replace(MILD, frame_size=72)
    jobs = folder_jobs(at_72, tmp_path, [datasets.RAW, "physnet", "physnet_pure"])
    network_folders = ["train", "train_mild_noise", "val", *(f"test_{c}" for c in at_72.conditions())]
    assert [job.name for job in jobs] == [f"test_{c}" for c in at_72.conditions()] + network_folders
    assert {job.source for job in jobs[len(at_72.conditions()):]} == {"physnet"}, \
        "physnet_pure shares physnet's recipe and its 72 px, so its folders are physnet's"
    assert len({datasets.folder(tmp_path, job.source, job.config.recipe.size, job.name) for job in jobs}) == len(jobs)


def test_videos_rendered_in_parallel_are_the_ones_a_cell_would_render_and_are_not_written_again(tmp_path):
    jobs = folder_jobs(MILD, tmp_path / "parallel", ["physnet"])
    rendered = render_folders(jobs, workers=2)
    assert [path for path, _ in rendered] == [str(datasets.folder(job.work, "physnet", job.config.recipe.size, job.name))
                                              for job in jobs]
    assert all(holds_dataset(path, job.config) for (path, _), job in zip(rendered, jobs))
    written = {path: (Path(path) / "manifest.json").stat().st_mtime_ns for path, _ in rendered}
    for split, condition in [("train", None), ("test", "noise@1.0")]:
        parallel = datasets.clips(tmp_path / "parallel", MILD, "physnet", split, condition)
        serial = datasets.clips(tmp_path / "serial", MILD, "physnet", split, condition)
        assert parallel.videos == serial.videos
        for index in (0, len(serial) - 1):
            (frames, label), (expected_frames, expected_label) = parallel.dataset[index], serial.dataset[index]
            torch.testing.assert_close(frames, expected_frames, rtol=0, atol=0)
            np.testing.assert_array_equal(np.asarray(label), np.asarray(expected_label))
    assert written == {path: (Path(path) / "manifest.json").stat().st_mtime_ns for path in written}, \
        "a cell reads the rendered folders as they are"


def test_the_sources_are_the_networks_still_to_run_and_raw_for_a_classic_method():
    todo = [Cell(None, "pos", None), Cell("physnet", "bare", 0), Cell("physnet", "head", 0), Cell("sspd", "bare", 1)]
    assert video_sources(todo) == [datasets.RAW, "physnet", "sspd"]


def test_a_run_with_render_workers_writes_its_videos_first_then_runs_its_cells(tmp_path, capsys):
    classic = dataclasses.replace(TOY, methods=("pos",))
    run_benchmark(classic, tmp_path / "work", tmp_path / "out", lambda: None, torch.device("cpu"), render_workers=2)
    printed = capsys.readouterr().out
    assert f"{len(classic.conditions())} video folders ready" in printed
    assert printed.index("video folders ready") < printed.index("pos: clean HR MAE")
    assert (tmp_path / "out" / "cells" / "pos.json").is_file()


def test_render_only_writes_the_videos_of_the_cells_still_to_run_and_nothing_else(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(cli.PRESETS, "cpu", dataclasses.replace(TOY, methods=("pos",)))
    assert main(["--work", str(tmp_path / "work"), "--out", str(tmp_path / "out"), "--render-only"]) == 0
    assert "2 video folders ready" in capsys.readouterr().out
    raw = [datasets.folder(tmp_path / "work", datasets.RAW, TOY.frame_size, f"test_{c}") for c in TOY.conditions()]
    assert all((folder / "manifest.json").is_file() for folder in raw)
    assert not (tmp_path / "out").exists()


def test_render_workers_must_be_positive(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["--work", str(tmp_path), "--out", str(tmp_path / "out"), "--render-workers", "0"])
    assert "--render-workers" in capsys.readouterr().err
    with pytest.raises(ValueError, match="workers must be at least 1"):
        render_folders([], workers=0)
