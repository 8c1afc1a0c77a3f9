"""Adapters that strip the heads off public rPPG networks (installed as `codephys_plugin.adapters`).

    adapter = adapter_for(model)              # DeepPhys, EfficientPhys, PhysFormer, PhysNet, SSPD(L3)
    features = adapter(adapter.prepare(frames))   # FeatureMap: temporal 'b c t', spatial 'b c t h w'

Importing this package also registers the networks with timm (`timm.create_model("physnet")`).
"""

from codephys_plugin.adapters.base import Adapter
from codephys_plugin.adapters.checkpoint import CheckpointError, load_checkpoint, read_state_dict
from codephys_plugin.adapters.clip_nets import PhysFormerAdapter, PhysNetAdapter, SSPDAdapter
from codephys_plugin.adapters.feature_map import FeatureMap
from codephys_plugin.adapters.hook import HookAdapter
from codephys_plugin.adapters.networks import SSPD, SSPDL3, DeepPhys, EfficientPhys, PhysFormer, PhysNet
from codephys_plugin.adapters.per_frame import DeepPhysAdapter, EfficientPhysAdapter
from codephys_plugin.adapters.registry import Signature, adapter_for, register_adapter
from codephys_plugin.adapters.signal import SignalAdapter
from codephys_plugin.adapters import timm_models as _timm_models  # noqa: F401  (registers the timm names)

__all__ = [
    "Adapter",
    "CheckpointError",
    "DeepPhys",
    "DeepPhysAdapter",
    "EfficientPhys",
    "EfficientPhysAdapter",
    "FeatureMap",
    "HookAdapter",
    "PhysFormer",
    "PhysFormerAdapter",
    "PhysNet",
    "PhysNetAdapter",
    "SSPD",
    "SSPDAdapter",
    "SSPDL3",
    "Signature",
    "SignalAdapter",
    "adapter_for",
    "load_checkpoint",
    "read_state_dict",
    "register_adapter",
]
