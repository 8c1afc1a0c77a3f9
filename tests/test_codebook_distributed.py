"""Two gloo processes with different tokens must end with bit-identical codebooks."""

import sys

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from codephys_plugin.query.codebook import Codebook

pytestmark = pytest.mark.skipif(not dist.is_available() or sys.platform == "win32", reason="needs torch.distributed")

WORLD_SIZE = 2


def _worker(rank: int, init_file: str, out_dir: str, update: str) -> None:
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=WORLD_SIZE)
    try:
        torch.manual_seed(100 + rank)  # every rank draws different data and different random numbers
        codebook = Codebook(num_codes=16, dim=4, update=update, kmeans_init=True, dead_code_steps=2)
        optimizer = torch.optim.SGD(codebook.parameters(), lr=0.1) if update == "gradient" else None
        for step in range(6):
            tokens = torch.randn(2, 30, 4) * (rank + 1) + step
            out = codebook(tokens)
            if optimizer is not None:
                optimizer.zero_grad()
                out.codebook_loss.backward()
                for parameter in codebook.parameters():
                    dist.all_reduce(parameter.grad)
                    parameter.grad /= WORLD_SIZE
                optimizer.step()
        torch.save({k: v.detach() for k, v in codebook.state_dict().items()}, f"{out_dir}/rank{rank}.pt")
    finally:
        dist.destroy_process_group()


@pytest.mark.parametrize("update", ["ema", "gradient"])
def test_codebooks_stay_identical_across_ranks(tmp_path, update):
    mp.start_processes(
        _worker, args=(str(tmp_path / "init"), str(tmp_path), update), nprocs=WORLD_SIZE, start_method="spawn"
    )
    states = [torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in range(WORLD_SIZE)]
    # Exact equality is the code's guarantee, not one BLAS's: every rank applies the same all-reduced
    # values (gloo computes each reduced element once and sends it to all), whatever the CPU.
    for key in states[0]:
        assert torch.equal(states[0][key], states[1][key]), f"{key} differs between ranks"
    assert bool(states[0]["initialized"])
    assert int(states[0]["usage_counts"].sum()) == 6 * 2 * 30 * WORLD_SIZE
