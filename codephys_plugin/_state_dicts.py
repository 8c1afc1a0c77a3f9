"""Torch state on disk and in memory: read it without unpickling, and say how it differs from a model's."""

from __future__ import annotations

import pickle
import re
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import torch

ZIP_MAGIC = b"PK\x03\x04"
PICKLE_PROTOCOL_OPCODE = b"\x80"


def load_weights_only(path: Path, error: type[ValueError] = ValueError) -> object:
    """`torch.load(weights_only=True)` on CPU; a missing, tampered or unreadable file raises `error` naming it.

    The message is ours: torch's own text for these failures suggests ``weights_only=False``, which
    would execute whatever the file holds; we never pass that advice on.
    """
    if not path.is_file():
        raise error(f"{path}: no such checkpoint file")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as problem:
        raise error(f"{path}: {_unsafe_content(path, str(problem))}") from None
    except Exception:  # torch raises several types for truncated or foreign files
        raise error(f"{path}: not a readable torch checkpoint: {_unreadable(path)}") from None


def _unsafe_content(path: Path, problem: str) -> str:
    found = re.search(r"Unsupported global: GLOBAL ([\w.]+)", problem)
    if found:
        return (f"refused to unpickle: it holds a Python object of type {found.group(1)}, and only tensors and "
                "plain containers are read (weights_only=True); save the state_dict alone: "
                "torch.save(model.state_dict(), path)")
    with path.open("rb") as stream:
        is_pickle = stream.read(1) == PICKLE_PROTOCOL_OPCODE
    if zipfile.is_zipfile(path) or is_pickle:
        return "refused to unpickle: its pickle holds more than tensors and plain containers (weights_only=True)"
    return f"not a readable torch checkpoint: {_unreadable(path)}"


def _unreadable(path: Path) -> str:
    """Why a file torch cannot open is not a checkpoint, from its first bytes."""
    size = path.stat().st_size
    with path.open("rb") as stream:
        head = stream.read(4)
    if size == 0:
        return "the file is empty"
    if head == ZIP_MAGIC and not zipfile.is_zipfile(path):
        return (f"it starts as a torch.save archive but its zip directory is missing, so it is truncated or damaged "
                f"({size} bytes); copy or save it again")
    if head == ZIP_MAGIC:
        return "it is a zip archive without the records torch.save writes"
    return f"torch.save writes a zip archive (starting with {ZIP_MAGIC!r}); this file starts with {head!r}"


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
