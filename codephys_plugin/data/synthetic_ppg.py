"""Synthetic contact PPG: the embedded default data, so every job runs without a dataset.

Each beat is drawn in its own phase u ∈ [0, 1): a systolic Gaussian wave and a smaller, later
diastolic wave whose overlap leaves a dicrotic notch. Beat-to-beat intervals vary around the mean
(an AR(1) jitter plus respiratory sinus arrhythmia), breathing also modulates the amplitude and the
baseline, a slow random wander drifts the baseline, and white noise can be added. The reference HR
is the mean beat rate actually generated, so it is exact by construction.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SYSTOLIC_PHASE = 0.18
SYSTOLIC_WIDTH = 0.075
DIASTOLIC_PHASE = 0.48
DIASTOLIC_WIDTH = 0.11
RR_JITTER_MEMORY = 0.6
"""AR(1) coefficient of the beat-interval jitter: consecutive intervals are correlated."""


@dataclass(frozen=True)
class SyntheticPPGConfig:
    fs: float = 30.0
    duration_s: float = 30.0
    hr_range_bpm: tuple[float, float] = (40.0, 180.0)
    hrv_fraction: float = 0.03
    """Standard deviation of the beat-interval jitter, as a fraction of the mean interval."""
    resp_rate_range_hz: tuple[float, float] = (0.15, 0.4)
    rsa_fraction: float = 0.03
    """Respiratory sinus arrhythmia: depth of the breathing-locked interval modulation."""
    resp_amplitude_fraction: float = 0.15
    """Depth of the breathing-locked pulse-amplitude modulation."""
    baseline_wander: float = 0.3
    """Amplitude of the slow baseline drift, relative to the pulse amplitude."""
    dicrotic_ratio_range: tuple[float, float] = (0.3, 0.6)
    """Diastolic-to-systolic wave height, drawn per recording and varied slightly per beat."""
    noise_std: float = 0.0
    """White noise, relative to the pulse amplitude."""

    def __post_init__(self) -> None:
        low, high = self.hr_range_bpm
        if not 0 < low <= high:
            raise ValueError(f"hr_range_bpm must satisfy 0 < low <= high, got {self.hr_range_bpm}")
        if self.fs <= 0 or self.duration_s <= 0:
            raise ValueError(f"fs and duration_s must be positive, got {self.fs}, {self.duration_s}")
        if high / 60.0 >= self.fs / 2:
            raise ValueError(f"HR up to {high} bpm aliases at fs={self.fs} Hz")
        if min(self.hrv_fraction, self.rsa_fraction, self.baseline_wander, self.noise_std) < 0:
            raise ValueError("variability, wander and noise amplitudes must be non-negative")


@dataclass(frozen=True)
class HeartRateChange:
    """How the mean rate moves within a recording: a linear drift over its length and an optional step."""

    drift_bpm: float = 0.0
    """Change from the first to the last beat (may be negative)."""
    step_bpm: float = 0.0
    """A sudden change (e.g. 10-30 bpm) at `step_at_s` (default: the middle of the recording)."""
    step_at_s: float | None = None

    def rate_bpm(self, base_bpm: float, t: float, duration_s: float) -> float:
        step_at = duration_s / 2 if self.step_at_s is None else self.step_at_s
        return base_bpm + self.drift_bpm * t / duration_s + (self.step_bpm if t >= step_at else 0.0)


@dataclass(frozen=True)
class SyntheticPPG:
    signal: np.ndarray
    """``(t)`` waveform sampled at `fs`."""
    fs: float
    hr_bpm: float
    """Mean heart rate of the generated beats."""
    beat_onsets_s: np.ndarray
    """Start time of every beat that overlaps the recording (s)."""
    hr_track_bpm: np.ndarray | None = None
    """``(t)`` instantaneous rate: 60 / the length of the beat each sample falls in."""


def synthesize_ppg(
    config: SyntheticPPGConfig = SyntheticPPGConfig(),
    *,
    seed: int | np.random.Generator = 0,
    hr_bpm: float | None = None,
    hr_change: HeartRateChange | None = None,
) -> SyntheticPPG:
    """One recording; `hr_bpm` fixes the starting mean HR, otherwise it is drawn from ``config.hr_range_bpm``;
    `hr_change` moves it within the recording."""
    rng = np.random.default_rng(seed)
    mean_hr = rng.uniform(*config.hr_range_bpm) if hr_bpm is None else float(hr_bpm)
    if mean_hr <= 0:
        raise ValueError(f"hr_bpm must be positive, got {hr_bpm}")
    count = int(round(config.duration_s * config.fs))
    t = np.arange(count) / config.fs
    resp_rate = rng.uniform(*config.resp_rate_range_hz)
    resp_phase = rng.uniform(0, 2 * np.pi)
    onsets = _beat_onsets(config, rng, mean_hr, resp_rate, resp_phase, hr_change or HeartRateChange())
    beat = np.clip(np.searchsorted(onsets, t, side="right") - 1, 0, onsets.size - 2)
    phase = (t - onsets[beat]) / (onsets[beat + 1] - onsets[beat])
    dicrotic = rng.uniform(*config.dicrotic_ratio_range) * (1 + 0.05 * rng.standard_normal(onsets.size))
    pulse = _beat_shape(phase, dicrotic[beat])
    breathing = np.sin(2 * np.pi * resp_rate * t + resp_phase)
    signal = pulse * (1 + config.resp_amplitude_fraction * breathing)
    signal += config.baseline_wander * (0.5 * breathing + _slow_wander(t, rng))
    signal += config.noise_std * rng.standard_normal(count)
    covered = onsets[(onsets < t[-1] + 1 / config.fs)]
    mean_interval = np.diff(onsets[: covered.size + 1]).mean()
    track = 60.0 / (onsets[beat + 1] - onsets[beat])
    return SyntheticPPG(signal, config.fs, float(60.0 / mean_interval), covered, track)


def synthesize_recordings(
    count: int, config: SyntheticPPGConfig = SyntheticPPGConfig(), *, seed: int = 0
) -> list[SyntheticPPG]:
    """`count` independent recordings from one seed."""
    if count < 1:
        raise ValueError(f"count must be at least 1, got {count}")
    seeds = np.random.SeedSequence(seed).spawn(count)
    return [synthesize_ppg(config, seed=np.random.default_rng(s)) for s in seeds]


def _beat_onsets(
    config: SyntheticPPGConfig, rng: np.random.Generator, mean_hr: float, resp_rate: float, resp_phase: float,
    change: HeartRateChange,
) -> np.ndarray:
    """Beat start times covering the recording plus one beat, from a jittered interval sequence around the
    (possibly changing) mean rate."""
    rates = [change.rate_bpm(mean_hr, at, config.duration_s) for at in (0.0, config.duration_s)]
    if min(rates) <= 0 or mean_hr + change.step_bpm <= 0:
        raise ValueError(f"hr_change takes the heart rate from {mean_hr:g} bpm to zero or below")
    shortest = 60.0 / max(config.hr_range_bpm[1], *rates, mean_hr + max(change.step_bpm, 0))
    longest = 60.0 / min(config.hr_range_bpm[0], *rates, mean_hr + min(change.step_bpm, 0))
    innovation = config.hrv_fraction * np.sqrt(1 - RR_JITTER_MEMORY**2)
    onsets = [-rng.uniform(0, 60.0 / mean_hr)]
    jitter = config.hrv_fraction * rng.standard_normal()
    while onsets[-1] <= config.duration_s + 60.0 / change.rate_bpm(mean_hr, onsets[-1], config.duration_s):
        mean_interval = 60.0 / change.rate_bpm(mean_hr, max(onsets[-1], 0.0), config.duration_s)
        rsa = config.rsa_fraction * np.sin(2 * np.pi * resp_rate * onsets[-1] + resp_phase)
        interval = np.clip(mean_interval * (1 + jitter + rsa), min(shortest, mean_interval), max(longest, mean_interval))
        onsets.append(onsets[-1] + interval)
        jitter = RR_JITTER_MEMORY * jitter + innovation * rng.standard_normal()
    return np.asarray(onsets)


def _beat_shape(phase: np.ndarray, dicrotic_ratio: np.ndarray) -> np.ndarray:
    """Systolic + diastolic Gaussian waves, wrapped so consecutive beats join smoothly."""
    shape = np.zeros_like(phase)
    for shift in (-1.0, 0.0, 1.0):
        u = phase + shift
        shape += np.exp(-0.5 * ((u - SYSTOLIC_PHASE) / SYSTOLIC_WIDTH) ** 2)
        shape += dicrotic_ratio * np.exp(-0.5 * ((u - DIASTOLIC_PHASE) / DIASTOLIC_WIDTH) ** 2)
    return shape


def _slow_wander(t: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A few random sinusoids below 0.1 Hz with unit overall amplitude."""
    freqs = rng.uniform(0.01, 0.1, size=3)
    phases = rng.uniform(0, 2 * np.pi, size=3)
    weights = rng.dirichlet(np.ones(3))
    return (weights[:, None] * np.sin(2 * np.pi * freqs[:, None] * t[None, :] + phases[:, None])).sum(axis=0)
