"""rPPG-Toolbox preprocessed caches: ``<video>_label<k>.npy`` chunks, concatenated per video.

The toolbox stores labels at the video rate (usually 30 Hz, pass --fs) and, in its usual configs,
as DiffNormalized first differences; ``form`` says which the caches hold.
"""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

import numpy as np

from codephys_plugin.data.formats.numpy_array import read_array
from codephys_plugin.data.recording import Recording, RecordingError, SignalForm

LABEL_CHUNK = re.compile(r"^(?P<video>.+)_label(?P<chunk>\d+)\.npy$")


def is_label_chunk(path: Path) -> bool:
    return LABEL_CHUNK.match(path.name) is not None


def first_missing_chunk(indices: list[int]) -> int | None:
    """The first chunk index absent between a video's first and last chunk, or None if they are consecutive."""
    present = set(indices)
    return next((k for k in range(min(present), max(present) + 1) if k not in present), None)


def group_label_chunks(paths: list[Path]) -> dict[tuple[Path, str], list[Path]]:
    """Chunks of the same video (same folder and prefix), in chunk order; a video with a chunk missing
    in the middle is refused, naming the file, because joining over the hole would fake a continuous signal."""
    groups: dict[tuple[Path, str], list[tuple[int, Path]]] = defaultdict(list)
    for path in paths:
        match = LABEL_CHUNK.match(path.name)
        if match is None:
            raise RecordingError(path, "not a toolbox label chunk (<video>_label<k>.npy)")
        groups[(path.parent, match["video"])].append((int(match["chunk"]), path))
    for (folder, video), chunks in groups.items():
        missing = first_missing_chunk([index for index, _ in chunks])
        if missing is not None:
            raise RecordingError(folder / f"{video}_label{missing}.npy", missing_chunk_problem(video, missing))
    return {key: [p for _, p in sorted(chunks)] for key, chunks in groups.items()}


def missing_chunk_problem(video: str, missing: int) -> str:
    return (f"missing: video {video} has chunks before and after it, and joining them over the hole would fake "
            "a continuous signal; restore the file, or give the chunks after the gap a video name of their own")


def read_toolbox_video(video: str, chunks: list[Path], *, fs: float | None, form: SignalForm) -> Recording:
    if fs is None:
        raise RecordingError(chunks[0], "toolbox caches carry no sampling rate: pass --fs (the video rate)")
    arrays = [read_array(chunk) for chunk in chunks]
    integer = next((chunk for chunk, array in zip(chunks, arrays) if array.dtype.kind in "iu"), None)
    if form == "derivative" and integer is not None:
        raise RecordingError(integer, "integer labels cannot be DiffNormalized derivatives (those are normalised "
                                      "differences); if they are the raw PPG, pass --toolbox-labels waveform")
    values = np.concatenate(arrays).astype(np.float64)
    return Recording(name=f"{video}_label*.npy", source=chunks[0], values=values, fs=fs, form=form, group=video)
