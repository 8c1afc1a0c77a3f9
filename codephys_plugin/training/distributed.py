"""Process-group setup for ``torchrun``: gloo on CPU, nccl on CUDA."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from typing import Callable

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class DistributedContext:
    rank: int = 0
    world_size: int = 1
    device: torch.device = torch.device("cpu")

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world_size > 1

    @classmethod
    def alone_with(cls, model: torch.nn.Module) -> DistributedContext:
        """One process on the model's own device: what training does without a context (a model moved to CUDA
        trains there, rather than on a default device)."""
        return cls(device=next(model.parameters()).device)


def init_from_environment() -> DistributedContext:
    """Join the process group that ``torchrun`` describes in the environment, if any."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return DistributedContext(device=torch.device("cuda" if torch.cuda.is_available() else "cpu"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if torch.cuda.is_available():
        torch.cuda.set_device(local_rank)
        device = torch.device("cuda", local_rank)
    else:
        device = torch.device("cpu")
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return DistributedContext(dist.get_rank(), dist.get_world_size(), device)


def shutdown(context: DistributedContext) -> None:
    if context.active and dist.is_initialized():
        dist.destroy_process_group()


def run_in_process_group(
    program: str, run: Callable[[DistributedContext], int], errors: tuple[type[BaseException], ...]
) -> int:
    """A command's body inside the ``torchrun`` process group (or alone): an expected `errors` is printed
    as ``program: error: ...`` with exit status 2, and the group is always left cleanly."""
    context = init_from_environment()
    try:
        return run(context)
    except errors as error:
        print(f"{program}: error: {error}", file=sys.stderr)
        return 2
    finally:
        shutdown(context)
