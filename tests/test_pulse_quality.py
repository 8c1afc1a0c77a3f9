"""Noise without a pulse is not PPG: it is left out of Stage I, counted, and a recording of nothing else is refused."""

from pathlib import Path

import numpy as np
import pytest

from codephys_plugin.data.quality import PULSE_FLOOR_RATIO, pulse_stretches, pulse_to_floor_ratio
from codephys_plugin.data.recording import Recording, RecordingError
from codephys_plugin.training.prepare import prepare_recording
from codephys_plugin.training.windows import WindowConfig

PHYSIOKIT = Path(__file__).resolve().parents[2] / "shared" / "data" / "physiokit"
CONFIG = WindowConfig(fs=30.0, window=160, hop=40)


def _recording(name: str, values: np.ndarray, fs: float = 100.0) -> Recording:
    return Recording(name=name, source=Path(name), values=values, fs=fs)


def _pulse(seconds: float, fs: float = 100.0, rng=None) -> np.ndarray:
    t = np.arange(int(seconds * fs)) / fs
    noise = 0.05 * (rng or np.random.default_rng(0)).normal(size=t.size)
    return np.sin(2 * np.pi * 1.2 * t) + 0.3 * np.sin(2 * np.pi * 2.4 * t + 1) + noise


@pytest.mark.parametrize(
    "noise",
    [lambda rng, n: 1.0 + 1e-9 * rng.normal(size=n), lambda rng, n: 512.0 + rng.integers(0, 2, n)],
    ids=["1 ± 1e-9", "ADC toggling 512/513"],
)
def test_a_recording_of_noise_alone_is_refused_by_name(noise):
    values = noise(np.random.default_rng(3), 6000)
    with pytest.raises(RecordingError, match=r"noise.npy: no pulse: 11 window\(s\) of 160 samples .* above the noise floor"):
        prepare_recording(_recording("noise.npy", values), CONFIG, "waveform")


def test_pulse_less_stretches_are_cut_out_and_counted():
    rng = np.random.default_rng(4)
    values = np.concatenate([_pulse(30.0, rng=rng), 512.0 + rng.integers(0, 2, 3000)])
    prepared = prepare_recording(_recording("half.npy", values), CONFIG, "waveform")
    assert prepared.pulseless_windows >= 5
    assert sum(segment.size for segment in prepared.segments) <= 30 * CONFIG.fs + CONFIG.window
    assert prepare_recording(_recording("clean.npy", _pulse(60.0)), CONFIG, "waveform").pulseless_windows == 0


def test_blocks_join_into_stretches():
    rng = np.random.default_rng(5)
    pulse, noise = _pulse(160 / 30, fs=30.0, rng=rng), 1 + 1e-9 * rng.normal(size=160)
    stretches, rejected = pulse_stretches(np.concatenate([pulse, pulse, noise, pulse, pulse[:50]]), 30.0, 160)
    assert rejected == 1
    assert stretches == [slice(0, 320), slice(480, 690)]


@pytest.mark.skipif(not PHYSIOKIT.is_dir(), reason="needs ../shared/data/physiokit")
def test_every_real_physiokit_window_carries_a_pulse():
    from codephys_plugin.data.formats.csv_table import CsvOptions
    from codephys_plugin.data.sources import ReadOptions, iter_sources

    for column in ("PPG Finger", "PPG Ear"):
        options = ReadOptions(format="csv", csv=CsvOptions(column=column, time_column="arduino_ts"))
        for source in iter_sources([str(PHYSIOKIT / "P[12][0-9]_*.csv")], options):
            prepared = prepare_recording(source(), CONFIG, "waveform")
            assert prepared.pulseless_windows == 0, prepared.name


def test_the_floor_ratio_separates_a_pulse_from_noise():
    rng = np.random.default_rng(6)
    assert pulse_to_floor_ratio(_pulse(160 / 30, fs=30.0, rng=rng), 30.0) > 10 * PULSE_FLOOR_RATIO
    assert pulse_to_floor_ratio(rng.normal(size=160), 30.0) < PULSE_FLOOR_RATIO
    assert np.isnan(pulse_to_floor_ratio(_pulse(20.0, fs=8.0), 8.0)), "no floor band below 3 x 3.3 Hz"
