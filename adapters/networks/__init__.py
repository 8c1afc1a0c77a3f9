"""Re-implementations of public rPPG networks with their exact parameter names (strict checkpoint loads)."""

from codephys_plugin.adapters.networks.deepphys import DeepPhys
from codephys_plugin.adapters.networks.efficientphys import EfficientPhys
from codephys_plugin.adapters.networks.physformer import PhysFormer
from codephys_plugin.adapters.networks.physnet import PhysNet
from codephys_plugin.adapters.networks.sspd import SSPD, SSPDL3

__all__ = ["DeepPhys", "EfficientPhys", "PhysFormer", "PhysNet", "SSPD", "SSPDL3"]
