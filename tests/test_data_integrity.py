"""Caches that would train or score silently wrong are refused up front, naming the file."""

from pathlib import Path

import numpy as np
import pytest

from codephys_plugin.data.clip_sets import toolbox_clips
from codephys_plugin.data.formats.toolbox_cache import read_toolbox_video
from codephys_plugin.data.recording import RecordingError
from codephys_plugin.data.sources import ReadOptions, iter_sources
from codephys_plugin.heart_rate.videos import Chunk, evaluate_videos
from tests.test_toolbox_clips import H, T, W, tchw, write_chunk


def test_stage1_refuses_to_join_toolbox_labels_over_a_missing_chunk(tmp_path):
    for chunk in (0, 2, 3):
        np.save(tmp_path / f"s1_label{chunk}.npy", np.diff(np.sin(np.arange(129) / 5.0)))
    with pytest.raises(RecordingError, match=r"s1_label1.npy: missing: video s1 has chunks before and after it"):
        list(iter_sources([str(tmp_path)], ReadOptions(format="toolbox", fs=30.0)))


def test_stage2_refuses_a_cache_with_a_missing_chunk(tmp_path):
    for chunk in (0, 2, 3):
        write_chunk(tmp_path, "s1", chunk)
    with pytest.raises(FileNotFoundError, match=r"s1_input1.npy: missing: video s1 has chunks before and after it"):
        toolbox_clips(tmp_path, layout="NDHWC", label_form="derivative", fs=30.0)


def test_evaluation_does_not_join_a_video_over_a_hole():
    wave = np.sin(2 * np.pi * 1.2 * np.arange(600) / 30.0)
    chunks = [Chunk("a", k, wave[k * 150 : (k + 1) * 150], wave[k * 150 : (k + 1) * 150]) for k in (0, 2, 3)]
    chunks += [Chunk("b", k, wave[k * 150 : (k + 1) * 150], wave[k * 150 : (k + 1) * 150]) for k in range(4)]
    report = evaluate_videos(chunks, 30.0, diff_normalized=False)
    assert [v.video for v in report.videos] == ["b"]
    assert report.failed == (("a", "chunk 1 is missing; a video is not joined over a hole"),)


def test_mixed_frame_sizes_are_refused_before_training_naming_the_file(tmp_path):
    write_chunk(tmp_path, "a", 0)
    write_chunk(tmp_path, "b", 0, np.zeros((T, 3, H + 2, W), dtype=np.float32))
    with pytest.raises(ValueError, match=rf"b_input0.npy: chunk of shape \({T}, 3, {H + 2}, {W}\) .* differs from a_input0.npy"):
        toolbox_clips(tmp_path, layout="NDHWC", label_form="derivative", fs=30.0)


def test_a_nan_chunk_anywhere_is_found_before_the_first_step(tmp_path):
    write_chunk(tmp_path, "a", 0)
    bad = tchw(seed=2)
    bad[1, 0, 0, 0] = np.nan
    write_chunk(tmp_path, "z", 7, bad)
    with pytest.raises(ValueError, match=r"z_input7.npy: 1 non-finite value"):
        toolbox_clips(tmp_path, layout="NDHWC", label_form="derivative", fs=30.0)


def test_integer_pixels_are_refused_with_the_recipe(tmp_path):
    write_chunk(tmp_path, "a", 0, np.random.default_rng(0).integers(0, 256, (T, H, W, 3), dtype=np.uint8), layout="raw")
    with pytest.raises(ValueError, match=r"a_input0.npy: integer pixels \(uint8\); .*DiffNormalized.*CodeQueryHead.predict"):
        toolbox_clips(tmp_path, layout="NDHWC", label_form="derivative", fs=30.0)


def test_integer_labels_are_not_taken_for_derivatives(tmp_path):
    write_chunk(tmp_path, "a", 0, label=np.arange(T, dtype=np.uint8))
    with pytest.raises(ValueError, match=r"a_label0.npy: integer labels cannot be DiffNormalized .*--labels waveform"):
        toolbox_clips(tmp_path, layout="NDHWC", label_form="derivative", fs=30.0)
    assert len(toolbox_clips(tmp_path, layout="NDHWC", label_form="waveform", fs=30.0)) == 1
    np.save(tmp_path / "v_label0.npy", (100 + 50 * np.sin(np.arange(300) / 5)).astype(np.uint8))
    with pytest.raises(RecordingError, match=r"v_label0.npy: integer labels .*--toolbox-labels waveform"):
        read_toolbox_video("v", [tmp_path / "v_label0.npy"], fs=30.0, form="derivative")
    assert read_toolbox_video("v", [tmp_path / "v_label0.npy"], fs=30.0, form="waveform").values.dtype == np.float64


def test_complex_arrays_are_refused(tmp_path):
    path = tmp_path / "ppg.npy"
    np.save(path, np.exp(1j * np.arange(300) / 5))
    with pytest.raises(RecordingError, match=r"ppg.npy: expected real numbers, got dtype complex128 \(complex: "):
        list(source() for source in iter_sources([str(path)], ReadOptions(format="numpy", fs=30.0)))
