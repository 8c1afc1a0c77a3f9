"""The fused Triton kernel, run on CPU by Triton's interpreter, against a float64 brute force."""

import subprocess
import sys
from pathlib import Path

import pytest
import torch

from tests.helpers.search_cases import CASES, TIES, assert_lowest_index_wins_ties, assert_nearest_codes

pytest.importorskip("triton")

HELPER = Path(__file__).parent / "helpers" / "triton_interpreted_search.py"


@pytest.fixture(scope="module")
def kernel_results(tmp_path_factory):
    folder = tmp_path_factory.mktemp("triton")
    torch.save(CASES, folder / "cases.pt")
    completed = subprocess.run(
        [sys.executable, str(HELPER), str(folder / "cases.pt"), str(folder / "results.pt")],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert completed.returncode == 0, completed.stderr[-4000:]
    return torch.load(folder / "results.pt", weights_only=True)


@pytest.mark.parametrize("name", sorted(CASES))
def test_kernel_matches_float64_brute_force(kernel_results, name):
    assert_nearest_codes(name, *kernel_results[name])


@pytest.mark.parametrize("name", sorted(TIES))
def test_kernel_breaks_exact_ties_to_the_lowest_index(kernel_results, name):
    assert_lowest_index_wins_ties(name, *kernel_results[name])
