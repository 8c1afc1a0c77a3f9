"""Regenerate tests/fixtures/public_outputs/*.npz from the public implementations.

Usage (the public sources are read from a directory you provide; nothing of them is committed):
    python -m tests.helpers.make_public_outputs PUBLIC_DIR
where PUBLIC_DIR holds the toolbox's DeepPhys.py, EfficientPhys.py, PhysFormer.py, PhysNet.py
(neural_methods/model/) and SSPD's models/SSPD.py. Each case builds the public model in float64,
fills it with `fill_seeded`, runs it in eval mode on a float64 `seeded_input`, and stores the input's
first values (a check that the seeded input is still the same), the raw output and the outputs of the
layers our adapters tap (recorded with forward hooks), all in float64.

Why float64: a float32 result depends on the order of its sums, which changes with the CPU's kernels
(AVX-512, AVX2, none, ARM); in float64 that rounding is ~1e-16 relative, far below what a wrong
layer, padding or constant changes, so the comparison holds on every machine.
"""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from tests.helpers.seeded_weights import fill_seeded, float64_defaults, seeded_input

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "public_outputs"
INPUT_HEAD = 64


@dataclass(frozen=True)
class GoldenCase:
    """One public model call: how to build it, its input shape, how to call it, which layers to record."""

    name: str
    source: str
    class_name: str
    kwargs: dict
    input_shape: tuple[int, ...]
    taps: tuple[str, ...]
    call: Callable[[torch.nn.Module, torch.Tensor], object] = field(default=lambda model, x: model(x))


CASES = (
    GoldenCase("deepphys", "DeepPhys.py", "DeepPhys", {"img_size": 36}, (6, 6, 36, 36), ("dropout_3",)),
    GoldenCase(
        "efficientphys", "EfficientPhys.py", "EfficientPhys", {"img_size": 36, "frame_depth": 4},
        (9, 3, 36, 36), ("dropout_3",),
    ),
    GoldenCase(
        "physformer", "PhysFormer.py", "ViT_ST_ST_Compact3_TDC_gra_sharp",
        {"image_size": (8, 128, 128), "patches": (4, 4, 4), "dim": 96, "ff_dim": 144, "num_heads": 4,
         "num_layers": 12, "dropout_rate": 0.1, "theta": 0.7},
        (1, 3, 8, 128, 128), ("transformer3", "upsample2"), lambda model, x: model(x, 2.0),
    ),
    GoldenCase(
        "physnet", "PhysNet.py", "PhysNet_padding_Encoder_Decoder_MAX", {"frames": 8}, (1, 3, 8, 32, 32),
        ("upsample2", "poolspa"),
    ),
    GoldenCase("sspd", "SSPD.py", "SSPD", {}, (1, 3, 4, 128, 128), ("backbone_step4",)),
    GoldenCase("sspdl3", "SSPD.py", "SSPDL3", {}, (1, 3, 20, 128, 128), ()),
)


def load_public_class(public_dir: Path, source: str, class_name: str) -> type:
    spec = importlib.util.spec_from_file_location(f"public_{Path(source).stem}", public_dir / source)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, class_name)


def _flatten(prefix: str, value: object) -> dict[str, np.ndarray]:
    if isinstance(value, torch.Tensor):
        return {prefix: value.detach().numpy()}
    return {k: v for i, item in enumerate(value) for k, v in _flatten(f"{prefix}_{i}", item).items()}


def record(case: GoldenCase, model: torch.nn.Module) -> dict[str, np.ndarray]:
    recorded: dict[str, np.ndarray] = {}
    hooks = [
        getattr(model, tap).register_forward_hook(
            lambda _m, _i, out, tap=tap: recorded.update(_flatten(f"tap_{tap}", out))
        )
        for tap in case.taps
    ]
    x = seeded_input(case.input_shape, dtype=torch.float64)
    with torch.no_grad():
        output = case.call(model.eval(), x)
    for hook in hooks:
        hook.remove()
    return {"input_head": x.flatten()[:INPUT_HEAD].numpy(), **_flatten("output", output), **recorded}


def main(public_dir: str) -> None:
    FIXTURES.mkdir(parents=True, exist_ok=True)
    for case in CASES:
        with float64_defaults():
            model = fill_seeded(load_public_class(Path(public_dir), case.source, case.class_name)(**case.kwargs))
            arrays = record(case, model)
        np.savez_compressed(FIXTURES / f"{case.name}.npz", **arrays)
        print(case.name, {k: v.shape for k, v in arrays.items()})


if __name__ == "__main__":
    main(sys.argv[1])
