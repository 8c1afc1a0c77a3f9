"""Launched by torchrun from tests/test_pretrain_files.py: train the same tiny Stage I model on every
rank with DDP, save each rank's final state, and let rank 0 run the whole CLI too."""

import sys
from pathlib import Path

import torch

from codephys_plugin.autoencoder import AutoencoderConfig, SignalAutoencoder
from codephys_plugin.encoder import SignalCoderConfig
from codephys_plugin.pretrain import main
from codephys_plugin.query import CodebookConfig
from codephys_plugin.training.distributed import init_from_environment
from codephys_plugin.training.stage1 import Stage1TrainingConfig, train_stage1


def run(out: Path) -> None:
    context = init_from_environment()
    torch.manual_seed(100 + context.rank)  # ranks start from different random states on purpose
    model = SignalAutoencoder(AutoencoderConfig(coder=SignalCoderConfig(dim=8),
                                                codebook=CodebookConfig(num_codes=8, dim=8, update="ema",
                                                                        kmeans_init=True, dead_code_steps=2)))
    if context.active:
        for tensor in model.state_dict().values():
            torch.distributed.broadcast(tensor, src=0)
    t = torch.arange(64) / 30.0
    windows = torch.sin(2 * torch.pi * (1 + torch.rand(64, 1, generator=torch.Generator().manual_seed(0))) * t)
    train_stage1(model, windows, Stage1TrainingConfig(epochs=2, batch_size=4), context=context)
    torch.save(model.state_dict(), out / f"rank{context.rank}.pt")
    code = main(["--train-recordings", "4", "--val-recordings", "2", "--duration", "12", "--epochs", "1",
                 "--num-codes", "8", "--dim", "8", "--no-progress", "--out", str(out / "bundle.safetensors")])
    sys.exit(code)


if __name__ == "__main__":
    run(Path(sys.argv[1]))
