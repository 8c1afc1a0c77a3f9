"""PURE ground-truth JSON: ``/FullPackage`` entries with ``Timestamp`` (ns) and ``Value.waveform``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from codephys_plugin.data.recording import Recording, RecordingError


def read_pure_json(path: Path) -> Recording:
    text = path.read_text()
    if not text.strip():
        raise RecordingError(path, "empty file")
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise RecordingError(path, f"invalid JSON, truncated file? ({error})") from None
    entries = document.get("/FullPackage") if isinstance(document, dict) else None
    if not entries:
        raise RecordingError(path, "no '/FullPackage' entries: not a PURE ground-truth file")
    times, values = np.empty(len(entries)), np.empty(len(entries))
    for i, entry in enumerate(entries):
        try:
            times[i] = float(entry["Timestamp"]) * 1e-9
            values[i] = float(entry["Value"]["waveform"])
        except (KeyError, TypeError, ValueError):
            raise RecordingError(path, f"/FullPackage entry {i} lacks a numeric Timestamp or Value.waveform") from None
    subject = path.stem.split("-")[0]
    return Recording(name=path.name, source=path, values=values, timestamps_s=times, group=subject)
