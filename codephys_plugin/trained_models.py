"""The trained networks a command line names, bare and/or wrapped with the code-query head.

`codephys-predict` and `codephys-evaluate` share these options: `--backbone … [--checkpoint FILE]` alone
is the bare network through its adapter; `--head best.safetensors --codebook BUNDLE` the head (whose
saved weights hold its backbone's too); `--compare` both.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import torch

from codephys_plugin._cli_types import positive_int
from codephys_plugin.adapters import Adapter, adapter_for
from codephys_plugin.backbone_spec import add_backbone_options, load_backbone
from codephys_plugin.bundle import load_bundle
from codephys_plugin.code_query_head import CodeQueryHead
from codephys_plugin.training.head_weights import load_head_weights


@dataclass(frozen=True)
class TrainedModels:
    bare: Adapter | None
    head: CodeQueryHead | None

    @property
    def adapter(self) -> Adapter:
        """Either model's adapter (for the network's frame size)."""
        return self.bare if self.bare is not None else self.head.adapter


def add_model_options(parser: argparse.ArgumentParser) -> None:
    model = parser.add_argument_group("model")
    add_backbone_options(model)
    model.add_argument("--head", type=Path, help="a trained CodeQueryHead (codephys-train's best.safetensors)")
    model.add_argument("--codebook", type=Path, help="the Stage I bundle the head was trained with")
    model.add_argument("--compare", action="store_true", help="run the bare network (--checkpoint) and the head")
    model.add_argument("--output-form", choices=["derivative", "waveform"], default="derivative",
                       help="what the bare network outputs (default: derivative, the toolbox's DiffNormalized)")
    model.add_argument("--device", default="cpu", help="torch device (default: cpu)")
    model.add_argument("--batch-size", type=positive_int, default=4, help="clips per forward pass (default: 4)")


def check_model_options(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Refuse combinations that cannot mean anything, before any work."""
    if args.head is not None and args.codebook is None:
        parser.error("--head needs --codebook, the Stage I bundle it was trained with")
    if args.compare and args.head is None:
        parser.error("--compare runs the bare network and the head: give --head and --codebook")
    if args.compare and args.checkpoint is None:
        parser.error("--compare: give the bare network's --checkpoint (a bare network with random weights "
                     "measures nothing)")


def load_models(args: argparse.Namespace) -> TrainedModels:
    """The head (its backbone as saved with it) and/or the bare network (`--checkpoint`), in eval mode."""
    device = torch.device(args.device)
    head = None
    if args.head is not None:
        head = CodeQueryHead(load_backbone(args), codebook=load_bundle(args.codebook), freeze_backbone=True)
        load_head_weights(head, args.head)
        head = head.to(device).eval()
    bare = adapter_for(load_backbone(args)).to(device).eval() if head is None or args.compare else None
    return TrainedModels(bare, head)
