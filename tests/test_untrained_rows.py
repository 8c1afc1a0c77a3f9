"""The rows that train nothing: the no-pulse floor reads the training videos' median rate and scores every test
video as if it read that rate, through the same evaluation as the other rows."""

import dataclasses
import json

import numpy as np
import pytest
import torch
from torch.utils.data import Dataset

from codephys_plugin.benchmark import datasets
from codephys_plugin.benchmark.cli import run_benchmark
from codephys_plugin.benchmark.plots import network_figures
from codephys_plugin.benchmark.protocol import MAIN_METHODS, NO_PULSE
from codephys_plugin.benchmark.rendering import folder_jobs
from codephys_plugin.benchmark.untrained import median_rate, no_pulse_metrics, whole_videos
from codephys_plugin.data.clip_sets import ClipSet
from tests.test_benchmark import TOY

FS, SECONDS, CHUNKS = 30.0, 30.0, 2


class PulseVideos(Dataset):
    """Each video a flat grey clip whose label is a pulse at its rate with a weaker second harmonic (or, as
    DiffNormalized labels hold it, that pulse's derivative, in which the harmonic is the stronger), cut into CHUNKS
    chunks."""

    def __init__(self, rates_bpm, derivative=False):
        seconds = np.arange(int(FS * SECONDS)) / FS
        pulses = [np.sin(2 * np.pi * rate / 60 * seconds) + 0.7 * np.sin(4 * np.pi * rate / 60 * seconds)
                  for rate in rates_bpm]
        self.labels = [np.split(np.gradient(pulse) if derivative else pulse, CHUNKS) for pulse in pulses]

    def __len__(self):
        return len(self.labels) * CHUNKS

    def __getitem__(self, index):
        label = self.labels[index // CHUNKS][index % CHUNKS]
        return torch.full((label.size, 3, 2, 2), 128.0), torch.from_numpy(label)


def pulse_clips(rates_bpm, label_form="waveform") -> ClipSet:
    videos = tuple(f"video{index // CHUNKS}" for index in range(len(rates_bpm) * CHUNKS))
    chunks = tuple(index % CHUNKS for index in range(len(rates_bpm) * CHUNKS))
    return ClipSet(PulseVideos(rates_bpm, derivative=label_form == "derivative"), videos, chunks, prepared=False,
                   label_form=label_form, fs=FS)


def test_whole_videos_join_each_videos_chunks_in_order():
    joined = whole_videos(pulse_clips([60.0, 90.0]))
    assert [name for name, _, _ in joined] == ["video0", "video1"]
    name, frames, label = joined[1]
    assert frames.shape == (FS * SECONDS, 2, 2, 3) and label.size == FS * SECONDS
    seconds = np.arange(label.size) / FS
    np.testing.assert_allclose(label, np.sin(3 * np.pi * seconds) + 0.7 * np.sin(6 * np.pi * seconds), atol=1e-12)


@pytest.mark.parametrize("label_form", ["waveform", "derivative"])
def test_the_rates_are_read_from_the_labels_in_their_form(label_form):
    assert median_rate(pulse_clips([50.0, 60.0, 70.0], label_form)) == pytest.approx(60.0, abs=1.0), \
        "a derivative label is integrated first, or its harmonic reads as the rate"
    assert no_pulse_metrics(60.0, pulse_clips([60.0], label_form))["mae"] < 1.0


def test_the_floor_scores_each_video_by_its_distance_from_the_median_rate():
    rates = [66.0, 84.0, 111.0, 138.0]
    summary = no_pulse_metrics(96.0, pulse_clips(rates))
    assert summary["videos"] == 4 and summary["failed"] == 0
    assert summary["mae"] == pytest.approx(np.mean([abs(rate - 96.0) for rate in rates]), abs=1.0)
    assert np.isnan(summary["pearson"]), "a constant rate correlates with nothing"


def test_a_video_at_the_median_rate_is_read_exactly():
    assert no_pulse_metrics(90.0, pulse_clips([90.0]))["mae"] < 1.0


def test_the_floor_is_a_default_row_and_renders_the_raw_training_videos_it_reads(tmp_path):
    assert NO_PULSE in MAIN_METHODS
    raw_train = datasets.folder(tmp_path, datasets.RAW, TOY.frame_size, "train")
    with_floor = dataclasses.replace(TOY, methods=("pos", NO_PULSE))
    paths = lambda protocol: {datasets.folder(tmp_path, job.source, job.config.recipe.size, job.name)
                              for job in folder_jobs(protocol, tmp_path, [datasets.RAW])}
    assert raw_train in paths(with_floor)
    assert raw_train not in paths(dataclasses.replace(TOY, methods=("pos",))), "the classic methods read test videos"


def test_a_benchmark_with_the_floor_writes_its_cell_table_row_and_figure(tmp_path):
    protocol = dataclasses.replace(TOY, methods=("pos", NO_PULSE))
    table = run_benchmark(protocol, tmp_path / "work", tmp_path / "out", lambda: None, torch.device("cpu"))
    record = json.loads((tmp_path / "out" / "cells" / f"{NO_PULSE}.json").read_text())
    assert record["cell"] == {"network": None, "method": NO_PULSE, "seed": None}
    assert set(record["metrics"]) == set(protocol.conditions())
    assert all(metrics["videos"] == TOY.test_subjects and metrics["pearson"] is None
               for metrics in record["metrics"].values())
    assert f"| {NO_PULSE} |" in table
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    results["table"]["physnet bare"] = results["table"]["pos"]
    assert [path.name for path in network_figures(results, tmp_path)] == ["mae_vs_severity_physnet.png"]
