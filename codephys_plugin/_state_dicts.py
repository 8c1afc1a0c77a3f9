"""Torch state on disk and in memory: read it without unpickling, and say how it differs from a model's."""

from __future__ import annotations

import pickle
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import torch


def load_weights_only(path: Path, error: type[ValueError] = ValueError) -> object:
    """`torch.load(weights_only=True)` on CPU; a missing, tampered or unreadable file raises `error` naming it."""
    if not path.is_file():
        raise error(f"{path}: no such checkpoint file")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as problem:
        raise error(
            f"{path}: refused to unpickle (weights_only=True allows only tensors and plain containers): {problem}"
        ) from None
    except Exception as problem:  # torch raises several types for truncated or foreign files
        raise error(f"{path}: not a readable torch checkpoint ({problem})") from None


@dataclass(frozen=True)
class StateDictMismatch:
    """How a given state_dict differs from the expected one; wrong_shape holds (key, given, expected)."""

    missing: list[str]
    unexpected: list[str]
    wrong_shape: list[tuple[str, tuple[int, ...], tuple[int, ...]]]

    def __bool__(self) -> bool:
        return bool(self.missing or self.unexpected or self.wrong_shape)


def compare_state_dicts(expected: Mapping[str, torch.Tensor], given: Mapping[str, torch.Tensor]) -> StateDictMismatch:
    return StateDictMismatch(
        missing=sorted(set(expected) - set(given)),
        unexpected=sorted(set(given) - set(expected)),
        wrong_shape=[
            (key, tuple(given[key].shape), tuple(expected[key].shape))
            for key in sorted(set(expected) & set(given))
            if given[key].shape != expected[key].shape
        ],
    )
