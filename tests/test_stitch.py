"""Overlapping windows are joined with every sample once, in validation as anywhere."""

import numpy as np
import pytest

from codephys_plugin.heart_rate.videos import Chunk, evaluate_videos
from codephys_plugin.rppg.stitch import stitch_windows

FS = 30.0


def windows_of(signal: np.ndarray, window: int, hop: int) -> list[tuple[int, np.ndarray]]:
    return [(start, signal[start:start + window]) for start in range(0, signal.size - window + 1, hop)]


def test_overlapping_windows_give_back_the_signal_in_any_order():
    signal = np.random.default_rng(0).standard_normal(400)
    pieces = windows_of(signal, 160, 60)[::-1]
    pieces.append((240, signal[240:400]))
    np.testing.assert_allclose(stitch_windows(*zip(*pieces)), signal[:400])


def test_overlaps_are_averaged():
    np.testing.assert_allclose(stitch_windows([0, 2], [np.ones(4), 3 * np.ones(4)]), [1, 1, 2, 2, 3, 3])


@pytest.mark.parametrize("starts, windows, message", [
    ([0, 10], [np.ones(5), np.ones(5)], "sample 5 is covered by no window"),
    ([-1], [np.ones(5)], "starts must be ≥ 0"),
    ([0], [], "one start per window"),
])
def test_holes_and_bad_starts_are_refused(starts, windows, message):
    with pytest.raises(ValueError, match=message):
        stitch_windows(starts, windows)


def test_overlapping_validation_chunks_are_evaluated_without_repeated_samples():
    t = np.arange(900) / FS
    pulse = np.sin(2 * np.pi * 1.3 * t) + 0.3 * np.sin(2 * np.pi * 2.6 * t + 0.4)
    pieces = windows_of(pulse, 160, 80)
    by_start = [Chunk("v", k, window, window, start=start) for k, (start, window) in enumerate(pieces)]
    by_index = [Chunk("v", k, window, window) for k, (_, window) in enumerate(pieces)]
    whole = evaluate_videos([Chunk("v", 0, pulse[:880], pulse[:880])], FS, diff_normalized=False)
    stitched = evaluate_videos(by_start, FS, diff_normalized=False)
    repeated = evaluate_videos(by_index, FS, diff_normalized=False)
    assert stitched.videos[0].samples == whole.videos[0].samples == 880
    assert stitched.videos[0].hr_pred == pytest.approx(whole.videos[0].hr_pred)
    assert repeated.videos[0].samples == 160 * len(pieces) > 880, "joined by index, the overlaps repeat"
    holed = evaluate_videos([c for c in by_start if c.index != 3 and c.index != 4], FS, diff_normalized=False)
    assert holed.failed and "covered by no window" in holed.failed[0][1]
