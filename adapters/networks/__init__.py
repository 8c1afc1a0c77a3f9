"""Re-implementations of public rPPG networks with their exact parameter names (strict checkpoint loads)."""

from codephys_plugin.adapters.networks.deepphys import DeepPhys
from codephys_plugin.adapters.networks.efficientphys import EfficientPhys
from codephys_plugin.adapters.networks.physnet import PhysNet

__all__ = ["DeepPhys", "EfficientPhys", "PhysNet"]
