"""Stage II data plumbing: clip sets and splits, prepared clips per adapter, and per-video evaluation."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from codephys_plugin.adapters import SSPD, DeepPhys, EfficientPhys, HookAdapter, PhysFormer, PhysNet, adapter_for
from codephys_plugin.data.clip_sets import ClipSet, collate, concatenate, split_by_video, synthetic_clips
from codephys_plugin.data.synthetic_video import SyntheticVideoConfig
from codephys_plugin.heart_rate import evaluate_window
from codephys_plugin.heart_rate.videos import Chunk, evaluate_videos

FS = 30.0


class Items(torch.utils.data.Dataset):
    def __init__(self, count: int) -> None:
        self.count = count

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, index: int):
        return torch.full((4, 3, 2, 2), float(index)), torch.full((4,), float(index))


def test_split_by_video_keeps_every_chunk_of_a_video_together():
    videos = tuple(f"v{i // 3}" for i in range(15))
    clips = ClipSet(Items(15), videos, tuple(i % 3 for i in range(15)), True, "derivative", FS)
    train, val = split_by_video(clips, 0.4, seed=1)
    assert set(train.videos).isdisjoint(val.videos)
    assert len(set(val.videos)) == 2 and len(train) + len(val) == 15
    assert all(train.videos.count(v) == 3 for v in set(train.videos))
    frames, ppg = val.dataset[0]
    assert int(ppg[0]) // 3 == int(val.videos[0][1:])


def test_split_needs_two_videos_and_a_fraction_below_one():
    clips = ClipSet(Items(3), ("a",) * 3, (0, 1, 2), True, "waveform", FS)
    with pytest.raises(ValueError, match="at least two videos"):
        split_by_video(clips, 0.2, seed=0)
    two = ClipSet(Items(2), ("a", "b"), (0, 0), True, "waveform", FS)
    with pytest.raises(ValueError, match="fraction"):
        split_by_video(two, 1.0, seed=0)


def test_clip_set_validates_its_fields():
    with pytest.raises(ValueError, match="3 items, 2 video names"):
        ClipSet(Items(3), ("a", "b"), (0, 0), True, "waveform", FS)
    with pytest.raises(ValueError, match="label_form"):
        ClipSet(Items(1), ("a",), (0,), True, "diff", FS)
    with pytest.raises(ValueError, match="sampling rate"):
        ClipSet(Items(1), ("a",), (0,), True, "waveform", float("nan"))


def test_concatenated_clip_sets_keep_their_items_in_order_and_their_videos_apart():
    first = ClipSet(Items(2), ("a", "a"), (0, 1), True, "derivative", FS)
    second = ClipSet(Items(3), ("a", "b", "b"), (0, 0, 1), True, "derivative", FS)
    joined = concatenate([first, second], ["", "copy/"])
    assert joined.videos == ("a", "a", "copy/a", "copy/b", "copy/b") and joined.chunks == (0, 1, 0, 0, 1)
    assert [int(joined.dataset[i][1][0]) for i in range(5)] == [0, 1, 0, 1, 2]
    assert joined.fingerprint() != concatenate([second, first], ["copy/", ""]).fingerprint()
    with pytest.raises(ValueError, match="share a \\(video, chunk\\)"):
        concatenate([first, second], ["", ""])
    with pytest.raises(ValueError, match="differ in \\(prepared, label_form, fs\\)"):
        concatenate([first, ClipSet(Items(1), ("c",), (0,), True, "waveform", FS)], ["", "x/"])
    with pytest.raises(ValueError, match="one prefix per clip set"):
        concatenate([first], [])


def test_synthetic_sets_with_other_seeds_are_different_videos():
    config = SyntheticVideoConfig(frames=16, size=16)
    train, val = synthetic_clips(3, config), synthetic_clips(2, SyntheticVideoConfig(frames=16, size=16, seed=1))
    assert set(train.videos).isdisjoint(val.videos)
    assert not train.prepared and train.label_form == "waveform" and train.clip_length() == 16
    assert not torch.equal(train.dataset[0][0], val.dataset[0][0])


def test_collate_names_mismatched_clip_sizes():
    with pytest.raises(ValueError, match=r"differ in shape: \[\(4, 3, 2, 2\), \(5, 3, 2, 2\)\]"):
        collate([(torch.zeros(4, 3, 2, 2), torch.zeros(4)), (torch.zeros(5, 3, 2, 2), torch.zeros(5))])


@pytest.mark.parametrize(
    "build, channels, size, expected",
    [
        (lambda: DeepPhys(img_size=72), 6, 72, (2, 8, 6, 72, 72)),
        (lambda: EfficientPhys(img_size=72, frame_depth=4), 3, 72, (2, 9, 3, 72, 72)),
        (lambda: PhysFormer(image_size=(8, 128, 128)), 3, 128, (2, 3, 8, 128, 128)),
        (lambda: PhysNet(frames=8), 3, 32, (2, 3, 8, 32, 32)),
        (SSPD, 3, 128, (2, 3, 8, 128, 128)),
    ],
)
def test_prepared_clips_become_each_networks_input(build, channels, size, expected):
    adapter = adapter_for(build())
    clips = torch.randn(2, 8, channels, size, size)
    inputs = adapter.from_prepared(clips)
    assert inputs.shape == expected
    adapter.eval()
    with torch.no_grad():
        assert adapter(inputs).temporal.shape[2] == 8 // adapter.time_stride
    assert adapter.frame_size in (None, size)


def test_efficientphys_prepared_clips_end_with_a_zero_difference():
    adapter = adapter_for(EfficientPhys(img_size=72, frame_depth=4))
    clips = torch.randn(1, 8, 3, 72, 72)
    inputs = adapter.from_prepared(clips)
    assert torch.equal(inputs[:, :8], clips) and torch.equal(inputs[:, 8], clips[:, 7])


def test_a_hooked_model_does_not_guess_how_prepared_clips_fit():
    adapter = HookAdapter(nn.Sequential(nn.Conv3d(3, 4, 1)), layer="0")
    with pytest.raises(NotImplementedError, match="HookAdapter does not know how prepared clips"):
        adapter.from_prepared(torch.zeros(1, 4, 3, 2, 2))


def pulse(rate_hz: float, start: int, steps: int) -> np.ndarray:
    return np.sin(2 * np.pi * rate_hz * (np.arange(start, start + steps) / FS))


def test_videos_are_rebuilt_in_chunk_order_and_evaluated_whole():
    rng = np.random.default_rng(0)
    chunks = []
    for video, rate in (("a", 1.1), ("b", 1.6), ("c", 2.2)):
        for index in (2, 0, 1):  # out of order on purpose
            label = pulse(rate, 160 * index, 160)
            chunks.append(Chunk(video, index, label + 0.3 * rng.standard_normal(160), label))
    report = evaluate_videos(chunks, FS, diff_normalized=False)
    assert [v.video for v in report.videos] == ["a", "b", "c"] and not report.failed
    a = sorted((c for c in chunks if c.video == "a"), key=lambda c: c.index)
    whole = evaluate_window(np.concatenate([c.prediction for c in a]), np.concatenate([c.label for c in a]), FS)
    assert report.videos[0].hr_pred == whole.hr_pred and report.videos[0].samples == 480
    assert report.metrics.n == 3 and report.metrics.mae < 2.0
    assert report.summary()["videos"] == 3 and np.isfinite(report.summary()["snr_db"])


def test_an_unmeasurable_video_is_reported_not_dropped():
    good = Chunk("good", 0, pulse(1.5, 0, 160), pulse(1.5, 0, 160))
    flat = Chunk("flat", 0, np.zeros(160), pulse(1.5, 0, 160))
    report = evaluate_videos([good, flat], FS, diff_normalized=False)
    assert [v.video for v in report.videos] == ["good"]
    assert report.failed[0][0] == "flat" and "flat" in report.failed[0][1]
    only_flat = evaluate_videos([flat], FS, diff_normalized=False)
    assert only_flat.metrics is None and np.isnan(only_flat.summary()["mae"]) and only_flat.summary()["failed"] == 1


def test_the_hr_band_reaches_the_per_video_evaluation():
    """A prediction whose strongest peak is 41 bpm (below 0.75 Hz) beside a weaker 72-bpm pulse, as
    one real DeepPhys output on UBFC: 0.6-3.3 Hz reads 41 bpm, the toolbox paper's 0.75-2.5 Hz reads 72."""
    label = pulse(1.2, 0, 900)
    prediction = 4.0 * pulse(41 / 60, 0, 900) + label
    chunks = [Chunk("subject", 0, prediction, label)]
    wide = evaluate_videos(chunks, FS, diff_normalized=False)
    narrow = evaluate_videos(chunks, FS, diff_normalized=False, low=0.75, high=2.5)
    assert wide.videos[0].hr_pred == pytest.approx(41.0, abs=1.0)
    assert narrow.videos[0].hr_pred == pytest.approx(72.0, abs=1.0)
    assert narrow.metrics.mae < 1.0 < wide.metrics.mae
