"""Small PPG files in every supported format, written from synthetic PPG with a known heart rate."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from codephys_plugin.data.synthetic_ppg import SyntheticPPGConfig, synthesize_ppg

SENSOR_FS = 64.0


def sensor_ppg(hr_bpm: float, seconds: float = 40.0, seed: int = 0, fs: float = SENSOR_FS) -> np.ndarray:
    config = SyntheticPPGConfig(fs=fs, duration_s=seconds, hrv_fraction=0.0, rsa_fraction=0.0, baseline_wander=0.1)
    return synthesize_ppg(config, seed=seed, hr_bpm=hr_bpm).signal


def jittered_times(count: int, fs: float, *, seed: int = 0, gap_at: int | None = None, gap_s: float = 3.0) -> np.ndarray:
    """Nominal-rate times with ±20% jitter (quantised to 1 ms), optionally a gap."""
    rng = np.random.default_rng(seed)
    steps = (1.0 + rng.uniform(-0.2, 0.2, count)) / fs
    times = np.round(np.cumsum(steps), 3)
    if gap_at is not None:
        times[gap_at:] += gap_s
    return times


def camera_clock_times(count: int, fs: float, *, seed: int = 0, repeat_at: int | None = None,
                       stall_at: int | None = None) -> np.ndarray:
    """Times of a clock like UBFC-rPPG's: the mean rate is `fs`, but most steps are 12% longer than
    1/fs and the rest shorter, so 1/median(step) is 11% below the true rate. Optionally one stamp
    written twice (`repeat_at`) and one 0.22-s stall (`stall_at`) that is jitter, not a gap."""
    rng = np.random.default_rng(seed)
    steps = np.where(rng.random(count) < 0.6, 1.12, 0.82) / fs
    steps *= (count / fs) / steps.sum()
    if stall_at is not None:
        steps[stall_at] = 0.22
    times = np.round(np.cumsum(steps) - steps[0], 4)
    if repeat_at is not None:
        times[repeat_at] = times[repeat_at - 1]
    return times


def write_ubfc2(folder: Path, hr_bpm: float, *, gap_at: int | None = None, times: np.ndarray | None = None) -> Path:
    signal = sensor_ppg(hr_bpm)
    times = jittered_times(signal.size, SENSOR_FS, gap_at=gap_at) if times is None else times[: signal.size]
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "ground_truth.txt"
    hr = np.full(signal.size, hr_bpm)
    path.write_text("\n".join(" ".join(f"{v:.6e}" for v in row) for row in (signal, hr, times)) + "\n")
    return path


def write_ubfc1(folder: Path, hr_bpm: float) -> Path:
    signal = sensor_ppg(hr_bpm, seed=1)
    times_ms = jittered_times(signal.size, SENSOR_FS, seed=1) * 1000
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "gtdump.xmp"
    path.write_text("".join(f"{t:.0f},{hr_bpm:.0f},98,{v:.4f}\n" for t, v in zip(times_ms, signal)))
    return path


def write_pure(path: Path, hr_bpm: float) -> Path:
    signal = sensor_ppg(hr_bpm, seed=2)
    times_ns = (jittered_times(signal.size, SENSOR_FS, seed=2) * 1e9).astype(np.int64)
    entries = [
        {"Timestamp": int(t), "Value": {"pulseRate": int(hr_bpm), "o2saturation": 98, "signalStrength": 4,
                                        "waveform": int(round(v * 100))}}
        for t, v in zip(times_ns, signal)
    ]
    path.write_text(json.dumps({"/FullPackage": entries, "/Image": []}))
    return path


def write_toolbox_chunks(folder: Path, video: str, hr_bpm: float, *, chunk: int = 180, fs: float = 30.0) -> list[Path]:
    """DiffNormalized label chunks, as the toolbox caches them."""
    wave = sensor_ppg(hr_bpm, seed=3, fs=fs)
    derivative = np.append(np.diff(wave), 0.0)
    derivative /= derivative.std()
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for k in range(derivative.size // chunk):
        path = folder / f"{video}_label{k}.npy"
        np.save(path, derivative[k * chunk : (k + 1) * chunk].astype(np.float32))
        np.save(folder / f"{video}_input{k}.npy", np.zeros((chunk, 2, 2, 6), dtype=np.float32))
        paths.append(path)
    return paths


def write_csv(path: Path, hr_bpm: float, *, gap_at: int | None = None, nan_at: int | None = None) -> Path:
    """PhysioKit-like: EDA, PPG Finger, PPG Ear, arduino_ts (ms), event_code (empty)."""
    finger = sensor_ppg(hr_bpm, seed=4) * 500 + 2000
    ear = sensor_ppg(hr_bpm, seed=5) * 300 + 1800
    times_ms = jittered_times(finger.size, SENSOR_FS, seed=4, gap_at=gap_at) * 1000
    rows = ["EDA,PPG Finger,PPG Ear,arduino_ts,event_code"]
    for i, (f, e, t) in enumerate(zip(finger, ear, times_ms)):
        value = "" if nan_at is not None and nan_at <= i < nan_at + 10 else f"{f:.1f}"
        rows.append(f"1600.0,{value},{e:.1f},{t:.1f},")
    path.write_text("\n".join(rows) + "\n")
    return path
