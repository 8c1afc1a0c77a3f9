import numpy as np
import pytest

from codephys_plugin.heart_rate import (
    evaluate_window,
    hr_fft,
    hr_metrics,
    hr_peaks,
    macc,
    min_hr_samples,
    prepare_for_hr,
    snr_db,
)
from codephys_plugin.rppg import bandpass, detrend, integrate, standardize

FS = 30.0


def sine(freq_hz, seconds=20.0, fs=FS, phase=0.0):
    t = np.arange(int(seconds * fs)) / fs
    return np.sin(2 * np.pi * freq_hz * t + phase)


def test_bandpass_keeps_the_pulse_band_and_removes_drift_and_high_frequencies():
    pulse = sine(1.2)
    mixed = pulse + 2 * sine(0.05) + sine(8.0)
    filtered = bandpass(mixed, FS)
    core = slice(60, -60)
    assert np.corrcoef(filtered[core], pulse[core])[0, 1] > 0.98
    assert np.std(bandpass(sine(8.0), FS)[core]) < 0.2
    assert bandpass(np.stack([mixed, mixed]), FS).shape == (2, mixed.size)


def test_detrend_matches_the_dense_smoothness_priors_formula():
    rng = np.random.default_rng(0)
    x = rng.normal(size=120) + np.linspace(0, 5, 120) ** 2
    n, lam = x.size, 100.0
    d2 = np.zeros((n - 2, n))
    for i in range(n - 2):
        d2[i, i : i + 3] = [1, -2, 1]
    dense = (np.eye(n) - np.linalg.inv(np.eye(n) + lam**2 * d2.T @ d2)) @ x
    np.testing.assert_allclose(detrend(x, lam), dense, atol=1e-8)
    np.testing.assert_allclose(detrend(np.stack([x, 2 * x]))[1], 2 * detrend(x), atol=1e-8)


def test_integrate_undoes_a_first_difference():
    wave = sine(1.0)
    derivative = np.diff(wave, prepend=0.0)
    np.testing.assert_allclose(integrate(derivative), wave, atol=1e-12)


def test_standardize_handles_flat_signals():
    np.testing.assert_array_equal(standardize(np.ones(10)), np.zeros(10))
    z = standardize(np.arange(10.0))
    assert abs(z.mean()) < 1e-12 and abs(z.std() - 1) < 1e-12


@pytest.mark.parametrize("bpm", [45.0, 72.0, 120.0, 175.0])
def test_hr_fft_and_hr_peaks_on_sinusoids(bpm):
    x = sine(bpm / 60.0, seconds=30.0)
    resolution = 60.0 * FS / 1024  # periodogram bin at nfft = 1024
    assert hr_fft(x, FS) == pytest.approx(bpm, abs=resolution)
    assert hr_peaks(x, FS) == pytest.approx(bpm, rel=0.02)


def test_hr_fft_respects_the_band_edges():
    x = sine(4.0) + 0.5 * sine(1.0)
    assert hr_fft(x, FS) == pytest.approx(60.0, abs=2)
    assert hr_fft(x, FS, low=0.6, high=5.0) == pytest.approx(240.0, abs=2)


def test_the_interpolated_peak_is_not_quantised_to_the_fft_bins():
    """10-s windows at 30 Hz: the toolbox's nfft of 512 has bins 3.5 bpm apart."""
    toolbox_bins = {"resolution_bpm": 1e4}
    bin_bpm = 60.0 * FS / 512
    rates = np.linspace(50.0, 50.0 + bin_bpm, 12)
    window = [sine(bpm / 60.0, seconds=10.0, phase=0.7) for bpm in rates]
    plain = np.array([hr_fft(x, FS, **toolbox_bins) for x in window]) - rates
    refined = np.array([hr_fft(x, FS, interpolate=True, **toolbox_bins) for x in window]) - rates
    assert np.abs(plain).max() > 0.4 * bin_bpm
    assert np.abs(refined).max() < 0.5
    rng = np.random.default_rng(4)
    noisy = sine(1.37, seconds=10.0) + 0.5 * rng.normal(size=300)
    assert hr_fft(noisy, FS, interpolate=True) == pytest.approx(82.2, abs=1.0)


def test_hr_fft_and_prepare_for_hr_take_batches_of_signals():
    import torch

    batch = np.stack([sine(1.0), sine(1.5), sine(2.0)]).reshape(3, 1, -1)
    np.testing.assert_allclose(hr_fft(batch, FS), [[60.0], [90.0], [120.0]], atol=1.0)
    assert isinstance(hr_fft(batch[0, 0], FS), float)
    prepared = prepare_for_hr(torch.tensor(batch[:, 0], requires_grad=True), FS)
    assert prepared.shape == (3, batch.shape[-1])
    np.testing.assert_allclose(prepared[1], prepare_for_hr(batch[1, 0], FS))
    with pytest.raises(ValueError, match=r"hr_fft signal\[1\]: the signal is flat"):
        hr_fft(np.stack([sine(1.0), np.zeros(600)]), FS)
    with pytest.raises(ValueError, match=r"expected signals \(\.\.\. t\)"):
        hr_fft(np.zeros((0, 600)), FS)


def test_snr_is_high_for_a_clean_pulse_and_low_for_noise():
    rng = np.random.default_rng(1)
    clean = sine(1.2)
    noisy = clean + 3 * rng.normal(size=clean.size)
    assert snr_db(clean, 72.0, FS) > 10  # rectangular-window leakage caps a pure tone near 13 dB
    assert snr_db(noisy, 72.0, FS) < snr_db(clean, 72.0, FS) - 10
    assert snr_db(clean, 120.0, FS) < 0


def test_macc_equals_the_best_circular_shift_correlation():
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=64), rng.normal(size=64)
    expected = max(abs(np.corrcoef(a, np.roll(b, k))[0, 1]) for k in range(63))
    assert macc(a, b) == pytest.approx(expected)
    assert macc(sine(1.0), np.roll(sine(1.0), 7)) == pytest.approx(1.0, abs=1e-6)


def test_evaluate_window_on_a_diff_normalized_pair():
    label = sine(1.25, seconds=30) + 0.3 * sine(2.5, seconds=30)
    prediction = label + 0.2 * np.random.default_rng(3).normal(size=label.size)
    result = evaluate_window(np.diff(prediction, prepend=0.0), np.diff(label, prepend=0.0), FS, diff_normalized=True)
    assert result.hr_label == pytest.approx(75.0, abs=1.8)
    assert result.hr_pred == pytest.approx(result.hr_label)
    assert result.snr_db > 0 and 0.8 < result.macc <= 1.0
    peak = evaluate_window(prediction, label, FS, method="peak")
    assert peak.hr_label == pytest.approx(75.0, rel=0.03)


def test_hr_metrics_definitions():
    pred = np.array([70.0, 82.0, 95.0, 60.0])
    gt = np.array([72.0, 80.0, 90.0, 61.0])
    m = hr_metrics(pred, gt)
    e = pred - gt
    assert m.n == 4
    assert m.mae == pytest.approx(np.mean(np.abs(e)))
    assert m.rmse == pytest.approx(np.sqrt(np.mean(e**2)))
    assert m.sd == pytest.approx(np.std(e))
    assert m.mape == pytest.approx(100 * np.mean(np.abs(e) / gt))
    assert m.pearson == pytest.approx(np.corrcoef(pred, gt)[0, 1])
    assert m.mae_se == pytest.approx(np.std(np.abs(e)) / 2)
    assert m.rmse_se == pytest.approx(np.sqrt(np.std(e**2) / 2))
    assert m.pearson_se == pytest.approx(np.sqrt((1 - m.pearson**2) / 2))


def test_hr_metrics_pearson_is_nan_when_undefined():
    assert np.isnan(hr_metrics([70.0], [71.0]).pearson)
    assert np.isnan(hr_metrics([70.0, 70.0, 70.0], [71.0, 72.0, 73.0]).pearson)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: bandpass(np.array([1.0, np.nan] * 20), FS), "NaN"),
        (lambda: bandpass(np.ones(5), FS), "more than 9 samples"),
        (lambda: bandpass(sine(1.0), FS, low=2.0, high=1.0), "band"),
        (lambda: bandpass(sine(1.0), FS, high=20.0), "fs/2"),
        (lambda: bandpass(sine(1.0), 0), "sampling rate"),
        (lambda: bandpass(sine(1.0), None), "sampling rate"),
        (lambda: bandpass(np.array([]), FS), "t > 0"),
        (lambda: detrend(np.array([np.inf, 1.0, 2.0])), "NaN or Inf"),
        (lambda: hr_fft(np.ones(300), FS), "flat"),
        (lambda: hr_fft(np.array([1.0]), FS), "at least 2"),
        (lambda: hr_fft(np.float64(3.0), FS), r"expected signals \(\.\.\. t\)"),
        (lambda: hr_fft(np.r_[sine(1.0), np.nan], FS), "non-finite"),
        (lambda: hr_peaks(np.linspace(0, 1, 100), FS), "peak"),
        (lambda: snr_db(sine(1.0), -5.0, FS), "reference HR"),
        (lambda: macc(np.ones(10), sine(1.0)[:10]), "flat"),
        (lambda: macc(sine(1.0)[:10], sine(1.0)[:11]), "label has 11"),
        (lambda: evaluate_window(sine(1.0), sine(1.0), FS, method="wavelet"), "method"),
        (lambda: prepare_for_hr(np.ones(5), FS), "at least 10"),
        (lambda: hr_metrics([], []), ">0"),
        (lambda: hr_metrics([70.0], [0.0]), "positive"),
        (lambda: hr_metrics([70.0, np.nan], [70.0, 71.0]), "NaN"),
    ],
)
def test_bad_signal_inputs_raise_clear_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_short_windows_are_refused_with_the_minimum_instead_of_snapping_to_a_bin():
    """20 samples at 30 Hz: the toolbox's nfft of 32 puts bins 56.25 bpm apart, so 60 and 90 bpm both read 56.25."""
    for bpm in (60.0, 90.0):
        with pytest.raises(ValueError, match=r"20 samples \(0.67 s at 30 Hz\) are too short .* at least 100 samples"):
            evaluate_window(sine(bpm / 60, seconds=20 / FS), sine(bpm / 60, seconds=20 / FS), FS)
    with pytest.raises(ValueError, match="16 samples"):
        hr_fft(sine(1.0, seconds=16 / FS), FS)
    assert min_hr_samples(FS) == 100 and min_hr_samples(FS, low=0.75) == 80


@pytest.mark.parametrize("bpm", [60.0, 66.0, 72.0, 90.0, 117.0])
def test_the_shortest_window_is_zero_padded_to_the_stated_resolution(bpm):
    """Bins 0.88 bpm apart instead of 14 (nfft 128); what is left is the leakage bias of 3.3 s of signal."""
    x = sine(bpm / 60, seconds=100 / FS)
    assert hr_fft(x, FS) == pytest.approx(bpm, abs=1.5)
    assert hr_fft(x, FS, resolution_bpm=0.25) == pytest.approx(bpm, abs=1.0)
    assert hr_fft(sine(bpm / 60, seconds=3000 / FS), FS) == pytest.approx(bpm, abs=60 * FS / 4096)


def test_long_windows_keep_the_toolbox_nfft():
    """Above 60·fs/resolution samples the toolbox's next power of two is already finer: same bins."""
    x = sine(1.23, seconds=3000 / FS) + 0.3 * np.random.default_rng(0).normal(size=3000)
    freqs = np.fft.rfftfreq(4096, 1 / FS)
    power = np.abs(np.fft.rfft(x, 4096)) ** 2
    band = (freqs >= 0.6) & (freqs <= 3.3)
    assert hr_fft(x, FS) == 60 * freqs[band][np.argmax(power[band])]


def test_complex_signals_are_refused_not_truncated():
    with pytest.raises(ValueError, match="expected a real signal, got complex"):
        hr_fft(sine(1.0) * (1 + 1j), FS)
