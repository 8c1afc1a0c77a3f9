"""Resumable training state, written atomically and read back without unpickling arbitrary objects."""

from __future__ import annotations

import os
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch

from codephys_plugin._atomic import write_atomically
from codephys_plugin._state_dicts import load_weights_only


class ResumeError(ValueError):
    """A checkpoint that cannot be continued: unreadable, not ours, or of another run; the message says which."""


def save_checkpoint(path: str | os.PathLike, state: dict[str, Any]) -> None:
    """Write `state` (tensors, numbers, strings, nested dicts and lists only) to `path` atomically."""
    write_atomically(Path(path), lambda stream: torch.save(state, stream))


def load_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """Read a checkpoint with ``weights_only=True``: a tampered file cannot run code."""
    source = Path(path)
    state = load_weights_only(source, ResumeError)
    if not isinstance(state, dict) or "epoch" not in state or "model" not in state:
        raise ResumeError(f"{source}: not a codephys training checkpoint")
    return state


def training_state(
    *, model: torch.nn.Module, optimizer: torch.optim.Optimizer, order_rng: torch.Generator, history: list[Any],
    settings: dict[str, Any], **stateful: Any,
) -> dict[str, Any]:
    """What a run needs to continue exactly: weights, optimiser (and any other `stateful` object's
    state_dict, e.g. a schedule), the data-order and torch random states, per-epoch summaries
    (dataclasses) and the settings that must not change on resume."""
    return {
        "epoch": len(history),
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        **{name: value.state_dict() for name, value in stateful.items()},
        "order_rng": order_rng.get_state(),
        "torch_rng": torch.get_rng_state(),
        "history": [asdict(summary) for summary in history],
        "training": settings,
    }


def restore_training_state(
    state: dict[str, Any], *, model: torch.nn.Module, optimizer: torch.optim.Optimizer, order_rng: torch.Generator,
    settings: dict[str, Any], **stateful: Any,
) -> list[dict[str, Any]]:
    """Load what `training_state` saved into the live objects; returns the saved per-epoch summaries."""
    saved = state.get("training", {})
    if saved != settings:
        differences = [f"{key}: checkpoint {saved.get(key, 'not recorded')!r}, now {settings.get(key, 'not set')!r}"
                       for key in sorted(set(saved) | set(settings)) if saved.get(key) != settings.get(key)]
        raise ResumeError("the checkpoint is of another run, so it cannot be resumed (start afresh, or restore "
                         "the run's inputs and options); it differs in " + "; ".join(differences))
    model.load_state_dict(state["model"], strict=True)
    optimizer.load_state_dict(state["optimizer"])
    for name, value in stateful.items():
        value.load_state_dict(state[name])
    order_rng.set_state(state["order_rng"])
    torch.set_rng_state(state["torch_rng"])
    return state["history"]
