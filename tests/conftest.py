import os

import pytest
import torch

# Hypothesis runs many small cases; keep torch single-threaded so they stay fast and deterministic.
torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))


@pytest.fixture
def generator() -> torch.Generator:
    return torch.Generator().manual_seed(1234)


@pytest.fixture(autouse=True)
def _seed_global_rng():
    """Code under test draws from torch's global RNG (k-means++ seeds, restarts): make it repeatable."""
    torch.manual_seed(0)
