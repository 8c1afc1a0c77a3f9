"""Interop with the public classes themselves: strict loads both ways, same outputs, adapters on their instances.

Needs the public sources, which are not part of this project: set CODEPHYS_PUBLIC_MODELS to a directory
holding the rPPG-Toolbox's DeepPhys.py, EfficientPhys.py, PhysFormer.py, PhysNet.py (neural_methods/model/)
and SSPD's models/SSPD.py. Skipped otherwise.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from codephys_plugin.adapters import SSPD, SSPDL3, DeepPhys, EfficientPhys, PhysFormer, PhysNet, adapter_for
from tests.helpers.make_public_outputs import load_public_class
from tests.helpers.seeded_weights import fill_seeded, seeded_input

PUBLIC = os.environ.get("CODEPHYS_PUBLIC_MODELS")
pytestmark = pytest.mark.skipif(not PUBLIC, reason="set CODEPHYS_PUBLIC_MODELS to the public model sources")

PHYSFORMER = {"image_size": (8, 128, 128), "patches": (4, 4, 4), "dim": 96, "ff_dim": 144, "num_heads": 4,
              "num_layers": 12, "dropout_rate": 0.1, "theta": 0.7}
CASES = {
    "deepphys": ("DeepPhys.py", "DeepPhys", {"img_size": 72}, lambda: DeepPhys(img_size=72), (2, 5, 3, 72, 72)),
    "efficientphys": (
        "EfficientPhys.py", "EfficientPhys", {"img_size": 72, "frame_depth": 4},
        lambda: EfficientPhys(img_size=72, frame_depth=4), (2, 5, 3, 72, 72),
    ),
    "physformer": ("PhysFormer.py", "ViT_ST_ST_Compact3_TDC_gra_sharp", PHYSFORMER, lambda: PhysFormer(**PHYSFORMER),
                   (1, 9, 3, 128, 128)),
    "physnet": ("PhysNet.py", "PhysNet_padding_Encoder_Decoder_MAX", {"frames": 8}, lambda: PhysNet(frames=8),
                (2, 9, 3, 72, 72)),
    "sspd": ("SSPD.py", "SSPD", {}, SSPD, (1, 5, 3, 128, 128)),
    "sspdl3": ("SSPD.py", "SSPDL3", {}, SSPDL3, (1, 5, 3, 128, 128)),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_public_instances_interoperate(name):
    source, class_name, kwargs, build_ours, frames_shape = CASES[name]
    public = fill_seeded(load_public_class(Path(PUBLIC), source, class_name)(**kwargs)).eval()
    ours = build_ours().eval()
    ours.load_state_dict(public.state_dict(), strict=True)
    public.load_state_dict(ours.state_dict(), strict=True)
    public_adapter, our_adapter = adapter_for(public), adapter_for(ours)
    assert type(public_adapter) is type(our_adapter)
    frames = 100 + 50 * seeded_input(frames_shape).sigmoid()
    inputs = public_adapter.prepare(frames)
    with torch.no_grad():
        torch.testing.assert_close(public_adapter(inputs).spatial, our_adapter(inputs).spatial)
        torch.testing.assert_close(public_adapter.rppg(inputs), our_adapter.rppg(inputs))
