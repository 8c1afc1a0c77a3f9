"""What the code-query stage costs at inference: CodeQueryHead(backbone) against the bare backbone.

    python examples/benchmark_head_overhead.py                       # all five networks, CPU (+ CUDA)
    python examples/benchmark_head_overhead.py --networks physnet sspd --devices cpu --repeats 9
    python examples/benchmark_head_overhead.py --networks physnet --by-part   # where the head's operators go

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
deform_conv2d counted as the convolution it computes. ``ops`` counts the ATen operators one call dispatches
(views included) and ``syncs`` those among them that read values back to the host (``bool(t)``, ``t.item()``,
``nonzero``), each of which makes a CUDA host wait for the GPU: on a GPU, where a small operator costs its
launch rather than its arithmetic, these two explain the latency better than MACs do. Weights are random:
latency does not depend on them. The codebook bundle is a randomly initialised one of window T unless ``--codebook`` is given.
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
from torch.utils._python_dispatch import TorchDispatchMode
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
class Dispatch:
    """What one call asks of the device: ATen operators dispatched, and host syncs among them."""

    ops: int
    syncs: int


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
    backbone_dispatch: Dispatch
    head_dispatch: Dispatch

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


HOST_READS = {torch.ops.aten._local_scalar_dense.default, torch.ops.aten.item.default,
              torch.ops.aten.is_nonzero.default, torch.ops.aten.nonzero.default}
"""Operators whose result the host must wait for: scalar reads (as dispatched outside and inside inference mode)
and `nonzero`, whose output size depends on the values."""


class _DispatchCounter(TorchDispatchMode):
    def __init__(self) -> None:
        super().__init__()
        self.ops = self.syncs = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.ops += 1
        self.syncs += func in HOST_READS
        return func(*args, **(kwargs or {}))


def dispatched(call: Callable[[], object]) -> Dispatch:
    """The ATen operators one call dispatches, and how many of them read a scalar back to the host."""
    with _DispatchCounter() as counter:
        call()
    return Dispatch(counter.ops, counter.syncs)


def dispatched_by_part(head: CodeQueryHead, inputs: torch.Tensor) -> dict[str, Dispatch]:
    """`dispatched` of one head call, split among the head's parts (its direct submodules); what runs outside them
    (windowing, checks) is under "head itself"."""
    counter, started, parts = _DispatchCounter(), {}, {}

    def enter(name: str):
        return lambda module, args: started.__setitem__(name, (counter.ops, counter.syncs))

    def leave(name: str):
        def hook(module, args, output):
            ops, syncs = started.pop(name)
            done = parts.get(name, Dispatch(0, 0))
            parts[name] = Dispatch(done.ops + counter.ops - ops, done.syncs + counter.syncs - syncs)
        return hook

    handles = [hook for name, module in head.named_children()
               for hook in (module.register_forward_pre_hook(enter(name)), module.register_forward_hook(leave(name)))]
    try:
        with counter:
            head(inputs)
    finally:
        for handle in handles:
            handle.remove()
    parts["head itself"] = Dispatch(counter.ops - sum(part.ops for part in parts.values()),
                                    counter.syncs - sum(part.syncs for part in parts.values()))
    return dict(sorted(parts.items(), key=lambda item: -item[1].ops))


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


def head_and_inputs(name: str, bundle: Bundle, frames: int, device: torch.device,
                    grid: int | None) -> tuple[CodeQueryHead, torch.Tensor]:
    """The network in an eval-mode CodeQueryHead on `device`, and one prepared random clip ``(1 ...)`` for it."""
    torch.manual_seed(0)
    head = CodeQueryHead(build_network(name, frames), codebook=bundle, grid=grid).to(device).eval()
    size = NETWORK_SIZES[name]
    raw = 100 + 50 * torch.rand(1, frames + 1, 3, size, size, device=device)
    with torch.inference_mode():
        return head, head.adapter.prepare(raw)


def measure(name: str, bundle: Bundle, frames: int, device: torch.device, repeats: int, grid: int | None) -> Row:
    head, inputs = head_and_inputs(name, bundle, frames, device, grid)
    with torch.inference_mode():
        backbone = lambda: head.adapter.rppg(inputs)  # noqa: E731
        with_head = lambda: head(inputs)  # noqa: E731
        backbone_ms, head_ms = interleaved_medians([backbone, with_head], device, repeats)
        backbone_macs, head_macs = macs(backbone), macs(with_head)
        backbone_dispatch, head_dispatch = dispatched(backbone), dispatched(with_head)
    return Row(
        device=str(device), network=name, backbone_ms=backbone_ms, head_ms=head_ms,
        backbone_params=count(head.adapter.model.parameters()), head_params=inference_parameters(head),
        backbone_macs=backbone_macs, head_macs=head_macs,
        backbone_dispatch=backbone_dispatch, head_dispatch=head_dispatch,
    )


def format_rows(rows: list[Row], frames: int, repeats: int) -> str:
    header = (f"{'device':6} {'network':13} {'input':>12} {'backbone ms':>11} {'+ head ms':>9} {'extra':>7} "
              f"{'params M':>8} {'+ head M':>8} {'MACs G':>7} {'+ head G':>8} {'ops':>5} {'+ head':>6} {'syncs':>5} {'+ head':>6}")
    lines = [f"batch 1, T={frames}, median of {repeats} alternating calls; extra = (+ head) / backbone - 1", header]
    for row in rows:
        size = NETWORK_SIZES[row.network]
        lines.append(
            f"{row.device:6} {row.network:13} {f'{size}x{size}':>12} {row.backbone_ms:11.1f} {row.head_ms:9.1f} "
            f"{row.extra:+7.1%} {row.backbone_params / 1e6:8.3f} {row.head_params / 1e6:8.3f} "
            f"{row.backbone_macs / 1e9:7.2f} {row.head_macs / 1e9:8.2f} "
            f"{row.backbone_dispatch.ops:5d} {row.head_dispatch.ops:6d} "
            f"{row.backbone_dispatch.syncs:5d} {row.head_dispatch.syncs:6d}"
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
    parser.add_argument("--by-part", action="store_true",
                        help="also print each network's head operators and syncs split among the head's parts")
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
    if args.by_part:
        for name in args.networks:
            head, inputs = head_and_inputs(name, bundle, args.frames, torch.device("cpu"), args.grid or None)
            with torch.inference_mode():
                parts = dispatched_by_part(head, inputs)
            print(f"{name}: " + ", ".join(f"{part} {n.ops} ops/{n.syncs} syncs" for part, n in parts.items()))
    return rows


if __name__ == "__main__":
    main()
