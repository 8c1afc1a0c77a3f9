"""Resumable training state, written atomically and read back without unpickling arbitrary objects."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from codephys_plugin._atomic import write_atomically
from codephys_plugin._state_dicts import load_weights_only


def save_checkpoint(path: str | os.PathLike, state: dict[str, Any]) -> None:
    """Write `state` (tensors, numbers, strings, nested dicts and lists only) to `path` atomically."""
    write_atomically(Path(path), lambda stream: torch.save(state, stream))


def load_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """Read a checkpoint with ``weights_only=True``: a tampered file cannot run code."""
    source = Path(path)
    state = load_weights_only(source)
    if not isinstance(state, dict) or "epoch" not in state or "model" not in state:
        raise ValueError(f"{source}: not a codephys training checkpoint")
    return state
