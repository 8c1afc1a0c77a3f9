"""The rPPG-Toolbox's preprocessing of a whole video, per network recipe, so a lab video becomes the cache
chunks the toolbox's trainers (and `codephys-train --cache`) read.

Unlike the per-clip recipes of `codephys_plugin.adapters.input_recipes`, the toolbox normalises with
statistics of the **whole video** before it cuts chunks, and pads the difference signals with a trailing
zero so they keep one value per frame. Chunks are non-overlapping and the tail is dropped. Inputs are
saved channels-last (``t h w c``, the toolbox's "NDHWC" on disk), labels as ``(t)``, both float32 (the
toolbox casts to float32 when it loads them). SSPD, which the toolbox does not train, gets its repository's
input the same way: BGR frame differences in pixel units.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

DataType = Literal["Raw", "DiffNormalized", "Standardized", "BGRResiduals"]
LabelType = Literal["Raw", "DiffNormalized", "Standardized"]
DATA_TYPES: tuple[DataType, ...] = ("Raw", "DiffNormalized", "Standardized", "BGRResiduals")
LABEL_TYPES: tuple[LabelType, ...] = ("Raw", "DiffNormalized", "Standardized")
_EPS = 1e-7


@dataclass(frozen=True)
class ToolboxRecipe:
    """One network's PREPROCESS settings in the toolbox's configs."""

    data_types: tuple[DataType, ...]
    """Concatenated on the channel axis, in this order (3 channels each)."""
    label_type: LabelType
    size: int
    """Face crop height and width (RESIZE.H = RESIZE.W)."""
    chunk_length: int

    def __post_init__(self) -> None:
        unknown = [kind for kind in self.data_types if kind not in DATA_TYPES]
        if unknown or not self.data_types or self.label_type not in LABEL_TYPES:
            raise ValueError(f"toolbox recipe: data types must be among {DATA_TYPES} and the label type among "
                             f"{LABEL_TYPES}, got {self.data_types} / {self.label_type}")
        if self.size < 8 or self.chunk_length < 2:
            raise ValueError(f"toolbox recipe: size ≥ 8 and chunk_length ≥ 2 needed, got {self.size}, {self.chunk_length}")

    @property
    def channels(self) -> int:
        return 3 * len(self.data_types)

    @property
    def label_form(self) -> Literal["derivative", "waveform"]:
        """How `codephys-train --labels` must read the labels."""
        return "derivative" if self.label_type == "DiffNormalized" else "waveform"


RECIPES: dict[str, ToolboxRecipe] = {
    "deepphys": ToolboxRecipe(("DiffNormalized", "Standardized"), "DiffNormalized", 72, 180),
    "efficientphys": ToolboxRecipe(("Standardized",), "DiffNormalized", 72, 180),
    "physnet": ToolboxRecipe(("DiffNormalized",), "DiffNormalized", 72, 128),
    "physformer": ToolboxRecipe(("DiffNormalized",), "DiffNormalized", 128, 160),
    "sspd": ToolboxRecipe(("BGRResiduals",), "DiffNormalized", 128, 300),
    "raw": ToolboxRecipe(("Raw",), "Raw", 72, 160),
}
"""The toolbox configs' settings per network (see backbones.md; SSPD's from its repository, which trains at T=300,
with the DiffNormalized labels every own-head loss here reads); "raw" keeps pixel levels for any recipe."""


def preprocess_video(frames: np.ndarray, ppg: np.ndarray, recipe: ToolboxRecipe) -> tuple[np.ndarray, np.ndarray]:
    """``(t h w 3)`` RGB frames and ``(t)`` PPG -> ``(t h w c)`` inputs and ``(t)`` labels, float32."""
    frames = np.asarray(frames)
    ppg = np.asarray(ppg, dtype=np.float64)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.shape[1:3] != (recipe.size, recipe.size):
        raise ValueError(f"frames: expected (t {recipe.size} {recipe.size} 3) for this recipe, got {frames.shape}")
    if ppg.shape != frames.shape[:1]:
        raise ValueError(f"ppg: expected one sample per frame, shape ({frames.shape[0]},), got {ppg.shape}")
    video = frames.astype(np.float32)
    inputs = np.concatenate([_transform_frames(video, kind) for kind in recipe.data_types], axis=-1)
    return inputs, _transform_label(ppg, recipe.label_type).astype(np.float32)


def chunks(inputs: np.ndarray, labels: np.ndarray, chunk_length: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Non-overlapping ``(inputs, labels)`` chunks of `chunk_length` frames; the tail is dropped."""
    return [(inputs[start:start + chunk_length], labels[start:start + chunk_length])
            for start in range(0, len(labels) - chunk_length + 1, chunk_length)]


def _transform_frames(video: np.ndarray, kind: DataType) -> np.ndarray:
    if kind == "Raw":
        return video
    if kind == "DiffNormalized":
        ratio = (video[1:] - video[:-1]) / (video[1:] + video[:-1] + _EPS)
        return _padded(_unit_std(ratio))
    if kind == "BGRResiduals":
        bgr = video[..., ::-1]
        return _padded(bgr[1:] - bgr[:-1])
    return _unit_std(video - video.mean())


def _transform_label(ppg: np.ndarray, kind: LabelType) -> np.ndarray:
    if kind == "Raw":
        return ppg
    if kind == "DiffNormalized":
        return _padded(_unit_std(np.diff(ppg)))
    return _unit_std(ppg - ppg.mean())


def _unit_std(values: np.ndarray) -> np.ndarray:
    """Divided by the std over everything; a flat signal gives zeros (the toolbox turns its NaNs into 0)."""
    std = values.std()
    return values / std if std > 0 else np.zeros_like(values)


def _padded(values: np.ndarray) -> np.ndarray:
    """The toolbox appends one zero step so a difference signal keeps one value per frame."""
    return np.concatenate([values, np.zeros_like(values[:1])], axis=0)
