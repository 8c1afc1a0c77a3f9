"""adapter_for: pick an adapter from a model's structure, so instances of the public classes work unimported.

A network is recognised by the names and types of submodules its feature path uses (not its head, so a
model whose head was already stripped is still recognised, and not its class, so the toolbox's and
SSPD's own classes match as well as ours).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from torch import nn

from codephys_plugin.adapters.base import Adapter
from codephys_plugin.adapters.clip_nets import PhysFormerAdapter, PhysNetAdapter, SSPDAdapter
from codephys_plugin.adapters.per_frame import DeepPhysAdapter, EfficientPhysAdapter


@dataclass(frozen=True)
class Signature:
    """A network family: submodules (name -> type) it must have and names it must not have."""

    network: str
    required: dict[str, type[nn.Module]]
    absent: tuple[str, ...]
    adapter: Callable[[nn.Module], Adapter]

    def matches(self, model: nn.Module) -> bool:
        children = dict(model.named_children())
        has_required = all(isinstance(children.get(name), kind) for name, kind in self.required.items())
        return has_required and not any(name in children for name in self.absent)


SIGNATURES: list[Signature] = [
    Signature(
        "DeepPhys",
        {"motion_conv1": nn.Conv2d, "motion_conv4": nn.Conv2d, "apperance_conv1": nn.Conv2d, "apperance_att_conv2": nn.Conv2d},
        ("batch_norm",),
        DeepPhysAdapter,
    ),
    Signature(
        "EfficientPhys",
        {"batch_norm": nn.BatchNorm2d, "motion_conv1": nn.Conv2d, "motion_conv4": nn.Conv2d, "apperance_att_conv2": nn.Conv2d},
        ("apperance_conv1",),
        EfficientPhysAdapter,
    ),
    Signature(
        "PhysFormer",
        {"Stem0": nn.Sequential, "patch_embedding": nn.Conv3d, "transformer3": nn.Module, "upsample2": nn.Sequential},
        (),
        PhysFormerAdapter,
    ),
    Signature(
        "PhysNet",
        {"ConvBlock1": nn.Sequential, "ConvBlock9": nn.Sequential, "upsample2": nn.Sequential, "MaxpoolSpaTem": nn.MaxPool3d},
        (),
        PhysNetAdapter,
    ),
    Signature(
        "SSPD",
        {"BN": nn.BatchNorm3d, "backbone_step1": nn.Module, "backbone_step4": nn.Module},
        (),
        SSPDAdapter,
    ),
]


def register_adapter(signature: Signature) -> None:
    """Teach `adapter_for` another network family (checked before the built-in ones)."""
    SIGNATURES.insert(0, signature)


def unwrap(model: nn.Module) -> nn.Module:
    """The network inside DataParallel / DistributedDataParallel / torch.compile wrappers."""
    while isinstance(model, (nn.DataParallel, nn.parallel.DistributedDataParallel)) or hasattr(model, "_orig_mod"):
        model = model.module if hasattr(model, "module") else model._orig_mod
    return model


def adapter_for(model: nn.Module) -> Adapter:
    """The adapter for `model` (an Adapter is returned as it is); a clear error naming the fallbacks otherwise."""
    if isinstance(model, Adapter):
        return model
    network = unwrap(model)
    matches = [signature for signature in SIGNATURES if signature.matches(network)]
    if not matches:
        known = ", ".join(signature.network for signature in SIGNATURES)
        raise ValueError(
            f"adapter_for: {type(network).__name__} does not look like any known network ({known}). "
            "Use HookAdapter(model, layer=..., layout=...) to take features from a named layer, or "
            "SignalAdapter(model) to refine its output rPPG."
        )
    return matches[0].adapter(network)
