"""rPPG-Toolbox preprocessed caches as Stage II clips: ``<video>_input<k>.npy`` with ``<video>_label<k>.npy``.

Reusing the toolbox's caches means training on exactly the face crops and labels its baselines saw.
The toolbox writes every input chunk channels-last, ``(t h w c)`` (layout "NDHWC"); its DATA_FORMAT
is applied only when its own loader reads a chunk, so "NDCHW" ``(t c h w)`` and "NCDHW"
``(c t h w)`` are for caches saved after that transpose. C is 3 or 6 (one or two of the
Raw / DiffNormalized / Standardized DATA_TYPEs). Labels are ``(t)``, usually DiffNormalized.
Every chunk is checked when read, and a bad one is reported by file name.
"""

from __future__ import annotations

import operator
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from codephys_plugin.data.formats.numpy_array import open_numpy
from codephys_plugin.data.formats.toolbox_cache import LABEL_CHUNK, first_missing_chunk, missing_chunk_problem

INPUT_CHUNK = re.compile(r"^(?P<video>.+)_input(?P<chunk>\d+)\.npy$")

Layout = Literal["NDHWC", "NDCHW", "NCDHW"]
AXES: dict[str, str] = {"NDHWC": "t h w c", "NDCHW": "t c h w", "NCDHW": "c t h w"}
"""Each layout's axes in einops notation."""
CHANNELS = (3, 6)


@dataclass(frozen=True)
class ToolboxClip:
    input_path: Path
    label_path: Path
    video: str
    chunk: int


def find_toolbox_clips(directory: str | Path) -> list[ToolboxClip]:
    """Every input chunk in `directory` (not its subfolders) with its label, by video then chunk index.

    Raises ``FileNotFoundError`` naming the file when a chunk has no partner, or when there are no chunks.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise FileNotFoundError(f"{directory}: not a directory (expected an rPPG-Toolbox cache folder)")
    clips = []
    for path in sorted(directory.iterdir()):
        if (match := INPUT_CHUNK.match(path.name)) is not None:
            label = path.with_name(f"{match['video']}_label{match['chunk']}.npy")
            if not label.is_file():
                raise FileNotFoundError(f"{path}: input chunk without its label chunk {label.name}")
            clips.append(ToolboxClip(path, label, match["video"], int(match["chunk"])))
        elif (match := LABEL_CHUNK.match(path.name)) is not None:
            partner = path.with_name(f"{match['video']}_input{match['chunk']}.npy")
            if not partner.is_file():
                raise FileNotFoundError(f"{path}: label chunk without its input chunk {partner.name}")
    if not clips:
        raise FileNotFoundError(f"{directory}: no rPPG-Toolbox input chunks (<video>_input<k>.npy)")
    _check_consecutive(directory, clips)
    return sorted(clips, key=lambda clip: (clip.video, clip.chunk))


def _check_consecutive(directory: Path, clips: list[ToolboxClip]) -> None:
    by_video: dict[str, list[int]] = {}
    for clip in clips:
        by_video.setdefault(clip.video, []).append(clip.chunk)
    for video, indices in by_video.items():
        missing = first_missing_chunk(indices)
        if missing is not None:
            raise FileNotFoundError(f"{directory / f'{video}_input{missing}.npy'}: {missing_chunk_problem(video, missing)}")


class ToolboxClipDataset(Dataset):
    """``(inputs, label)`` per clip: inputs ``(t c h w)`` float32 whatever the cache's `layout`, label ``(t)``."""

    def __init__(self, clips: Sequence[ToolboxClip], *, layout: Layout = "NDHWC") -> None:
        if layout not in AXES:
            raise ValueError(f"layout must be one of {sorted(AXES)}, got {layout!r}")
        self.clips = tuple(clips)
        for clip in self.clips:
            if not isinstance(clip, ToolboxClip):
                raise TypeError(f"clips must be ToolboxClip (see find_toolbox_clips), got {type(clip).__name__}")
        self.layout = layout

    def __len__(self) -> int:
        return len(self.clips)

    def fingerprint(self) -> str:
        """Names and sizes of every chunk file: another cache, or a chunk written anew, gives another one."""
        return ";".join(f"{clip.input_path.name}:{clip.input_path.stat().st_size}:{clip.label_path.stat().st_size}"
                        for clip in self.clips) + f";{self.layout}"

    def validate(self, label_form: str) -> None:
        """Read every chunk once, before training: non-finite values, mixed chunk shapes and labels that
        cannot be in `label_form` are errors naming the file, instead of surprises after an epoch."""
        first_shape, first_path = None, None
        for clip in self.clips:
            inputs = _read_inputs(clip.input_path, self.layout)
            label = _load(clip.label_path)
            _checked_label(label, clip.label_path, frames=inputs.shape[0], input_path=clip.input_path)
            if first_shape is None:
                first_shape, first_path = tuple(inputs.shape), clip.input_path
            elif tuple(inputs.shape) != first_shape:
                raise ValueError(f"{clip.input_path}: chunk of shape {tuple(inputs.shape)} (t c h w) differs from "
                                 f"{first_path.name}'s {first_shape}; every chunk of a cache must have one size")
            if label_form == "derivative" and label.dtype.kind in "iu":
                raise ValueError(f"{clip.label_path}: integer labels cannot be DiffNormalized derivatives "
                                 "(those are normalised differences); if they are the raw PPG, pass --labels waveform")

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        clip = self.clips[operator.index(index)]
        inputs = _read_inputs(clip.input_path, self.layout)
        label = _read_label(clip.label_path, frames=inputs.shape[0], input_path=clip.input_path)
        return torch.from_numpy(inputs), torch.from_numpy(label)


def _read_inputs(path: Path, layout: str) -> np.ndarray:
    """The chunk as ``(t c h w)`` float32."""
    array = _load(path)
    axes = AXES[layout]
    if array.ndim != 4:
        raise ValueError(f"{path}: expected a 4-D input chunk ({axes}) for layout {layout}, got shape {array.shape}")
    if array.shape[axes.split().index("c")] not in CHANNELS:
        fits = [name for name, other in AXES.items() if array.shape[other.split().index("c")] in CHANNELS]
        hint = "".join(f"; looks like {name} ({AXES[name]}): pass layout={name!r}" for name in fits)
        raise ValueError(
            f"{path}: expected ({axes}) with c in {CHANNELS} for layout {layout}, got shape {array.shape}{hint}"
        )
    if array.dtype.kind in "iu":
        raise ValueError(
            f"{path}: integer pixels ({array.dtype}); Stage II trains on the toolbox's preprocessed float chunks "
            "(DiffNormalized or Standardized DATA_TYPE): preprocess the videos with the toolbox, or give raw frames "
            "to CodeQueryHead.predict, which applies the network's input recipe"
        )
    values = _finite_float32(array, path)
    return np.ascontiguousarray(np.transpose(values, [axes.split().index(a) for a in "t c h w".split()]))


def _read_label(path: Path, *, frames: int, input_path: Path) -> np.ndarray:
    return _checked_label(_load(path), path, frames=frames, input_path=input_path)


def _checked_label(array: np.ndarray, path: Path, *, frames: int, input_path: Path) -> np.ndarray:
    """A 1-D, finite label of `frames` samples as float32."""
    if array.ndim != 1:
        raise ValueError(f"{path}: expected a 1-D label (t), got shape {array.shape}")
    if array.size != frames:
        raise ValueError(f"{path}: label has {array.size} samples but input {input_path.name} has {frames} frames")
    return _finite_float32(array, path)


def _load(path: Path) -> np.ndarray:
    """A non-empty real-valued ``.npy`` array, never unpickled."""
    if not path.is_file():
        raise FileNotFoundError(f"{path}: chunk file not found")
    loaded = open_numpy(path)
    if isinstance(loaded, np.lib.npyio.NpzFile):
        loaded.close()
        raise ValueError(f"{path}: is an .npz archive; expected a single .npy array")
    if loaded.dtype.kind not in "iuf":
        raise ValueError(f"{path}: expected real numbers, got dtype {loaded.dtype}")
    if loaded.size == 0:
        raise ValueError(f"{path}: empty array of shape {loaded.shape}")
    return loaded


def _finite_float32(array: np.ndarray, path: Path) -> np.ndarray:
    """Cast to float32 and refuse NaN/Inf, including values too large for float32."""
    with np.errstate(over="ignore"):
        values = array.astype(np.float32)
    bad = ~np.isfinite(values)
    if bad.any():
        first = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(f"{path}: {int(bad.sum())} non-finite value(s) (NaN or Inf), first at index {first}")
    return values
