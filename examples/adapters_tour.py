"""Build each public-style network, load a DataParallel (`module.`-prefixed) checkpoint, print its features.

    python examples/adapters_tour.py [--frames 160]

Each network is created through timm at the toolbox's working configuration, its weights are saved the
way the toolbox's trainers save them (DataParallel keys) and loaded back strictly with
`load_checkpoint`; `adapter_for` then picks its adapter from its structure, and the adapter turns a
synthetic clip of raw frames into the network's input and its head-less features.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import timm
import torch

from codephys_plugin.adapters import adapter_for, load_checkpoint

NETWORKS = {  # name -> (timm arguments for clips of T steps, frame size)
    "deepphys": (lambda steps: {"img_size": 72}, 72),
    "efficientphys": (lambda steps: {"img_size": 72, "frame_depth": 10}, 72),
    "physformer": (lambda steps: {"num_frames": steps}, 128),
    "physnet": (lambda steps: {"num_frames": steps}, 72),
    "sspd": (lambda steps: {}, 128),
}


def synthetic_frames(steps: int, size: int) -> torch.Tensor:
    """'1 (t+1) 3 h w' skin-toned frames in pixel units with a 1.2 Hz pulse at 30 fps."""
    time = torch.arange(steps + 1) / 30.0
    pulse = torch.sin(2 * torch.pi * 1.2 * time)[None, :, None, None, None] * torch.tensor([0.3, 0.8, 0.5])[:, None, None]
    skin = torch.tensor([180.0, 120.0, 100.0])[:, None, None]
    return (skin + pulse + torch.randn(1, steps + 1, 3, size, size)).clamp(0, 255)


def shape(tensor: torch.Tensor | None) -> str:
    return "—" if tensor is None else " × ".join(str(size) for size in tensor.shape)


def tour(steps: int, workdir: Path) -> None:
    for name, (arguments, size) in NETWORKS.items():
        kwargs = arguments(steps)
        trained = timm.create_model(name, **kwargs)
        checkpoint = workdir / f"{name}.pth"
        torch.save({f"module.{key}": value for key, value in trained.state_dict().items()}, checkpoint)
        model = load_checkpoint(timm.create_model(name, **kwargs), checkpoint).eval()
        adapter = adapter_for(model)
        inputs = adapter.prepare(synthetic_frames(steps, size))
        with torch.no_grad():
            features = adapter(inputs)
        print(
            f"{name:14s} {type(adapter).__name__:21s} input {shape(inputs):24s} "
            f"spatial {shape(features.spatial):22s} temporal {shape(features.temporal):14s} from {features.layer}"
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=160, help="clip length T (divisible by 20 keeps every network happy)")
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as workdir:
        tour(args.frames, Path(workdir))


if __name__ == "__main__":
    main()
