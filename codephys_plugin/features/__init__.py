"""Stage II's video-feature side: blocks that weigh where in the frame the pulse is (E_v's SAM)."""

from codephys_plugin.features.spatial_attention import SpatialAttention

__all__ = ["SpatialAttention"]
