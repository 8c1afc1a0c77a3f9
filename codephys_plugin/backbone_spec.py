"""The backbone a command line names: `--backbone NAME|module:Class`, `--backbone-arg K=V`, `--checkpoint FILE`.

NAME is a model registered with timm (ours: deepphys, efficientphys, physformer, physnet, sspd, sspdl3);
`module:Class` is imported from the current directory or the environment (the toolbox's classes included).
"""

from __future__ import annotations

import argparse
import ast
import importlib
import os
import sys
from pathlib import Path
from typing import Callable

import timm
from torch import nn

from codephys_plugin.adapters.checkpoint import load_checkpoint

OUR_MODELS = ("deepphys", "efficientphys", "physformer", "physnet", "sspd", "sspdl3")


def add_backbone_options(group: argparse._ArgumentGroup) -> None:
    group.add_argument("--backbone", required=True, help="timm name (e.g. physnet) or module:Class")
    group.add_argument("--backbone-arg", action="append", default=[], metavar="KEY=VALUE",
                       help="constructor argument (a Python literal; repeat for several), e.g. frames=160")
    group.add_argument("--checkpoint", type=Path, help="the backbone's trained weights (.pth or .safetensors), "
                                                       "loaded strictly")


def load_backbone(args: argparse.Namespace) -> nn.Module:
    """The network `add_backbone_options`' arguments name, with its checkpoint loaded when one is given."""
    backbone = build_backbone(args.backbone, parse_backbone_args(args.backbone_arg))
    if args.checkpoint is not None:
        load_checkpoint(backbone, args.checkpoint)
    return backbone


def parse_backbone_args(items: list[str]) -> dict[str, object]:
    """KEY=VALUE pairs; VALUE is read as a Python literal (160, 2.0, (4, 4, 4), True) or kept as text."""
    kwargs = {}
    for item in items:
        key, separator, value = item.partition("=")
        if not separator or not key.isidentifier():
            raise ValueError(f"--backbone-arg {item!r}: expected KEY=VALUE with KEY a Python name")
        try:
            kwargs[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            kwargs[key] = value
    return kwargs


def build_backbone(spec: str, kwargs: dict[str, object]) -> nn.Module:
    """A timm-registered name, or `module:Class` imported from the current directory or the environment."""
    if ":" not in spec:
        if spec not in timm.list_models():
            raise ValueError(f"--backbone {spec!r}: no model of that name is registered with timm (ours: "
                             f"{', '.join(OUR_MODELS)}); for your own class pass module:Class")
        return _construct(spec, lambda: timm.create_model(spec, **kwargs), kwargs)
    module_name, _, class_name = spec.partition(":")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    module = importlib.import_module(module_name)
    if not hasattr(module, class_name):
        raise ValueError(f"--backbone {spec!r}: module {module_name} has no attribute {class_name}")
    return _construct(spec, lambda: getattr(module, class_name)(**kwargs), kwargs)


def _construct(spec: str, build: Callable[[], nn.Module], kwargs: dict[str, object]) -> nn.Module:
    """A constructor's TypeError (an unknown or missing argument) is the user's --backbone-arg."""
    try:
        return build()
    except TypeError as error:
        given = ", ".join(f"{key}={value!r}" for key, value in kwargs.items()) or "none"
        raise ValueError(f"--backbone {spec}: its constructor refused the --backbone-arg values ({given}): {error}") from None
