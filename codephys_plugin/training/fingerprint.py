"""Short digests of what a run was trained on, so that `--resume` can refuse a checkpoint from other inputs."""

from __future__ import annotations

import hashlib
from typing import Iterable

import torch
from torch import nn
from torch.utils.data import ConcatDataset, Dataset, Subset


def tensors_digest(tensors: Iterable[torch.Tensor]) -> str:
    """sha256 (first 16 hex digits) of the tensors' shapes, dtypes and values."""
    digest = hashlib.sha256()
    for tensor in tensors:
        value = tensor.detach().cpu().contiguous()
        digest.update(f"{tuple(value.shape)}{value.dtype}".encode())
        digest.update(value.reshape(-1).view(torch.uint8).numpy().tobytes() if value.numel() else b"")
    return digest.hexdigest()[:16]


def structure_digest(module: nn.Module) -> str:
    """sha256 (16 hex digits) of a module's state_dict names and shapes: another backbone or codebook size differs."""
    listing = ";".join(f"{name}:{tuple(value.shape)}" for name, value in module.state_dict().items())
    return hashlib.sha256(listing.encode()).hexdigest()[:16]


def dataset_description(dataset: Dataset) -> str:
    """What a dataset draws from: its own `fingerprint()` when it has one, through any `Subset`s and
    `ConcatDataset`s."""
    if isinstance(dataset, Subset):
        return f"{dataset_description(dataset.dataset)}[{','.join(map(str, dataset.indices))}]"
    if isinstance(dataset, ConcatDataset):
        return "+".join(dataset_description(part) for part in dataset.datasets)
    describe = getattr(dataset, "fingerprint", None)
    return describe() if callable(describe) else type(dataset).__name__


def text_digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]
