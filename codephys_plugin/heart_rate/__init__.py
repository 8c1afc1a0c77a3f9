"""From an rPPG waveform to heart rate, and from heart rates to benchmark metrics."""

from codephys_plugin.heart_rate.estimate import (
    WindowEvaluation,
    check_hr_window,
    evaluate_window,
    hr_fft,
    hr_peaks,
    macc,
    min_hr_samples,
    prepare_for_hr,
    snr_db,
)
from codephys_plugin.heart_rate.metrics import HRMetrics, hr_metrics
from codephys_plugin.heart_rate.track import HRTrack, hr_track

__all__ = [
    "HRMetrics",
    "HRTrack",
    "WindowEvaluation",
    "check_hr_window",
    "evaluate_window",
    "hr_fft",
    "hr_metrics",
    "hr_track",
    "hr_peaks",
    "macc",
    "min_hr_samples",
    "prepare_for_hr",
    "snr_db",
]
