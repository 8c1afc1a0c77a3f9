"""The re-implemented public networks: exact state_dict keys and shapes, strict round trips, and the
public implementations' numerics in eval mode (golden outputs in tests/fixtures/public_outputs)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
import torch
from einops import rearrange
from torch import nn

from codephys_plugin.adapters.networks import DeepPhys, EfficientPhys, PhysNet, SSPD, SSPDL3
from codephys_plugin.adapters.networks.physformer import PhysFormer, physformer_frames, physformer_tokens
from tests.helpers.listings import read_counts, read_listing
from tests.helpers.make_public_outputs import INPUT_HEAD
from tests.helpers.seeded_weights import fill_seeded, float64_defaults, seeded_input

GOLDEN = Path(__file__).parent / "fixtures" / "public_outputs"


@dataclass(frozen=True)
class ListingCase:
    listing: str
    build: Callable[[], nn.Module]
    extra_listings: tuple[str, ...] = ()


LISTING_CASES = {
    "deepphys_72": ListingCase("deepphys_72", lambda: DeepPhys(img_size=72)),
    "efficientphys_72": ListingCase("efficientphys_72", lambda: EfficientPhys(frame_depth=10, img_size=72)),
    "physnet_128": ListingCase("physnet_128", lambda: PhysNet(frames=128)),
    "physformer": ListingCase("physformer", lambda: PhysFormer()),
    "sspd": ListingCase("sspd", SSPD),
    "sspdl3": ListingCase("sspdl3_extra", SSPDL3, extra_listings=("sspd",)),
}


def expected_shapes(case: ListingCase) -> dict[str, tuple[int, ...]]:
    shapes = {}
    for name in case.extra_listings + (case.listing,):
        shapes.update(read_listing(name))
    return shapes


@pytest.mark.parametrize("name", sorted(LISTING_CASES))
def test_state_dict_keys_and_shapes_equal_the_public_listing(name):
    case = LISTING_CASES[name]
    model = case.build()
    actual = {key: tuple(value.shape) for key, value in model.state_dict().items()}
    assert actual == expected_shapes(case)
    entries, params = read_counts(case.listing)
    assert len(actual) == entries
    assert sum(p.numel() for p in model.parameters()) == params


@pytest.mark.parametrize("name", sorted(LISTING_CASES))
def test_strict_state_dict_round_trip(name):
    case = LISTING_CASES[name]
    source, target = fill_seeded(case.build()), case.build()
    target.load_state_dict(source.state_dict(), strict=True)
    for key, value in target.state_dict().items():
        assert torch.equal(value, source.state_dict()[key]), key


@dataclass(frozen=True)
class GoldenCase:
    """Our network rebuilt with the arguments `make_public_outputs` gave the public class."""

    build: Callable[[], nn.Module]
    input_shape: tuple[int, ...]
    run: Callable[[nn.Module, torch.Tensor], dict[str, torch.Tensor]]


def _per_frame_run(model, x):
    features = model.forward_features(x)
    return {"output": model.forward_head(features), "tap_dropout_3": features}


def _physnet_run(model, x):
    rppg, _, visual_3232, visual_1616 = model(x)
    features = model.forward_features(x)
    return {
        "output_0": rppg,
        "output_2": visual_3232,
        "output_3": visual_1616,
        "tap_upsample2": features,
        "tap_poolspa": model.pool_features(features)[..., None, None],
    }


def _sspd_run(model, x):
    features = model.forward_features(x)
    return {
        "output": model(x),
        "tap_backbone_step4_0": features,
        "tap_backbone_step4_1": model.pool_features(features),
    }


def _sspdl3_run(model, x):
    (output1, output2, output3), rppg = model(x)
    return {"output_0_0": output1, "output_0_1": output2, "output_0_2": output3, "output_1": rppg}


def _physformer_run(model, x):
    rppg, *scores = model(x, 2.0)
    tokens, tap_scores = physformer_tokens(model, x, 2.0)
    return {
        "output_0": rppg,
        **{f"output_{i}": score for i, score in enumerate(scores, start=1)},
        "tap_transformer3_0": rearrange(tokens, "b c t h w -> b (t h w) c"),
        "tap_transformer3_1": tap_scores[2],
        "tap_upsample2": physformer_frames(model, tokens),
    }


GOLDEN_CASES = {
    "deepphys": GoldenCase(lambda: DeepPhys(img_size=36), (6, 6, 36, 36), _per_frame_run),
    "efficientphys": GoldenCase(
        lambda: EfficientPhys(img_size=36, frame_depth=4), (9, 3, 36, 36), _per_frame_run
    ),
    "physnet": GoldenCase(lambda: PhysNet(frames=8), (1, 3, 8, 32, 32), _physnet_run),
    "physformer": GoldenCase(lambda: PhysFormer(image_size=(8, 128, 128)), (1, 3, 8, 128, 128), _physformer_run),
    "sspd": GoldenCase(SSPD, (1, 3, 4, 128, 128), _sspd_run),
    "sspdl3": GoldenCase(SSPDL3, (1, 3, 20, 128, 128), _sspdl3_run),
}


# Both sides run in float64 (see make_public_outputs), so two correct implementations differ only by
# float64 rounding in another order: measured ≤ 1.2e-13 of each output's scale with PyTorch's AVX-512,
# AVX2 and default kernels (the sum of ~1e5 products is exact to ~1e-16 relative, and these 10-30
# layer networks, with batch norms of var ≥ 0.5, tanh/sigmoid gates and softmax attention, grow it
# at most ~1e3-fold). A tolerance of 1e-9 of the scale leaves a margin of ~1e4 on any CPU, and stays
# far below real mistakes: doubling a single BatchNorm's ε (1e-5 -> 2e-5), about the smallest one
# could make, already moves an output by ≥ 8e-8 of its scale.
GOLDEN_RELATIVE_TOLERANCE = 1e-9


@pytest.mark.parametrize("name", sorted(GOLDEN_CASES))
def test_eval_outputs_match_the_public_implementation(name):
    case = GOLDEN_CASES[name]
    golden = np.load(GOLDEN / f"{name}.npz", allow_pickle=False)
    with float64_defaults():
        x = seeded_input(case.input_shape, dtype=torch.float64)
        np.testing.assert_array_equal(x.flatten()[:INPUT_HEAD].numpy(), golden["input_head"], "seeded input changed")
        model = fill_seeded(case.build()).eval()
        with torch.no_grad():
            outputs = case.run(model, x)
    for key, value in outputs.items():
        assert value.dtype == torch.float64, key
        expected = golden[key]
        scale = float(np.abs(expected).max())
        tolerance = GOLDEN_RELATIVE_TOLERANCE * scale
        np.testing.assert_allclose(value.numpy(), expected, rtol=0, atol=tolerance, err_msg=f"{name}: {key}")
