"""What the code-query stage costs at inference: CodeQueryHead(backbone) against the bare backbone.

    python examples/benchmark_head_overhead.py                       # all five networks, CPU (+ CUDA)
    python examples/benchmark_head_overhead.py --networks physnet sspd --devices cpu --repeats 9

For each network (batch 1, T = 160 frames; PhysFormer and SSPD at 128 × 128, the others at 72 × 72):
- ``backbone``: the network with its own head, ``adapter.rppg(inputs)``, the baseline;
- ``+ head``: ``CodeQueryHead(network)(inputs)`` in eval mode: the headless backbone, projection,
  SAM, E_vf, the prior branch, the code query and the frozen decoder.
Both take the same prepared inputs, so input recipes are not timed. Calls alternate between the two
and the median of ``--repeats`` is reported, so slow drifts of the machine hit both alike. ``extra``
is the head's added latency relative to the backbone (the target is at most 10%).

Parameters count what runs at inference: the backbone without its own head for ``+ head``, plus
everything CodeQueryHead adds; E_ppg and the target encoder are used only in training and left out.
MACs come from torch's FlopCounterMode (multiply-accumulates, half its FLOPs), with torchvision's
deform_conv2d counted as the convolution it computes. Weights are random: latency does not depend on
them. The codebook bundle is a randomly initialised one of window T unless ``--codebook`` is given.
"""

from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import dataclass
from typing import Callable

import timm
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode, conv_flop_count

import codephys_plugin.adapters  # noqa: F401  (registers the networks with timm)
from codephys_plugin.autoencoder import SignalAutoencoder
from codephys_plugin.bundle import Bundle, BundleConfig, load_bundle
from codephys_plugin.code_query_head import CodeQueryHead
from codephys_plugin.training.windows import WindowConfig

NETWORK_SIZES = {"deepphys": 72, "efficientphys": 72, "physformer": 128, "physnet": 72, "sspd": 128}
"""The working input size of each network, as in the toolbox's configurations and the SSPD repository."""
CLIP_LENGTH_KWARG = {"physformer": "num_frames", "physnet": "num_frames"}
TRAINING_ONLY = ("ppg_features.", "target_encoder.")


@dataclass(frozen=True)
class Row:
    device: str
    network: str
    backbone_ms: float
    head_ms: float
    backbone_params: int
    head_params: int
    backbone_macs: int
    head_macs: int

    @property
    def extra(self) -> float:
        return self.head_ms / self.backbone_ms - 1


def interleaved_medians(calls: list[Callable[[], object]], device: torch.device, repeats: int) -> list[float]:
    """Median wall time in ms of each call; after one warm-up each, the calls take turns `repeats` times."""
    for call in calls:
        call()
    samples: list[list[float]] = [[] for _ in calls]
    for _ in range(repeats):
        for call, times in zip(calls, samples):
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            start = time.perf_counter()
            call()
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            times.append((time.perf_counter() - start) * 1e3)
    return [statistics.median(times) for times in samples]


def _deform_conv2d_flops(x_shape, weight_shape, offset_shape, mask_shape, bias_shape, *args, out_shape, **kwargs):
    return conv_flop_count(list(x_shape), list(weight_shape), list(out_shape))


def macs(call: Callable[[], object]) -> int:
    """Multiply-accumulates of one call; deformable convolutions count as the convolution they compute."""
    mapping = {torch.ops.torchvision.deform_conv2d: _deform_conv2d_flops}
    with FlopCounterMode(display=False, custom_mapping=mapping) as counter:
        call()
    return counter.get_total_flops() // 2


def count(parameters) -> int:
    return sum(parameter.numel() for parameter in parameters)


def inference_parameters(head: CodeQueryHead) -> int:
    """CodeQueryHead's parameters that run at inference: without the backbone's own head, E_ppg or the target encoder."""
    own_head = {id(p) for name in head.adapter.head_modules for p in head.adapter.model.get_submodule(name).parameters()}
    return count(
        parameter for name, parameter in head.named_parameters()
        if id(parameter) not in own_head and not name.startswith(TRAINING_ONLY)
    )


def random_bundle(frames: int) -> Bundle:
    config = BundleConfig(windows=WindowConfig(window=frames, hop=frames // 4))
    return Bundle(SignalAutoencoder(config.autoencoder).eval(), config)


def build_network(name: str, frames: int) -> nn.Module:
    kwargs = {CLIP_LENGTH_KWARG[name]: frames} if name in CLIP_LENGTH_KWARG else {}
    return timm.create_model(name, **kwargs)


def measure(name: str, bundle: Bundle, frames: int, device: torch.device, repeats: int, grid: int | None) -> Row:
    torch.manual_seed(0)
    head = CodeQueryHead(build_network(name, frames), codebook=bundle, grid=grid).to(device).eval()
    size = NETWORK_SIZES[name]
    raw = 100 + 50 * torch.rand(1, frames + 1, 3, size, size, device=device)
    with torch.inference_mode():
        inputs = head.adapter.prepare(raw)
        backbone = lambda: head.adapter.rppg(inputs)  # noqa: E731
        with_head = lambda: head(inputs)  # noqa: E731
        backbone_ms, head_ms = interleaved_medians([backbone, with_head], device, repeats)
        backbone_macs, head_macs = macs(backbone), macs(with_head)
    return Row(
        device=str(device), network=name, backbone_ms=backbone_ms, head_ms=head_ms,
        backbone_params=count(head.adapter.model.parameters()), head_params=inference_parameters(head),
        backbone_macs=backbone_macs, head_macs=head_macs,
    )


def format_rows(rows: list[Row], frames: int, repeats: int) -> str:
    header = (f"{'device':6} {'network':13} {'input':>12} {'backbone ms':>11} {'+ head ms':>9} {'extra':>7} "
              f"{'params M':>8} {'+ head M':>8} {'MACs G':>7} {'+ head G':>8}")
    lines = [f"batch 1, T={frames}, median of {repeats} alternating calls; extra = (+ head) / backbone - 1", header]
    for row in rows:
        size = NETWORK_SIZES[row.network]
        lines.append(
            f"{row.device:6} {row.network:13} {f'{size}x{size}':>12} {row.backbone_ms:11.1f} {row.head_ms:9.1f} "
            f"{row.extra:+7.1%} {row.backbone_params / 1e6:8.3f} {row.head_params / 1e6:8.3f} "
            f"{row.backbone_macs / 1e9:7.2f} {row.head_macs / 1e9:8.2f}"
        )
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--networks", nargs="+", choices=sorted(NETWORK_SIZES), default=list(NETWORK_SIZES))
    parser.add_argument("--devices", nargs="+", choices=["cpu", "cuda"], default=None,
                        help="default: cpu, and cuda when available")
    parser.add_argument("--frames", type=int, default=160, help="T, a multiple of 4 (default: 160)")
    parser.add_argument("--repeats", type=int, default=7, help="timed calls of each model (default: 7)")
    parser.add_argument("--grid", type=int, default=4, help="CodeQueryHead's E_vf grid; 0 keeps the full map (default: 4)")
    parser.add_argument("--codebook", help="a Stage I bundle whose window is --frames (default: a random one)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> list[Row]:
    args = parse_args(argv)
    devices = args.devices or ["cpu", *(["cuda"] if torch.cuda.is_available() else [])]
    if "cuda" in devices and not torch.cuda.is_available():
        raise SystemExit("benchmark_head_overhead: --devices cuda, but no CUDA device is available")
    bundle = load_bundle(args.codebook) if args.codebook else random_bundle(args.frames)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads"
          + (f", {torch.cuda.get_device_name()}" if "cuda" in devices else ""))
    rows = [
        measure(name, bundle, args.frames, torch.device(device), args.repeats, args.grid or None)
        for device in devices for name in args.networks
    ]
    print(format_rows(rows, args.frames, args.repeats))
    return rows


if __name__ == "__main__":
    main()
