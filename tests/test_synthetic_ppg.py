import numpy as np
import pytest
import scipy.signal

from codephys_plugin.data import SyntheticPPGConfig, synthesize_ppg, synthesize_recordings
from codephys_plugin.heart_rate import hr_fft, prepare_for_hr


def test_seeded_and_reproducible():
    a = synthesize_ppg(seed=7)
    b = synthesize_ppg(seed=7)
    c = synthesize_ppg(seed=8)
    np.testing.assert_array_equal(a.signal, b.signal)
    assert not np.array_equal(a.signal, c.signal)
    assert a.signal.shape == (900,) and a.fs == 30.0


def test_heart_rates_cover_the_range_and_match_the_spectrum():
    recordings = synthesize_recordings(40, seed=3)
    rates = np.array([r.hr_bpm for r in recordings])
    assert rates.min() >= 40 and rates.max() <= 180 and rates.max() - rates.min() > 80
    errors = [hr_fft(prepare_for_hr(r.signal, r.fs), r.fs) - r.hr_bpm for r in recordings]
    assert np.max(np.abs(errors)) < 3.0


def test_beat_to_beat_variability_is_present_and_configurable():
    config = SyntheticPPGConfig(fs=250.0, duration_s=60.0, hrv_fraction=0.05, rsa_fraction=0.0)
    onsets = synthesize_ppg(config, seed=1, hr_bpm=70.0).beat_onsets_s
    intervals = np.diff(onsets)
    assert 0.02 < intervals.std() / intervals.mean() < 0.1
    steady = SyntheticPPGConfig(fs=250.0, duration_s=60.0, hrv_fraction=0.0, rsa_fraction=0.0)
    assert np.diff(synthesize_ppg(steady, seed=1, hr_bpm=70.0).beat_onsets_s).std() < 1e-9


def test_each_beat_has_a_systolic_peak_and_a_dicrotic_notch():
    config = SyntheticPPGConfig(fs=250.0, duration_s=20.0, baseline_wander=0.0, resp_amplitude_fraction=0.0)
    ppg = synthesize_ppg(config, seed=2, hr_bpm=65.0)
    peaks, _ = scipy.signal.find_peaks(ppg.signal, prominence=0.02)
    troughs, _ = scipy.signal.find_peaks(-ppg.signal, prominence=0.02)
    beats = ppg.beat_onsets_s.size - 1
    assert peaks.size >= 2 * beats - 2, "expected a systolic and a diastolic peak per beat"
    assert troughs.size >= 2 * beats - 2, "expected a notch and a foot per beat"


def test_noise_and_respiration_options_change_the_signal():
    clean = synthesize_ppg(SyntheticPPGConfig(), seed=4, hr_bpm=80.0).signal
    noisy = synthesize_ppg(SyntheticPPGConfig(noise_std=0.5), seed=4, hr_bpm=80.0).signal
    assert 0.3 < np.std(noisy - clean) < 0.7


@pytest.mark.parametrize(
    "kwargs",
    [{"hr_range_bpm": (100.0, 50.0)}, {"fs": 0.0}, {"duration_s": -1.0}, {"noise_std": -0.1}, {"fs": 5.0}],
)
def test_invalid_configuration_is_rejected(kwargs):
    with pytest.raises(ValueError):
        SyntheticPPGConfig(**kwargs)


def test_invalid_counts_and_rates_are_rejected():
    with pytest.raises(ValueError, match="count"):
        synthesize_recordings(0)
    with pytest.raises(ValueError, match="hr_bpm"):
        synthesize_ppg(seed=0, hr_bpm=-60.0)


def test_a_drifting_heart_rate_is_tracked_and_a_drop_to_zero_refused():
    from codephys_plugin.data.synthetic_ppg import HeartRateChange, SyntheticPPGConfig, synthesize_ppg

    config = SyntheticPPGConfig(duration_s=60.0, hr_range_bpm=(60.0, 60.0))
    ppg = synthesize_ppg(config, seed=1, hr_change=HeartRateChange(drift_bpm=30.0))
    assert ppg.hr_track_bpm.shape == ppg.signal.shape
    assert abs(np.median(ppg.hr_track_bpm[:300]) - 61.5) < 4 and abs(np.median(ppg.hr_track_bpm[-300:]) - 88.5) < 4
    with pytest.raises(ValueError, match="to zero or below"):
        synthesize_ppg(config, seed=1, hr_change=HeartRateChange(step_bpm=-70.0))
