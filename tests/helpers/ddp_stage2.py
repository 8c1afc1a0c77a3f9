"""Launched by torchrun from tests/test_train_cli.py: the codephys-train CLI on two CPU processes, then
each rank saves its head's final state so the test can check that the ranks stayed identical."""

import sys
from pathlib import Path

import torch

from codephys_plugin.train import build_head, build_parser, load_clips, training_config
from codephys_plugin.training.distributed import init_from_environment, shutdown
from codephys_plugin.training.stage2 import train_stage2


def run(bundle: str, out: Path) -> None:
    context = init_from_environment()
    args = build_parser().parse_args([
        "--backbone", "physnet", "--backbone-arg", "frames=32", "--codebook", bundle, "--size", "32",
        "--train-clips", "8", "--val-clips", "2", "--epochs", "2", "--batch-size", "2", "--select-by", "loss",
        "--no-progress",
        "--out", str(out / "run"),
    ])
    torch.manual_seed(100 + context.rank)  # ranks build their heads from different random states on purpose
    head = build_head(args)
    train, val = load_clips(args, head)
    history = train_stage2(head, train, val, training_config(args, head.config.fs), context=context)
    torch.save(head.state_dict(), out / f"rank{context.rank}.pt")
    print(f"rank {context.rank}: {len(history)} epochs, world size {context.world_size}")
    shutdown(context)


if __name__ == "__main__":
    run(sys.argv[1], Path(sys.argv[2]))
