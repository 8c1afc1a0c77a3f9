"""The skin-reflection face videos: deterministic, physically signed, pulse only on skin, readable by POS."""

import numpy as np
import pytest

from codephys_plugin.baselines import BASELINES, rgb_trace
from codephys_plugin.data.face_video import FaceVideoConfig, HeadMotion, draw_subject, render_face_video
from codephys_plugin.heart_rate import hr_fft, prepare_for_hr

FS = 30.0


def clip_for(seed: int, **config):
    rng = np.random.default_rng(seed)
    return render_face_video(FaceVideoConfig(**config), draw_subject(rng), rng)


def test_a_seed_gives_the_same_clip_and_another_seed_another():
    first, again, other = clip_for(3, frames=40), clip_for(3, frames=40), clip_for(4, frames=40)
    assert first.frames.dtype == np.uint8 and first.frames.shape == (40, 72, 72, 3)
    np.testing.assert_array_equal(first.frames, again.frames)
    np.testing.assert_array_equal(first.ppg, again.ppg)
    assert not np.array_equal(first.frames, other.frames)


def test_subjects_span_the_skin_types():
    kinds = {draw_subject(np.random.default_rng(seed)).fitzpatrick for seed in range(60)}
    assert kinds == {1, 2, 3, 4, 5, 6}


def test_the_pulse_is_on_the_skin_with_the_physical_sign_and_nowhere_else():
    """A still head under constant light and no sensor noise: skin pixels follow minus the PPG; background
    pixels never change."""
    clip = clip_for(5, frames=300, sensor_noise=0.0)
    video = clip.frames.astype(np.float64)
    skin_green = rgb_trace(clip.frames, clip.skin_mask)[:, 1]
    assert np.corrcoef(skin_green, clip.ppg)[0, 1] < -0.9
    background = np.ones(clip.skin_mask.shape[1:], dtype=bool)
    background[8:-8, 8:-8] = False
    assert np.ptp(video[:, background], axis=0).max() == 0
    green_p2p = np.ptp(skin_green)
    assert 0.1 < green_p2p < 2.5, "a realistic pulse: about 0.5-2 levels at the forehead and cheeks, less elsewhere"


@pytest.mark.slow
def test_classic_methods_read_clean_thirty_second_videos():
    """POS and CHROM within 2 bpm of the label's FFT HR on at least 95 % of clean 30-s videos."""
    errors = {name: [] for name in ("pos", "chrom")}
    for seed in range(20):
        clip = clip_for(100 + seed, frames=900, motion=HeadMotion(translation_px=1.0, rotation_deg=2.0))
        trace = rgb_trace(clip.frames, clip.skin_mask)
        truth = hr_fft(prepare_for_hr(clip.ppg, FS), FS)
        for name in errors:
            errors[name].append(abs(hr_fft(prepare_for_hr(BASELINES[name](trace, FS), FS), FS) - truth))
    for name, values in errors.items():
        assert np.mean(np.array(values) <= 2.0) >= 0.95, (name, np.round(values, 1))


def test_head_motion_moves_the_face_but_not_the_background():
    still, moving = clip_for(7, frames=60), clip_for(7, frames=60, motion=HeadMotion(translation_px=4.0, rotation_deg=5.0))
    assert np.abs(np.diff(moving.skin_mask.astype(int), axis=0)).sum() > 0
    assert np.abs(np.diff(still.skin_mask.astype(int), axis=0)).sum() == 0
    corner = (slice(None), slice(0, 3), slice(0, 3))
    np.testing.assert_array_equal(moving.frames[corner], still.frames[corner])


def test_sensor_noise_is_zero_mean_with_its_std_and_changes_nothing_else():
    noisy, clean = clip_for(5, frames=60, sensor_noise=2.0), clip_for(5, frames=60, sensor_noise=0.0)
    difference = noisy.frames.astype(float) - clean.frames
    assert abs(difference.mean()) < 0.02
    assert abs(difference.std() - np.sqrt(2.0**2 + 1 / 6)) < 0.1, "σ plus the rounding of the clean frame"
    np.testing.assert_array_equal(noisy.ppg, clean.ppg)
    np.testing.assert_array_equal(noisy.skin_mask, clean.skin_mask)


def test_subjects_come_from_the_skin_types_asked_for():
    kinds = {draw_subject(np.random.default_rng(seed), (5, 6)).fitzpatrick for seed in range(30)}
    assert kinds == {5, 6}
    assert draw_subject(np.random.default_rng(4), (1, 2, 3, 4, 5, 6)) == draw_subject(np.random.default_rng(4))
    with pytest.raises(ValueError, match="Fitzpatrick types among 1-6"):
        draw_subject(np.random.default_rng(0), (0, 7))


def test_a_moving_head_looked_up_on_the_fine_grid_matches_the_head_drawn_at_every_pixel():
    from codephys_plugin.data import face_video

    config = FaceVideoConfig(frames=40, motion=HeadMotion(translation_px=3.0, rotation_deg=6.0, scale=0.05, mouth=1.0))
    subject = draw_subject(np.random.default_rng(2))
    pose = face_video._pose(config, np.arange(40) / FS, np.random.default_rng(3))
    looked_up = face_video._posed_face(72, subject, pose)
    drawn = face_video._face(*face_video._face_coordinates(72, subject, pose), subject, mouth_open=pose["mouth"])
    assert looked_up.rgb.shape == drawn.rgb.shape == (40, 72, 72, 3)
    assert np.abs(looked_up.rgb - drawn.rgb).mean() < 1.0
    assert np.mean((looked_up.skin > 0.5) == (drawn.skin > 0.5)) > 0.98
    assert np.abs(looked_up.pulse - drawn.pulse).mean() < 0.02


def test_bad_configurations_are_refused():
    with pytest.raises(ValueError, match="size ≥ 16"):
        FaceVideoConfig(size=8)
    with pytest.raises(ValueError, match="illumination_drift"):
        FaceVideoConfig(illumination_drift=1.5)
    with pytest.raises(ValueError, match="sensor_noise must be 0-20 pixel levels"):
        FaceVideoConfig(sensor_noise=float("nan"))


def test_a_heart_rate_step_shows_in_the_track_and_in_the_pulse():
    from codephys_plugin.data.synthetic_ppg import HeartRateChange

    clip = clip_for(9, frames=1200, hr_range_bpm=(70.0, 70.0), hr_change=HeartRateChange(step_bpm=25.0))
    before, after = clip.hr_track_bpm[:500], clip.hr_track_bpm[700:]
    assert abs(np.median(after) - np.median(before) - 25.0) < 4.0
    trace = rgb_trace(clip.frames, clip.skin_mask)
    first, second = (hr_fft(prepare_for_hr(BASELINES["pos"](trace[part], FS), FS), FS)
                     for part in (slice(0, 540), slice(660, 1200)))
    assert abs(first - 70.0) < 4.0 and abs(second - 95.0) < 4.0
    unchanged = clip_for(9, frames=1200, hr_range_bpm=(70.0, 70.0))
    np.testing.assert_array_equal(clip_for(9, frames=1200, hr_range_bpm=(70.0, 70.0),
                                           hr_change=HeartRateChange()).frames, unchanged.frames)
