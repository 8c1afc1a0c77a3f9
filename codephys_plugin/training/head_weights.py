"""A trained CodeQueryHead's weights as one safetensors file, written atomically, read without unpickling."""

from __future__ import annotations

import os
from pathlib import Path

import safetensors
import safetensors.torch
from torch import nn

from codephys_plugin._atomic import write_atomically
from codephys_plugin._state_dicts import compare_state_dicts


def save_head_weights(path: str | os.PathLike, head: nn.Module, metadata: dict[str, str]) -> Path:
    """Every tensor of ``head.state_dict()`` (backbone, head and frozen Stage I parts) plus string `metadata`."""
    target = Path(path)
    tensors = {name: tensor.detach().cpu().contiguous().clone() for name, tensor in head.state_dict().items()}
    payload = safetensors.torch.save(tensors, metadata=metadata)
    write_atomically(target, lambda stream: stream.write(payload))
    return target


def read_head_metadata(path: str | os.PathLike) -> dict[str, str]:
    with safetensors.safe_open(str(path), framework="pt") as handle:
        return handle.metadata() or {}


def load_head_weights(head: nn.Module, path: str | os.PathLike) -> nn.Module:
    """Load weights saved by `save_head_weights` into a head built the same way; differences are listed."""
    source = Path(path)
    if not source.is_file():
        raise FileNotFoundError(f"{source}: no such head weights file")
    tensors = safetensors.torch.load_file(str(source))
    mismatch = compare_state_dicts(head.state_dict(), tensors)
    if mismatch:
        raise ValueError(
            f"{source}: weights do not fit this head (was it built with another backbone, codebook or ablation?): "
            f"{_first(mismatch.missing)} missing, {_first(mismatch.unexpected)} unexpected, "
            f"{_first(mismatch.wrong_shape)} with the wrong shape"
        )
    head.load_state_dict(tensors, strict=True)
    return head


def _first(items: list, shown: int = 10) -> str:
    return f"{len(items)} {items[:shown]}" + (" ..." if len(items) > shown else "")
