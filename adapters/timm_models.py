"""The networks in timm's registry: `timm.create_model("deepphys", img_size=72)` and friends.

Defaults are the toolbox's working configurations (72 px for the 2-D nets, frame_depth=10; PhysFormer at
160 frames of 128 px, or another multiple of 32 px with smaller patches; PhysNet with frames=128). No weights
are hosted: `pretrained=True` raises, and `checkpoint_path=` (timm's own loader) or `load_checkpoint` reads a
lab's file.
"""

from __future__ import annotations

from timm.models import register_model

from codephys_plugin.adapters.networks import DeepPhys, EfficientPhys, PhysFormer, PhysNet, SSPD, SSPDL3
from codephys_plugin.adapters.networks.physformer import patches_for

TIMM_ONLY_KEYS = ("pretrained_cfg", "pretrained_cfg_overlay", "cache_dir")


def _network_kwargs(name: str, pretrained: bool, kwargs: dict) -> dict:
    if pretrained:
        raise ValueError(
            f"{name}: no pretrained weights are hosted; create the model, then load a checkpoint with "
            "codephys_plugin.adapters.load_checkpoint(model, path) or timm.create_model(..., checkpoint_path=path)"
        )
    return {key: value for key, value in kwargs.items() if key not in TIMM_ONLY_KEYS}


def _fixed_size(name: str, kwargs: dict, size: int) -> dict:
    img_size = kwargs.pop("img_size", size)
    if img_size != size:
        raise ValueError(f"{name}: only img_size={size} is supported by this network, got {img_size}")
    return kwargs


@register_model
def deepphys(pretrained: bool = False, **kwargs) -> DeepPhys:
    kwargs = _network_kwargs("deepphys", pretrained, kwargs)
    return DeepPhys(img_size=kwargs.pop("img_size", 72), **kwargs)


@register_model
def efficientphys(pretrained: bool = False, **kwargs) -> EfficientPhys:
    kwargs = _network_kwargs("efficientphys", pretrained, kwargs)
    return EfficientPhys(img_size=kwargs.pop("img_size", 72), frame_depth=kwargs.pop("frame_depth", 10), **kwargs)


@register_model
def physformer(pretrained: bool = False, **kwargs) -> PhysFormer:
    """`img_size` (default 128, the toolbox's) chooses the spatial patches: 32·p px take (4, p, p) patches."""
    kwargs = _network_kwargs("physformer", pretrained, kwargs)
    frames, size = kwargs.pop("num_frames", 160), kwargs.pop("img_size", 128)
    return PhysFormer(image_size=(frames, size, size), patches=kwargs.pop("patches", patches_for(size)), **kwargs)


@register_model
def physnet(pretrained: bool = False, **kwargs) -> PhysNet:
    kwargs = _network_kwargs("physnet", pretrained, kwargs)
    kwargs.pop("img_size", None)
    return PhysNet(frames=kwargs.pop("num_frames", kwargs.pop("frames", 128)), **kwargs)


@register_model
def sspd(pretrained: bool = False, **kwargs) -> SSPD:
    return SSPD(**_fixed_size("sspd", _network_kwargs("sspd", pretrained, kwargs), 128))


@register_model
def sspdl3(pretrained: bool = False, **kwargs) -> SSPDL3:
    return SSPDL3(**_fixed_size("sspdl3", _network_kwargs("sspdl3", pretrained, kwargs), 128))
