"""rPPG-Toolbox preprocessed caches: ``<video>_label<k>.npy`` chunks, concatenated per video.

The toolbox stores labels at the video rate (usually 30 Hz, pass --fs) and, in its usual configs,
as DiffNormalized first differences; ``form`` says which the caches hold.
"""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

import numpy as np

from codephys_plugin.data.formats.numpy_array import load_array
from codephys_plugin.data.recording import Recording, RecordingError, SignalForm

LABEL_CHUNK = re.compile(r"^(?P<video>.+)_label(?P<chunk>\d+)\.npy$")


def is_label_chunk(path: Path) -> bool:
    return LABEL_CHUNK.match(path.name) is not None


def group_label_chunks(paths: list[Path]) -> dict[tuple[Path, str], list[Path]]:
    """Chunks of the same video (same folder and prefix), in chunk order."""
    groups: dict[tuple[Path, str], list[tuple[int, Path]]] = defaultdict(list)
    for path in paths:
        match = LABEL_CHUNK.match(path.name)
        if match is None:
            raise RecordingError(path, "not a toolbox label chunk (<video>_label<k>.npy)")
        groups[(path.parent, match["video"])].append((int(match["chunk"]), path))
    return {key: [p for _, p in sorted(chunks)] for key, chunks in groups.items()}


def read_toolbox_video(video: str, chunks: list[Path], *, fs: float | None, form: SignalForm) -> Recording:
    if fs is None:
        raise RecordingError(chunks[0], "toolbox caches carry no sampling rate: pass --fs (the video rate)")
    values = np.concatenate([load_array(chunk) for chunk in chunks])
    return Recording(name=f"{video}_label*.npy", source=chunks[0], values=values, fs=fs, form=form, group=video)
