"""Loading labs' checkpoints safely, and the networks' timm face."""

from __future__ import annotations

import pytest
import timm
import torch
from safetensors.torch import save_file

from codephys_plugin.adapters import (
    SSPD,
    CheckpointError,
    DeepPhys,
    EfficientPhys,
    PhysFormer,
    PhysNet,
    adapter_for,
    load_checkpoint,
    read_state_dict,
)
from tests.helpers.seeded_weights import fill_seeded


def _assert_same_weights(a: torch.nn.Module, b: torch.nn.Module) -> None:
    for key, value in a.state_dict().items():
        assert torch.equal(value, b.state_dict()[key]), key


@pytest.mark.parametrize(
    "wrap",
    [
        lambda state: state,
        lambda state: {"state_dict": state},
        lambda state: {"model_state_dict": state, "epoch": 3},
        lambda state: {f"module.{key}": value for key, value in state.items()},
        lambda state: {"state_dict": {f"module.{key}": value for key, value in state.items()}},
    ],
    ids=["plain", "state_dict", "model_state_dict", "dataparallel", "wrapped_dataparallel"],
)
def test_checkpoint_forms_labs_save_all_load_strictly(tmp_path, wrap):
    source = fill_seeded(PhysNet(frames=8))
    path = tmp_path / "physnet.pth"
    torch.save(wrap(source.state_dict()), path)
    _assert_same_weights(load_checkpoint(PhysNet(frames=8), path), source)


def test_safetensors_and_in_memory_state_dicts(tmp_path):
    source = fill_seeded(DeepPhys(img_size=36))
    save_file({f"module.{k}": v.contiguous() for k, v in source.state_dict().items()}, str(tmp_path / "m.safetensors"))
    _assert_same_weights(load_checkpoint(DeepPhys(img_size=36), tmp_path / "m.safetensors"), source)
    _assert_same_weights(load_checkpoint(DeepPhys(img_size=36), source.state_dict()), source)


def test_a_pickled_object_is_refused_not_executed(tmp_path):
    path = tmp_path / "evil.pth"
    torch.save({"state_dict": PhysNet(frames=8).state_dict(), "config": torch.nn.Linear(1, 1)}, path)
    with pytest.raises(CheckpointError, match="evil.pth: refused to unpickle"):
        read_state_dict(path)


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"", "not a readable torch checkpoint"), (b"PK\x03\x04 truncated", "not a readable torch checkpoint")],
)
def test_unreadable_files_are_named(tmp_path, content, message):
    path = tmp_path / "broken.pth"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match=f"broken.pth: {message}"):
        read_state_dict(path)


def test_missing_file_and_non_state_dict(tmp_path):
    with pytest.raises(CheckpointError, match="no such checkpoint file"):
        read_state_dict(tmp_path / "absent.pth")
    torch.save([1, 2, 3], tmp_path / "list.pth")
    with pytest.raises(CheckpointError, match="expected a state_dict"):
        read_state_dict(tmp_path / "list.pth")


def test_mismatches_are_listed_by_key():
    state = DeepPhys(img_size=72).state_dict()
    del state["motion_conv1.bias"]
    state["extra.weight"] = torch.zeros(1)
    with pytest.raises(CheckpointError) as error:
        load_checkpoint(DeepPhys(img_size=36), state)
    message = str(error.value)
    assert "1 missing keys: motion_conv1.bias" in message
    assert "1 unexpected keys: extra.weight" in message
    assert "final_dense_1.weight: checkpoint (128, 16384) vs model (128, 3136)" in message


def test_non_strict_allows_key_differences_but_not_shapes():
    state = PhysNet(frames=8).state_dict()
    del state["ConvBlock10.bias"]
    load_checkpoint(PhysNet(frames=8), state, strict=False)
    state["ConvBlock10.weight"] = torch.zeros(2, 64, 1, 1, 1)
    with pytest.raises(CheckpointError, match="shape mismatches"):
        load_checkpoint(PhysNet(frames=8), state, strict=False)


@pytest.mark.parametrize(
    ("name", "kwargs", "cls", "features_shape"),
    [
        ("deepphys", {"img_size": 72}, DeepPhys, (2, 64, 16, 16)),
        ("efficientphys", {"frame_depth": 2}, EfficientPhys, (2, 64, 16, 16)),
        ("physformer", {"num_frames": 8}, PhysFormer, (1, 48, 8, 4, 4)),
        ("physnet", {"num_frames": 8}, PhysNet, (1, 64, 8, 2, 2)),
        ("sspd", {}, SSPD, (1, 256, 2, 8, 8)),
    ],
)
def test_timm_creates_each_network_with_timms_face(name, kwargs, cls, features_shape):
    model = timm.create_model(name, **kwargs).eval()
    assert type(model) is cls and model.num_features == features_shape[1]
    inputs = {
        "deepphys": torch.randn(2, 6, 72, 72),
        "efficientphys": torch.randn(3, 3, 72, 72),
        "physformer": torch.randn(1, 3, 8, 128, 128),
        "physnet": torch.randn(1, 3, 8, 32, 32),
        "sspd": torch.randn(1, 3, 2, 128, 128),
    }[name]
    with torch.no_grad():
        features = model.forward_features(inputs)
        rppg = model.forward_head(features)
        pooled = model.forward_head(features, pre_logits=True)
    assert features.shape == features_shape
    assert pooled.shape[1] == model.num_features
    assert rppg.numel() == pooled.numel() // model.num_features
    head_keys = {key for key in model.state_dict() if key.split(".")[0] in model.head_modules}
    assert head_keys
    model.reset_classifier(0)
    assert not head_keys & set(model.state_dict())
    assert adapter_for(model) is not None


def test_timm_refuses_pretrained_and_loads_a_dataparallel_checkpoint(tmp_path):
    with pytest.raises(ValueError, match="no pretrained weights are hosted"):
        timm.create_model("physnet", pretrained=True)
    source = fill_seeded(PhysNet(frames=128))
    torch.save({f"module.{k}": v for k, v in source.state_dict().items()}, tmp_path / "dp.pth")
    _assert_same_weights(timm.create_model("physnet", checkpoint_path=str(tmp_path / "dp.pth")), source)


def test_reset_classifier_only_strips():
    with pytest.raises(ValueError, match="only num_classes=0"):
        DeepPhys(img_size=72).reset_classifier(10)
