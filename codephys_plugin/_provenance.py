"""What a committed result was measured with: package versions and the machine. Training on CPU is not bit for
bit the same across processors (torch picks its kernels by the instruction set), so the processor is named; a GPU's
model is named beside it, since its minutes and its kernels are the GPU's."""

from __future__ import annotations

import platform
import sys
from pathlib import Path

import numpy as np
import torch

from codephys_plugin._version import __version__


def provenance(device: torch.device | str | None = None) -> dict[str, dict[str, object]]:
    """Versions and machine; `device` is the one the result ran on, so a GPU host names the GPU that ran it."""
    return {"versions": {"codephys_plugin": __version__, "torch": torch.__version__, "numpy": np.__version__,
                         "python": sys.version.split()[0]},
            "machine": {"platform": platform.platform(), "processor": processor_name(),
                        "cpu_capability": torch.backends.cpu.get_cpu_capability(), "cpus": torch.get_num_threads(),
                        "gpu": gpu_name(device)}}


def gpu_name(device: torch.device | str | None = None) -> str | None:
    """The model of `device` when it is a CUDA device, else of the current one; None where torch sees no GPU."""
    if not torch.cuda.is_available():
        return None
    on_cuda = device is not None and torch.device(device).type == "cuda"
    return torch.cuda.get_device_name(device if on_cuda else None)


def processor_name(cpuinfo: Path = Path("/proc/cpuinfo")) -> str:
    """The processor's model name (Linux reads it from /proc/cpuinfo; `platform.processor()` is empty there)."""
    if cpuinfo.is_file():
        for line in cpuinfo.read_text(errors="replace").splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name":
                return value.strip()
    return platform.processor()
