import numpy as np
import pytest
import torch

from codephys_plugin.data import SyntheticClipDataset, SyntheticVideoConfig, synthesize_clip
from codephys_plugin.heart_rate import hr_fft, prepare_for_hr, snr_db

TINY = SyntheticVideoConfig(frames=16, size=16)
LONG = SyntheticVideoConfig(frames=600, size=16)
"""20 s clips: a spectral resolution well under 3 bpm."""


def skin_and_background(frames: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Masks (h w) of the face interior and of the background, found from the mean green image."""
    mean_green = frames[:, 1].mean(dim=0).numpy()
    return mean_green > 0.8 * mean_green.max(), mean_green < mean_green.min() + 3


def test_shapes_dtypes_and_range():
    clip = synthesize_clip(SyntheticVideoConfig(), np.random.default_rng(0))
    assert clip.frames.shape == (161, 3, 72, 72) and clip.frames.dtype == torch.float32
    assert clip.ppg.shape == (160,) and clip.ppg.dtype == torch.float32
    assert 0 <= float(clip.frames.min()) and float(clip.frames.max()) <= 255
    assert 45 <= clip.hr_bpm <= 150


def test_dataset_is_deterministic_per_index():
    dataset = SyntheticClipDataset(5, TINY)
    frames, ppg = dataset[3]
    assert len(dataset) == 5 and frames.shape == (17, 3, 16, 16) and ppg.shape == (16,)
    again = SyntheticClipDataset(5, TINY)[3]
    torch.testing.assert_close(frames, again[0], rtol=0, atol=0)
    torch.testing.assert_close(ppg, again[1], rtol=0, atol=0)
    assert not torch.equal(frames, dataset[4][0])
    reseeded = SyntheticClipDataset(5, SyntheticVideoConfig(frames=16, size=16, seed=1))
    assert not torch.equal(frames, reseeded[3][0])


def test_dataset_rejects_bad_indices_and_counts():
    dataset = SyntheticClipDataset(2, TINY)
    with pytest.raises(IndexError, match="out of range"):
        dataset[2]
    with pytest.raises(ValueError, match="count"):
        SyntheticClipDataset(0, TINY)


def test_ppg_is_z_scored():
    ppg = SyntheticClipDataset(3, TINY)[0][1].double()
    assert abs(float(ppg.mean())) < 1e-5 and abs(float(ppg.std(unbiased=False)) - 1) < 1e-4


@pytest.mark.parametrize("index", range(4))
def test_skin_green_peaks_at_the_clip_hr_and_background_carries_no_pulse(index):
    clip = synthesize_clip(LONG, np.random.default_rng(index))
    skin, background = skin_and_background(clip.frames)
    assert skin.sum() > 40 and background.sum() > 40
    green = clip.frames[:, 1].numpy()
    skin_signal = prepare_for_hr(green[:, skin].mean(axis=1), LONG.fs)
    background_signal = prepare_for_hr(green[:, background].mean(axis=1), LONG.fs)
    assert abs(hr_fft(skin_signal, LONG.fs) - clip.hr_bpm) < 3.0
    assert snr_db(skin_signal, clip.hr_bpm, LONG.fs) > 3.0
    assert snr_db(background_signal, clip.hr_bpm, LONG.fs) < -3.0
    assert abs(np.corrcoef(green[:-1, background].mean(axis=1), clip.ppg)[0, 1]) < 0.2


def test_pulse_darkens_skin_mostly_in_green():
    clip = synthesize_clip(SyntheticVideoConfig(frames=300, size=16, noise_std=0.0), np.random.default_rng(1))
    skin, _ = skin_and_background(clip.frames)
    ppg = clip.ppg.numpy()
    slopes = [np.polyfit(ppg, clip.frames[:-1, c].numpy()[:, skin].mean(axis=1), 1)[0] for c in range(3)]
    assert all(slope < 0 for slope in slopes)
    np.testing.assert_allclose(np.array(slopes) / slopes[1], [0.33 / 0.77, 1.0, 0.53 / 0.77], rtol=0.02)


def test_interference_moves_the_face_and_drifts_the_light_without_changing_the_pulse():
    still = synthesize_clip(SyntheticVideoConfig(frames=120, size=32, noise_std=0.0), 5)
    moving = synthesize_clip(SyntheticVideoConfig(frames=120, size=32, noise_std=0.0, motion_px=4.0), 5)
    drifting = synthesize_clip(SyntheticVideoConfig(frames=120, size=32, noise_std=0.0, illumination_drift=0.1), 5)
    torch.testing.assert_close(still.ppg, moving.ppg, rtol=0, atol=0)
    torch.testing.assert_close(still.ppg, drifting.ppg, rtol=0, atol=0)

    def centroid_x(frames: torch.Tensor) -> np.ndarray:
        weight = frames[:, 1] - frames[:, 1].amin(dim=(1, 2), keepdim=True)
        return ((weight * torch.arange(32.0)).sum(dim=(1, 2)) / weight.sum(dim=(1, 2))).numpy()

    assert np.ptp(centroid_x(still.frames)) < 0.05 and np.ptp(centroid_x(moving.frames)) > 0.5
    corner = (slice(None), 1, 0, 0)
    assert float(still.frames[corner].std()) == 0 and float(drifting.frames[corner].std()) > 0.1


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"frames": 7}, "frames"),
        ({"size": 15}, "size"),
        ({"hr_range_bpm": (120.0, 60.0)}, "hr_range_bpm"),
        ({"hr_range_bpm": (0.0, 60.0)}, "hr_range_bpm"),
        ({"fs": 0.0}, "fs"),
        ({"fs": -30.0}, "fs"),
        ({"fs": 4.0}, "aliases"),
        ({"noise_std": -1.0}, "non-negative"),
        ({"illumination_drift": 1.0}, "illumination_drift"),
        ({"motion_px": 5.0, "size": 16}, "motion_px"),
        ({"seed": -1}, "seed"),
    ],
)
def test_bad_configs_raise(overrides, message):
    with pytest.raises(ValueError, match=message):
        SyntheticVideoConfig(**overrides)
