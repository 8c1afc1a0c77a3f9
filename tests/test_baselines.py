"""GREEN, CHROM and POS read the pulse from an RGB trace, follow the contact PPG's sign, and refuse bad traces."""

import numpy as np
import pytest

from codephys_plugin.baselines import BASELINES, chrom, pos, rgb_trace
from codephys_plugin.data.synthetic_ppg import SyntheticPPGConfig, synthesize_ppg
from codephys_plugin.heart_rate import hr_fft, prepare_for_hr

FS = 30.0
BLOOD_VOLUME_RGB = np.array([0.33, 0.77, 0.53])


def skin_trace(seed: int, *, relative_pulse: float = 0.006, drift: float = 0.05, specular: float = 0.0,
               specular_hz: float = 0.3, noise: float = 0.1, skin=(180.0, 130.0, 110.0)):
    """A skin-reflection trace: light falls as blood volume (the PPG) rises, with intensity drift and specular
    light (both colourless in normalised RGB, so POS and CHROM should cancel them) and sensor noise."""
    rng = np.random.default_rng(seed)
    ppg = synthesize_ppg(SyntheticPPGConfig(fs=FS, duration_s=30.0, hr_range_bpm=(50, 150), baseline_wander=0.0), seed=rng)
    wave = (ppg.signal - ppg.signal.mean()) / np.ptp(ppg.signal)
    t = np.arange(wave.size) / FS
    light = 1 + drift * np.sin(2 * np.pi * 0.13 * t + rng.uniform(0, 6))
    shine = specular * (1 + np.sin(2 * np.pi * specular_hz * t))
    trace = light[:, None] * (np.asarray(skin) * (1 - relative_pulse * np.outer(wave, BLOOD_VOLUME_RGB)) + shine[:, None])
    label_hr = hr_fft(prepare_for_hr(wave, FS), FS)  # the toolbox scores against the label's FFT HR
    return trace + noise * rng.standard_normal(trace.shape), wave, label_hr


@pytest.mark.parametrize("name", sorted(BASELINES))
def test_each_method_reads_the_heart_rate_of_a_clean_trace(name):
    """Within 2 bpm of the label's FFT HR on ≥ 95 % of 30-s traces (the pulse's beat-to-beat variability
    spreads its spectral peak, so an occasional neighbouring bin wins)."""
    errors = []
    for seed in range(40):
        trace, _, truth = skin_trace(seed)
        errors.append(abs(hr_fft(prepare_for_hr(BASELINES[name](trace, FS), FS), FS) - truth))
    assert np.mean(np.array(errors) <= 2.0) >= 0.95, errors


@pytest.mark.parametrize("name", sorted(BASELINES))
def test_outputs_follow_the_contact_ppg_not_the_reflected_light(name):
    trace, wave, _ = skin_trace(1, drift=0.0)
    pulse = prepare_for_hr(BASELINES[name](trace, FS), FS)
    assert np.corrcoef(pulse[60:-60], prepare_for_hr(wave, FS)[60:-60])[0, 1] > 0.7


def test_pos_and_chrom_cancel_what_green_cannot():
    """White specular light flickering at 150 bpm (in the HR band) swamps the green channel; the
    chrominance methods remove it."""
    trace, wave, truth = skin_trace(2, drift=0.0, specular=2.0, specular_hz=2.5, noise=0.0)
    rate = {name: hr_fft(prepare_for_hr(method(trace, FS), FS), FS) for name, method in BASELINES.items()}
    assert abs(rate["pos"] - truth) < 2 and abs(rate["chrom"] - truth) < 2
    assert abs(rate["green"] - truth) > 5


def test_rgb_trace_averages_the_region_per_frame():
    frames = np.zeros((3, 4, 5, 3), dtype=np.uint8)
    frames[:, :2] = 200
    mask = np.zeros((4, 5), dtype=bool)
    mask[:2, :3] = True
    np.testing.assert_array_equal(rgb_trace(frames, mask), np.full((3, 3), 200.0))
    np.testing.assert_allclose(rgb_trace(frames), np.full((3, 3), 100.0))


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: pos(np.ones((10, 4)), FS), r"expected shape \(t 3\)"),
        (lambda: pos(np.ones((20, 3)), FS), "one 1.6-s window needs 48"),
        (lambda: chrom(np.zeros((100, 3)), FS), "positive light levels"),
        (lambda: pos(np.r_[np.ones((99, 3)), [[np.nan, 1, 1]]], FS), "non-finite"),
        (lambda: pos(np.ones((100, 3)), 0), "sampling rate"),
        (lambda: rgb_trace(np.zeros((3, 4, 5, 3)), np.zeros((4, 5), dtype=bool)), "frame 0 has no pixel"),
        (lambda: rgb_trace(np.zeros((3, 3, 4, 5))), r"expected shape \(t h w 3\)"),
    ],
)
def test_bad_traces_are_refused(call, message):
    with pytest.raises(ValueError, match=message):
        call()
