"""From a raw recording to normalised training windows: quality checks, resampling, filtering."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from codephys_plugin.data.quality import PULSE_BAND_HZ, PULSE_FLOOR_RATIO, check_values, pulse_stretches
from codephys_plugin.data.recording import Recording, RecordingError, SignalForm
from codephys_plugin.data.resample import merge_repeated_times, resample_on_times, timestamps_of
from codephys_plugin.training.windows import WindowConfig, cut_windows, filter_recording


@dataclass(frozen=True)
class PreparedRecording:
    name: str
    group: str
    segments: list[np.ndarray]
    """Filtered stretches at the model rate, in the bundle's signal form, each ≥ one window."""
    dropped_segments: int
    """Stretches between gaps that were shorter than one window."""
    merged_repeats: int = 0
    """Samples folded into a neighbour that had the same timestamp (see `merge_repeated_times`)."""
    pulseless_windows: int = 0
    """Window-long blocks left out for holding no pulse above the noise floor (see `pulse_stretches`)."""

    def windows(self, config: WindowConfig, *, hop: int | None = None) -> np.ndarray:
        """``(k t)`` standardised windows from all segments."""
        return np.concatenate([cut_windows(segment, config, hop=hop) for segment in self.segments])


def to_label_form(waveform: np.ndarray, label_form: SignalForm) -> np.ndarray:
    """The waveform itself, or its first differences padded to the same length (as the toolbox's
    DiffNormalized labels are)."""
    return np.append(np.diff(waveform), 0.0) if label_form == "derivative" else waveform


def prepare_recording(recording: Recording, config: WindowConfig, label_form: SignalForm) -> PreparedRecording:
    """Check, integrate derivative labels, merge repeated timestamps, resample on timestamps, filter,
    and convert to `label_form`.

    Derivative (DiffNormalized) input is integrated before resampling, because a difference signal
    does not survive a change of rate; with ``label_form="derivative"`` the filtered waveform is
    differenced again at the model rate.
    """
    values = np.asarray(recording.values, dtype=np.float64)
    times = timestamps_of(recording)
    check_values(recording.name, values, times)
    waveform = np.cumsum(values) if recording.form == "derivative" else values
    times, waveform, merged = merge_repeated_times(times, waveform)
    resampled = resample_on_times(times, waveform, config.fs)
    pulsed, pulseless = [], 0
    for segment in resampled:
        stretches, rejected = pulse_stretches(segment, config.fs, config.window)
        pulsed += [segment[part] for part in stretches]
        pulseless += rejected
    usable = [segment for segment in pulsed if segment.size >= config.window]
    if not usable and pulseless:
        raise RecordingError(
            recording.name,
            f"no pulse: {pulseless} window(s) of {config.window} samples hold no power in {PULSE_BAND_HZ[0]:g}-"
            f"{PULSE_BAND_HZ[1]:g} Hz above the noise floor ({PULSE_FLOOR_RATIO:g}x, 10 dB), and none does",
        )
    if not usable:
        longest = max((s.size for s in resampled), default=0) / config.fs
        raise RecordingError(
            recording.name,
            f"shorter than one window: longest gap-free stretch is {longest:.1f} s, a window needs "
            f"{config.window / config.fs:.1f} s",
        )
    filtered = [to_label_form(filter_recording(segment, config, recording.name), label_form) for segment in usable]
    return PreparedRecording(
        recording.name, recording.group or recording.name, filtered, len(pulsed) - len(usable), merged, pulseless
    )
