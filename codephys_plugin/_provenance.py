"""What a committed result was measured with: package versions and the machine."""

from __future__ import annotations

import platform
import sys

import numpy as np
import torch

from codephys_plugin._version import __version__


def provenance() -> dict[str, dict[str, object]]:
    return {"versions": {"codephys_plugin": __version__, "torch": torch.__version__, "numpy": np.__version__,
                         "python": sys.version.split()[0]},
            "machine": {"platform": platform.platform(), "processor": platform.processor(),
                        "cpus": torch.get_num_threads()}}
