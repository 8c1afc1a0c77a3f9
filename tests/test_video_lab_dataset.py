"""codephys-synth: lab videos as rPPG-Toolbox caches (the toolbox's own preprocessing), with a manifest."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from codephys_plugin.adapters.input_recipes import bgr_residuals
from codephys_plugin.data.degradations import CameraNoise, degrade
from codephys_plugin.data.face_video import draw_subject, render_face_video
from codephys_plugin.data.toolbox_clips import ToolboxClipDataset, find_toolbox_clips
from codephys_plugin.heart_rate.estimate import hr_fft
from codephys_plugin.synth import main
from codephys_plugin.video_lab import lab_dataset
from codephys_plugin.video_lab.lab_dataset import (
    MANIFEST,
    DegradationRange,
    LabDatasetConfig,
    holds_dataset,
    lab_videos,
    write_lab_dataset,
)
from codephys_plugin.video_lab.toolbox_recipes import RECIPES, ToolboxRecipe, chunks, preprocess_video

SMALL = ToolboxRecipe(("DiffNormalized", "Standardized"), "DiffNormalized", 32, 40)


def small_config(**changes) -> LabDatasetConfig:
    return LabDatasetConfig(**{"recipe": SMALL, "subjects": 2, "videos_per_subject": 2, "seconds": 3.0, **changes})


def toolbox_diff_normalize(data: np.ndarray) -> np.ndarray:
    """BaseLoader.diff_normalize_data's steps, frame by frame, as the toolbox writes them."""
    out = np.zeros((len(data) - 1, *data.shape[1:]), dtype=np.float32)
    for j in range(len(data) - 1):
        out[j] = (data[j + 1] - data[j]) / (data[j + 1] + data[j] + 1e-7)
    out = out / np.std(out)
    return np.append(out, np.zeros((1, *data.shape[1:]), dtype=np.float32), axis=0)


def test_preprocessing_is_the_toolboxs_whole_video_recipe():
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, size=(50, 32, 32, 3), dtype=np.uint8)
    ppg = np.sin(np.linspace(0, 12, 50)) + 0.1 * rng.standard_normal(50)
    inputs, labels = preprocess_video(frames, ppg, SMALL)
    assert inputs.shape == (50, 32, 32, 6) and inputs.dtype == labels.dtype == np.float32
    raw = frames.astype(np.float64)
    np.testing.assert_allclose(inputs[..., :3], toolbox_diff_normalize(raw), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(inputs[..., 3:], (raw - raw.mean()) / raw.std(), rtol=1e-4, atol=1e-5)
    diff = np.diff(ppg)
    np.testing.assert_allclose(labels, np.append(diff / diff.std(), 0.0), rtol=1e-5, atol=1e-6)
    pieces = chunks(inputs, labels, 20)
    assert [len(label) for _, label in pieces] == [20, 20], "the tail is dropped, as the toolbox does"
    np.testing.assert_array_equal(pieces[1][0], inputs[20:40])
    flat, _ = preprocess_video(np.full((10, 32, 32, 3), 7, np.uint8), np.zeros(10), SMALL)
    assert np.all(flat == 0), "a flat video gives zeros (the toolbox's NaN → 0), not NaN"


def test_sspds_cache_holds_the_residuals_its_adapter_makes_from_raw_frames():
    """SSPD's repository feeds BGR frame differences in pixel units: the whole-video cache and the adapter's
    per-clip recipe must give the network the same numbers, or a cached run would train on other inputs."""
    rng = np.random.default_rng(1)
    frames = rng.integers(0, 256, size=(9, 32, 32, 3), dtype=np.uint8)
    frames[..., 0] = 200
    inputs, _ = preprocess_video(frames, np.sin(np.arange(9.0)), dataclasses.replace(RECIPES["sspd"], size=32))
    clip = torch.from_numpy(frames.astype(np.float32)).permute(0, 3, 1, 2)[None]
    residuals = bgr_residuals(clip)[0].permute(0, 2, 3, 1).numpy()
    np.testing.assert_array_equal(inputs[:-1], residuals)
    assert np.all(inputs[-1] == 0), "one zero step pads the video to one value per frame"
    assert np.all(inputs[:-1, ..., 2] == 0) and np.abs(inputs[..., 0]).max() > 100, "BGR order, pixel units"


def test_recipes_refuse_unknown_types_naming_both_lists():
    with pytest.raises(ValueError, match="label type among"):
        ToolboxRecipe(("DiffNormalized",), "BGRResiduals", 32, 40)
    with pytest.raises(ValueError, match="data types must be among"):
        ToolboxRecipe(("Residuals",), "DiffNormalized", 32, 40)


@pytest.mark.parametrize("frames, ppg, message", [
    (np.zeros((10, 16, 16, 3), np.uint8), np.zeros(10), r"expected \(t 32 32 3\)"),
    (np.zeros((10, 32, 32, 3), np.uint8), np.zeros(9), r"one sample per frame, shape \(10,\)"),
])
def test_preprocessing_refuses_frames_of_the_wrong_recipe(frames, ppg, message):
    with pytest.raises(ValueError, match=message):
        preprocess_video(frames, ppg, SMALL)


def test_written_cache_is_read_as_a_toolbox_cache_and_keeps_the_pulse(tmp_path):
    config = small_config(subjects=2, videos_per_subject=1, seconds=12.0, recipe=RECIPES["physnet"])
    manifest = write_lab_dataset(config, tmp_path / "lab")
    clips = find_toolbox_clips(tmp_path / "lab")
    assert len(clips) == 2 * config.chunks_per_video == 4
    dataset = ToolboxClipDataset(clips)
    dataset.validate("derivative")
    inputs, label = dataset[0]
    assert inputs.shape == (128, 3, 72, 72) and label.shape == (128,)
    video = manifest["videos"][0]
    chunk = video["chunks"][0]
    waveform = np.cumsum(np.load(tmp_path / "lab" / chunk["label"]))
    assert abs(hr_fft(waveform - waveform.mean(), 30.0) - chunk["hr_bpm"]) < 3.0
    green = -np.load(tmp_path / "lab" / chunk["input"])[..., 1].mean(axis=(1, 2))
    correlation = np.corrcoef(np.cumsum(green), waveform)[0, 1]
    assert correlation > 0.8, "the frames carry the labelled pulse, with the label's timing"


def test_dataset_is_determined_by_seed_and_indices(tmp_path):
    first = write_lab_dataset(small_config(), tmp_path / "a")
    write_lab_dataset(small_config(), tmp_path / "b")
    for name in sorted(path.name for path in (tmp_path / "a").glob("*.npy")):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    tail = write_lab_dataset(small_config(subjects=1, first_subject=1), tmp_path / "c")
    assert [video["video"] for video in tail["videos"]] == ["s001v00", "s001v01"]
    for name in ("s001v01_input0.npy", "s001v01_label0.npy"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "c" / name).read_bytes(), "a subject range is a slice"
    other = write_lab_dataset(small_config(seed=1), tmp_path / "d")
    assert other["videos"][0]["skin_rgb"] != first["videos"][0]["skin_rgb"]


def test_videos_are_the_lab_renders_with_their_degradations():
    config = small_config(subjects=1, videos_per_subject=1, degradations=(DegradationRange("noise", 0.4, 0.4),))
    (video,) = lab_videos(config)
    rng = np.random.default_rng([0, 1, 0, 0])
    subject = draw_subject(np.random.default_rng([0, 0, 0]))
    rng.uniform(0, 0), rng.uniform(0.4, 0.4)  # the video's draws before rendering: HR drift, noise severity
    clean = render_face_video(config.video_config(), subject, rng)
    np.testing.assert_array_equal(video.clip.frames, degrade(clean.frames, [CameraNoise(severity=0.4)], rng))
    np.testing.assert_array_equal(video.clip.ppg, clean.ppg)


def test_manifest_records_the_truth_of_every_video(tmp_path):
    config = small_config(degradations=(DegradationRange("noise", 0.2, 0.6), DegradationRange("compression", 1.0, 1.0)),
                          hr_range_bpm=(70.0, 100.0), hr_step_bpm=(10.0, 20.0), seconds=4.0)
    write_lab_dataset(config, tmp_path / "lab", command=["codephys-synth", "--seed", "0"])
    manifest = json.loads((tmp_path / "lab" / MANIFEST).read_text())
    assert manifest["complete"] and manifest["labels"] == "derivative" and manifest["layout"] == "NDHWC"
    assert manifest["command"] == ["codephys-synth", "--seed", "0"] and manifest["config"]["seed"] == 0
    assert len(manifest["videos"]) == 4 and {video["subject"] for video in manifest["videos"]} == {0, 1}
    for video in manifest["videos"]:
        assert 1 <= video["fitzpatrick"] <= 6 and len(video["skin_rgb"]) == 3
        assert 10 <= abs(video["hr_change"]["step_bpm"]) <= 20
        names = [applied["name"] for applied in video["degradations"]]
        severities = [applied["severity"] for applied in video["degradations"]]
        assert names == ["noise", "compression"] and 0.2 <= severities[0] <= 0.6 and severities[1] == 1.0
        assert len(video["chunks"]) == config.chunks_per_video == 3
        for chunk in video["chunks"]:
            assert (tmp_path / "lab" / chunk["input"]).is_file() and 40 < chunk["hr_bpm"] < 130
    assert len({video["degradations"][0]["severity"] for video in manifest["videos"]}) == 4, "drawn per video"


def test_output_folder_rules_lose_nothing(tmp_path):
    out = tmp_path / "lab"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="not empty and holds no manifest.json"):
        write_lab_dataset(small_config(), out)
    (out / "notes.txt").unlink()
    write_lab_dataset(small_config(), out)
    (out / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="pass --overwrite"):
        write_lab_dataset(small_config(), out)
    np.save(out / "other_input0.npy", np.zeros(3))
    with pytest.raises(ValueError, match="does not list .*other_input0.npy"):
        write_lab_dataset(small_config(), out, overwrite=True)
    (out / "other_input0.npy").unlink()
    manifest = write_lab_dataset(small_config(subjects=1, videos_per_subject=1), out, overwrite=True)
    assert (out / "notes.txt").read_text() == "mine", "a file the tool did not write survives --overwrite"
    assert sorted(path.name for path in out.glob("*.npy")) == sorted(
        name for chunk in manifest["videos"][0]["chunks"] for name in (chunk["input"], chunk["label"]))


def test_an_interrupted_run_is_marked_incomplete_and_replaced(tmp_path, monkeypatch):
    calls = []

    def fail_on_second(video, config, out):
        if calls:
            raise KeyboardInterrupt
        calls.append(video.name)
        return original(video, config, out)

    original = lab_dataset._write_video
    monkeypatch.setattr(lab_dataset, "_write_video", fail_on_second)
    with pytest.raises(KeyboardInterrupt):
        write_lab_dataset(small_config(), tmp_path / "lab")
    manifest = json.loads((tmp_path / "lab" / MANIFEST).read_text())
    assert not manifest["complete"] and [video["video"] for video in manifest["videos"]] == calls
    assert not holds_dataset(tmp_path / "lab", small_config()), "an interrupted run is not a dataset to reuse"
    monkeypatch.setattr(lab_dataset, "_write_video", original)
    assert write_lab_dataset(small_config(), tmp_path / "lab", overwrite=True)["complete"]
    assert holds_dataset(tmp_path / "lab", small_config())
    assert not holds_dataset(tmp_path / "lab", small_config(first_subject=5)), "other videos' folder is not reused"
    assert not holds_dataset(tmp_path / "elsewhere", small_config())


def test_space_is_checked_before_writing(tmp_path, monkeypatch):
    class Usage:
        free = 1000

    monkeypatch.setattr(lab_dataset.shutil, "disk_usage", lambda path: Usage())
    with pytest.raises(ValueError, match=r"needs 0.01 GB and .* has 0.00 GB free; use fewer"):
        write_lab_dataset(small_config(), tmp_path / "lab")
    assert not (tmp_path / "lab").exists()


@pytest.mark.parametrize("changes, message", [
    ({"seconds": 1.0}, "gives 30 frames, fewer than one chunk of 40"),
    ({"hr_step_bpm": (10.0, 30.0)}, r"reaches 20-180 bpm.*narrow --hr-range"),
    ({"subjects": 0}, "subjects and videos_per_subject must be ≥ 1"),
])
def test_bad_configs_are_refused(changes, message):
    with pytest.raises(ValueError, match=message):
        small_config(**changes)


def test_unknown_degradations_and_severities_are_refused():
    with pytest.raises(ValueError, match="expected one of defocus, noise"):
        DegradationRange("fog", 0.1, 0.1)
    with pytest.raises(ValueError, match="0 ≤ low ≤ high ≤ 1"):
        DegradationRange("noise", 0.5, 1.5)


def test_command_line(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for option in ("--recipe", "--degrade", "--first-subject", "--hr-step", "--periodic-hz", "motion_blur", "(default: physnet)"):
        assert option in text
    out = tmp_path / "lab"
    assert main(["--out", str(out), "--recipe", "deepphys", "--size", "32", "--chunk-length", "30", "--subjects", "2",
                 "--seconds", "2", "--degrade", "noise=0:0.5", "--translation", "1", "--mouth", "0.5", "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "wrote 2 videos of 2 subjects, 4 chunks of 30 frames (DiffNormalized+Standardized, 32 px)" in printed
    assert f"codephys-train --cache {out} --fs 30 --labels derivative" in printed
    assert np.load(out / "s001v00_input1.npy").shape == (30, 32, 32, 6)
    assert main(["--out", str(out), "--no-progress"]) == 2
    assert "pass --overwrite" in capsys.readouterr().err


@pytest.mark.parametrize("value, message", [
    ("fog=0.5", "'fog': expected one of defocus"),
    ("noise", "NAME one of defocus"),
    ("noise=2", r"0 ≤ low ≤ high ≤ 1, got 2.0:2.0"),
    ("noise=a:b", "NAME one of defocus"),
])
def test_bad_degradation_options_stop_the_parser(value, message, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--out", str(tmp_path / "lab"), "--degrade", value])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "lab").exists()
