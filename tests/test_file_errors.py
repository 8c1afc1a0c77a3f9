"""A file we cannot use is named with what it really is: never torch's unsafe advice, never a bare errno."""

import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from codephys_plugin.adapters.checkpoint import CheckpointError, read_state_dict
from codephys_plugin.data.formats.csv_table import CsvOptions, read_csv_recording
from codephys_plugin.data.formats.numpy_array import load_array
from codephys_plugin.data.recording import RecordingError
from codephys_plugin.training.prepare import prepare_recording
from codephys_plugin.training.windows import WindowConfig


def _saved_checkpoint(path: Path) -> bytes:
    torch.save({"conv.weight": torch.zeros(1000), "conv.bias": torch.ones(5)}, path)
    return path.read_bytes()


def test_random_bytes_in_a_npy_are_not_called_pickled(tmp_path):
    path = tmp_path / "labels.npy"
    path.write_bytes(b"\xdae\x0f\x8c" + bytes(range(200)))
    with pytest.raises(RecordingError, match=r"labels.npy: not a numpy file: .npy files start with b'\\x93NUMPY'"):
        load_array(path)


def test_a_pickle_saved_as_npy_is_named_and_not_unpickled(tmp_path):
    path = tmp_path / "labels.npy"
    path.write_bytes(pickle.dumps([1.0, 2.0]))
    with pytest.raises(RecordingError, match="labels.npy: holds a pickled Python object, not a numpy array"):
        load_array(path)


@pytest.mark.parametrize("content", [b"garbage, not a checkpoint", pickle.dumps({"a": 1})])
def test_a_foreign_checkpoint_gets_no_advice_to_disable_weights_only(tmp_path, content):
    path = tmp_path / "model.pth"
    path.write_bytes(content)
    with pytest.raises(CheckpointError) as caught:
        read_state_dict(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: ")
    assert "weights_only=False" not in message and "will likely succeed" not in message


def test_a_checkpoint_holding_an_object_names_its_type(tmp_path):
    path = tmp_path / "model.pth"
    torch.save({"state_dict": {"w": torch.zeros(2)}, "run_dir": Path("runs")}, path)
    with pytest.raises(CheckpointError, match=r"holds a Python object of type pathlib\.\w*Path.*state_dict alone"):
        read_state_dict(path)


@pytest.mark.parametrize("fraction", [0.1, 0.5, 0.9])
def test_a_truncated_checkpoint_says_truncated(tmp_path, fraction):
    whole = _saved_checkpoint(tmp_path / "whole.pth")
    path = tmp_path / "cut.pth"
    path.write_bytes(whole[: int(len(whole) * fraction)])
    with pytest.raises(CheckpointError, match="cut.pth: not a readable torch checkpoint: .* truncated or damaged"):
        read_state_dict(path)


@pytest.mark.parametrize(("stamps", "unit"), [(np.arange(900) / 30.0, "ms"), (np.arange(900) * 33.3, "s")])
def test_timestamps_in_the_wrong_unit_point_at_time_unit(tmp_path, stamps, unit):
    path = tmp_path / "ppg.csv"
    signal = np.sin(2 * np.pi * 1.2 * np.arange(900) / 30.0)
    path.write_text("ts,ppg\n" + "".join(f"{t:.6f},{v:.6f}\n" for t, v in zip(stamps, signal)))
    recording = read_csv_recording(path, CsvOptions(column="ppg", time_column="ts", time_unit=unit))
    with pytest.raises(RecordingError, match=r"ppg.csv\[ppg\]: timestamps imply .* Hz, outside .*--time-unit"):
        prepare_recording(recording, WindowConfig(), "waveform")
