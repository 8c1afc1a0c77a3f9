"""A contact-PPG recording as read from disk, before resampling."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

SignalForm = Literal["waveform", "derivative"]


class RecordingError(ValueError):
    """A recording that cannot be used; the message names the file and the problem."""

    def __init__(self, source: str | Path, problem: str) -> None:
        super().__init__(f"{source}: {problem}")
        self.source = str(source)
        self.problem = problem


@dataclass(frozen=True)
class Recording:
    """Raw samples of one PPG channel with either timestamps or a nominal sampling rate."""

    name: str
    """Identifies the recording in messages and reports, e.g. ``P11_baseline.csv[PPG Finger]``."""
    source: Path
    values: np.ndarray
    """``(t)`` samples in the file's units."""
    timestamps_s: np.ndarray | None = None
    """``(t)`` sample times in seconds when the file has them; resampling uses them."""
    fs: float | None = None
    """Nominal sampling rate (Hz) for files without timestamps."""
    form: SignalForm = "waveform"
    """``"derivative"`` for DiffNormalized labels (first differences of the waveform)."""
    group: str = ""
    """Recordings that share a group (a subject) always land on the same side of a split."""

    def __post_init__(self) -> None:
        if self.timestamps_s is None and self.fs is None:
            raise RecordingError(self.name, "no timestamps and no sampling rate: pass --fs")
        if self.timestamps_s is not None and len(self.timestamps_s) != len(self.values):
            raise RecordingError(
                self.name, f"{len(self.timestamps_s)} timestamps for {len(self.values)} samples"
            )
