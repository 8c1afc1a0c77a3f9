import re
from pathlib import Path

import numpy as np
import pytest
import torch

from codephys_plugin.data import ToolboxClipDataset, find_toolbox_clips

T, C, H, W = 4, 3, 5, 7
TO_LAYOUT = {"NDHWC": (0, 2, 3, 1), "NDCHW": (0, 1, 2, 3), "NCDHW": (1, 0, 2, 3)}
"""Axis order that turns a (t c h w) array into each layout."""


def tchw(channels: int = C, frames: int = T, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((frames, channels, H, W)).astype(np.float32)


def write_chunk(directory: Path, video: str, chunk: int, inputs=None, label=None, *, layout: str = "NDHWC"):
    """Save a chunk pair the way the toolbox names it; `inputs` given as (t c h w) unless an ndarray of any shape."""
    inputs = tchw() if inputs is None else inputs
    if inputs.ndim == 4 and layout != "raw":
        inputs = np.transpose(inputs, TO_LAYOUT[layout])
    label = np.linspace(-1, 1, T) if label is None else label
    input_path, label_path = directory / f"{video}_input{chunk}.npy", directory / f"{video}_label{chunk}.npy"
    np.save(input_path, inputs)
    np.save(label_path, label)
    return input_path, label_path


def rejects(dataset: ToolboxClipDataset, path: Path, problem: str, error: type[Exception] = ValueError) -> None:
    with pytest.raises(error) as caught:
        dataset[0]
    message = str(caught.value)
    assert str(path) in message and re.search(problem, message), message


def test_pairs_and_orders_chunks_by_video_then_numeric_chunk(tmp_path):
    for video, chunk in [("subject2", 10), *(("subject2", k) for k in range(9, -1, -1)), ("subject10", 0)]:
        write_chunk(tmp_path, video, chunk)
    (tmp_path / "file_list.csv").write_text("input_files\n")
    clips = find_toolbox_clips(str(tmp_path))
    assert [(c.video, c.chunk) for c in clips] == [("subject10", 0), *(("subject2", k) for k in range(11))]
    last = clips[-1]
    assert last.input_path == tmp_path / "subject2_input10.npy" and last.label_path == tmp_path / "subject2_label10.npy"


def test_video_names_may_contain_underscores(tmp_path):
    write_chunk(tmp_path, "p1_T1_video", 3)
    (clip,) = find_toolbox_clips(tmp_path)
    assert (clip.video, clip.chunk) == ("p1_T1_video", 3)


def test_a_missing_partner_is_an_error_naming_the_file(tmp_path):
    input_path, label_path = write_chunk(tmp_path, "v", 0)
    label_path.unlink()
    with pytest.raises(FileNotFoundError, match=re.escape(str(input_path))):
        find_toolbox_clips(tmp_path)
    input_path.unlink()
    write_chunk(tmp_path, "v", 1)
    np.save(label_path, np.zeros(T))
    with pytest.raises(FileNotFoundError, match=re.escape(str(label_path))):
        find_toolbox_clips(tmp_path)


def test_an_empty_or_missing_directory_is_an_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="no rPPG-Toolbox input chunks"):
        find_toolbox_clips(tmp_path)
    with pytest.raises(FileNotFoundError, match="not a directory"):
        find_toolbox_clips(tmp_path / "absent")


@pytest.mark.parametrize("layout", ["NDHWC", "NDCHW", "NCDHW"])
@pytest.mark.parametrize("channels", [3, 6])
def test_every_layout_reads_as_t_c_h_w(tmp_path, layout, channels):
    expected = tchw(channels)
    label = np.arange(T, dtype=np.float64)
    write_chunk(tmp_path, "v", 0, expected, label, layout=layout)
    dataset = ToolboxClipDataset(find_toolbox_clips(tmp_path), layout=layout)
    inputs, got_label = dataset[0]
    assert len(dataset) == 1 and inputs.dtype == torch.float32 and got_label.dtype == torch.float32
    assert inputs.is_contiguous()
    torch.testing.assert_close(inputs, torch.from_numpy(expected), rtol=0, atol=0)
    torch.testing.assert_close(got_label, torch.arange(T, dtype=torch.float32), rtol=0, atol=0)


def test_the_default_layout_is_the_toolbox_on_disk_one_and_other_float_dtypes_are_cast(tmp_path):
    frames = np.random.default_rng(1).standard_normal((T, H, W, 3))
    write_chunk(tmp_path, "v", 0, frames, np.ones(T, dtype=np.float64), layout="raw")
    inputs, label = ToolboxClipDataset(find_toolbox_clips(tmp_path))[0]
    assert inputs.shape == (T, 3, H, W) and inputs.dtype == torch.float32 and label.dtype == torch.float32
    torch.testing.assert_close(inputs, torch.from_numpy(frames).permute(0, 3, 1, 2).float())


def dataset_with(tmp_path, inputs=None, label=None, *, layout="NDHWC", write_layout=None):
    paths = write_chunk(tmp_path, "v", 0, inputs, label, layout=write_layout or layout)
    return ToolboxClipDataset(find_toolbox_clips(tmp_path), layout=layout), *paths


@pytest.mark.parametrize(
    "read_as, written_as",
    [("NDCHW", "NCDHW"), ("NCDHW", "NDCHW"), ("NDCHW", "NDHWC"), ("NDHWC", "NCDHW")],
)
def test_a_chunk_in_another_layout_says_which_it_looks_like(tmp_path, read_as, written_as):
    dataset, input_path, _ = dataset_with(tmp_path, layout=read_as, write_layout=written_as)
    rejects(dataset, input_path, f"looks like {written_as}.*pass layout='{written_as}'")


def test_an_input_with_no_plausible_channel_axis_is_refused(tmp_path):
    dataset, input_path, _ = dataset_with(tmp_path, tchw(channels=4))
    rejects(dataset, input_path, r"c in \(3, 6\) for layout NDHWC, got shape \(4, 5, 7, 4\)$")


def test_an_input_that_is_not_4d_is_refused(tmp_path):
    dataset, input_path, _ = dataset_with(tmp_path, np.zeros((T, H, W), dtype=np.float32))
    rejects(dataset, input_path, r"expected a 4-D input chunk \(t h w c\)")


@pytest.mark.parametrize("label", [np.zeros((T, 1)), np.zeros((1, T))])
def test_a_label_that_is_not_1d_is_refused(tmp_path, label):
    dataset, _, label_path = dataset_with(tmp_path, label=label)
    rejects(dataset, label_path, r"expected a 1-D label \(t\)")


def test_a_label_of_another_length_is_refused(tmp_path):
    dataset, input_path, label_path = dataset_with(tmp_path, label=np.zeros(T + 1))
    rejects(dataset, label_path, f"label has {T + 1} samples but input {input_path.name} has {T} frames")


@pytest.mark.parametrize("bad", [np.nan, np.inf, 1e300])
def test_non_finite_inputs_are_refused(tmp_path, bad):
    inputs = tchw().astype(np.float64)
    inputs[2, 1, 3, 4] = bad
    dataset, input_path, _ = dataset_with(tmp_path, inputs)
    rejects(dataset, input_path, re.escape("1 non-finite value(s) (NaN or Inf), first at index (2, 3, 4, 1)"))


def test_non_finite_labels_are_refused(tmp_path):
    label = np.zeros(T)
    label[1] = -np.inf
    dataset, _, label_path = dataset_with(tmp_path, label=label)
    rejects(dataset, label_path, re.escape("first at index (1,)"))


def test_empty_arrays_are_refused(tmp_path):
    dataset, input_path, _ = dataset_with(tmp_path, np.zeros((0, 3, H, W), dtype=np.float32))
    rejects(dataset, input_path, "empty array")
    dataset, _, label_path = dataset_with(tmp_path, label=np.zeros(0))
    rejects(dataset, label_path, "empty array")


def test_pickled_arrays_are_never_unpickled(tmp_path):
    dataset, input_path, _ = dataset_with(tmp_path)
    np.save(input_path, np.array([{"frames": 1}], dtype=object), allow_pickle=True)
    rejects(dataset, input_path, "refusing to unpickle")


def test_other_unreadable_chunks_are_refused(tmp_path):
    dataset, input_path, label_path = dataset_with(tmp_path)
    np.save(label_path, np.array(["a"] * T))
    rejects(dataset, label_path, "expected real numbers")
    input_path.write_bytes(input_path.read_bytes()[:100])
    rejects(dataset, input_path, "cannot read array")
    np.savez(input_path.with_suffix(".npz"), frames=tchw())
    input_path.with_suffix(".npz").replace(input_path)
    rejects(dataset, input_path, r"\.npz archive")
    input_path.unlink()
    rejects(dataset, input_path, "not found", FileNotFoundError)


def test_bad_dataset_arguments(tmp_path):
    write_chunk(tmp_path, "v", 0)
    clips = find_toolbox_clips(tmp_path)
    with pytest.raises(ValueError, match="layout must be one of"):
        ToolboxClipDataset(clips, layout="NHWC")
    with pytest.raises(TypeError, match="ToolboxClip"):
        ToolboxClipDataset([str(clips[0].input_path)])
