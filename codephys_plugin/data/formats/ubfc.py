"""UBFC-rPPG ground truth: DATASET_2 ``ground_truth.txt`` and DATASET_1 ``gtdump.xmp``."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from codephys_plugin.data.recording import Recording, RecordingError


def _subject(path: Path) -> str:
    return path.parent.name or path.stem


def read_ubfc2_ground_truth(path: Path) -> Recording:
    """Three whitespace-separated lines: PPG, HR, timestamps (s). The rate is not exactly 30 Hz, so
    the timestamps drive the resampling."""
    lines = [line for line in path.read_text().splitlines() if line.strip()]
    if not lines:
        raise RecordingError(path, "empty file")
    if len(lines) < 3:
        raise RecordingError(path, f"expected 3 lines (PPG, HR, timestamps), found {len(lines)}")
    try:
        ppg, _, times = (np.array(line.split(), dtype=np.float64) for line in lines[:3])
    except ValueError as error:
        raise RecordingError(path, f"non-numeric value ({error})") from None
    if ppg.size != times.size:
        raise RecordingError(path, f"{ppg.size} PPG samples but {times.size} timestamps (truncated file?)")
    return Recording(name=f"{_subject(path)}/{path.name}", source=path, values=ppg, timestamps_s=times, group=_subject(path))


def read_ubfc1_gtdump(path: Path) -> Recording:
    """Header-less CSV: time in ms in column 0, HR in column 1, PPG in column 3."""
    rows = [line.split(",") for line in path.read_text().splitlines() if line.strip()]
    if not rows:
        raise RecordingError(path, "empty file")
    width = len(rows[0])
    if width < 4:
        raise RecordingError(path, f"expected at least 4 comma-separated columns, found {width}")
    times, ppg = np.empty(len(rows)), np.empty(len(rows))
    for number, row in enumerate(rows, start=1):
        if len(row) < 4:
            raise RecordingError(path, f"line {number} has {len(row)} fields, expected {width} (truncated file?)")
        try:
            times[number - 1], ppg[number - 1] = float(row[0]), float(row[3])
        except ValueError:
            raise RecordingError(path, f"line {number}: non-numeric time or PPG value") from None
    return Recording(
        name=f"{_subject(path)}/{path.name}", source=path, values=ppg, timestamps_s=times * 1e-3, group=_subject(path)
    )
