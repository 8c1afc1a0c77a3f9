"""Load the checkpoints labs already have into a network, without ever unpickling arbitrary objects.

Accepted: a plain state_dict, a {"state_dict": ...} or {"model_state_dict": ...} wrapper, keys with
DataParallel's `module.` or torch.compile's `_orig_mod.` prefixes, from `.pth`/`.pt` (read with
`torch.load(weights_only=True)`) or `.safetensors`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import torch
from torch import nn

from codephys_plugin._state_dicts import compare_state_dicts, load_weights_only

WRAPPER_KEYS = ("state_dict", "model_state_dict", "model")
STRIPPED_PREFIXES = ("module.", "_orig_mod.")


class CheckpointError(ValueError):
    """A checkpoint that cannot be read, or does not fit the network; the message names file and keys."""


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """The tensors of a checkpoint file, unwrapped and with wrapper prefixes stripped."""
    path = Path(path)
    if path.suffix == ".safetensors" and path.is_file():
        from safetensors.torch import load_file

        return strip_prefixes(load_file(str(path)))
    return strip_prefixes(unwrap_state_dict(load_weights_only(path, CheckpointError), str(path)))


def unwrap_state_dict(loaded: object, source: str) -> Mapping[str, torch.Tensor]:
    if isinstance(loaded, Mapping):
        for key in WRAPPER_KEYS:
            if isinstance(loaded.get(key), Mapping):
                return loaded[key]
        if loaded and all(isinstance(value, torch.Tensor) for value in loaded.values()):
            return loaded
    kind = type(loaded).__name__
    keys = sorted(loaded)[:8] if isinstance(loaded, Mapping) else []
    raise CheckpointError(
        f"{source}: expected a state_dict (name -> tensor) or a dict holding one under {WRAPPER_KEYS}; "
        f"got {kind}{f' with keys {keys}' if keys else ''}"
    )


def strip_prefixes(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Remove a wrapper prefix shared by every key (DataParallel's `module.`, torch.compile's `_orig_mod.`)."""
    state = dict(state)
    for prefix in STRIPPED_PREFIXES:
        if state and all(key.startswith(prefix) for key in state):
            state = {key[len(prefix) :]: value for key, value in state.items()}
    return state


def _describe_mismatch(model: nn.Module, state: Mapping[str, torch.Tensor], source: str) -> str | None:
    mismatch = compare_state_dicts(model.state_dict(), state)
    if not mismatch:
        return None
    missing, unexpected = mismatch.missing, mismatch.unexpected
    wrong_shape = [f"{key}: checkpoint {given} vs model {expected}" for key, given, expected in mismatch.wrong_shape]
    lines = [f"{source} does not fit {type(model).__name__}:"]
    for title, items in (("missing keys", missing), ("unexpected keys", unexpected), ("shape mismatches", wrong_shape)):
        if items:
            shown = ", ".join(items[:10]) + (f", … ({len(items) - 10} more)" if len(items) > 10 else "")
            lines.append(f"  {len(items)} {title}: {shown}")
    return "\n".join(lines)


def load_checkpoint(
    model: nn.Module, checkpoint: str | Path | Mapping[str, torch.Tensor], *, strict: bool = True
) -> nn.Module:
    """Load `checkpoint` (a path or a state_dict) into `model` and return the model.

    With strict=True any missing or unexpected key or wrong shape raises CheckpointError listing them all;
    with strict=False only shape mismatches raise, and the key differences are allowed.
    """
    if isinstance(checkpoint, Mapping):
        source, state = "state_dict", strip_prefixes(unwrap_state_dict(checkpoint, "state_dict"))
    else:
        source, state = str(checkpoint), read_state_dict(checkpoint)
    problem = _describe_mismatch(model, state, source)
    if problem and (strict or "shape mismatches" in problem):
        raise CheckpointError(problem)
    model.load_state_dict(state, strict=strict)
    return model
