import json
from dataclasses import replace

import pytest
import safetensors.torch
import torch

from codephys_plugin.autoencoder import AutoencoderConfig, SignalAutoencoder
from codephys_plugin.bundle import BundleConfig, BundleError, load_bundle, save_bundle
from codephys_plugin.encoder import SignalCoderConfig
from codephys_plugin.query import CodebookConfig
from codephys_plugin.training.windows import WindowConfig


def small_bundle_config(update="ema"):
    autoencoder = AutoencoderConfig(
        coder=SignalCoderConfig(dim=8), codebook=CodebookConfig(num_codes=16, dim=8, update=update)
    )
    return BundleConfig(autoencoder=autoencoder, windows=WindowConfig(fs=30.0, window=64, hop=32))


@pytest.mark.parametrize("name", ["bundle.safetensors", "bundle_dir"])
@pytest.mark.parametrize("update", ["ema", "gradient"])
def test_round_trip_restores_every_tensor_and_the_config(tmp_path, name, update):
    config = small_bundle_config(update)
    model = SignalAutoencoder(config.autoencoder)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p))
    path = save_bundle(tmp_path / name, model, config)
    loaded = load_bundle(path)
    assert loaded.config == config
    assert loaded.config.library_version
    for key, value in model.state_dict().items():
        assert torch.equal(loaded.model.state_dict()[key], value), key
    signal = torch.randn(2, 64)
    torch.testing.assert_close(loaded.model(signal).reconstruction, model.eval()(signal).reconstruction)


def test_directory_bundle_has_a_readable_config(tmp_path):
    path = save_bundle(tmp_path / "b", SignalAutoencoder(small_bundle_config().autoencoder), small_bundle_config())
    raw = json.loads((path / "config.json").read_text())
    assert raw["format"] == "codephys-bundle" and raw["windows"]["window"] == 64
    assert raw["autoencoder"]["codebook"]["num_codes"] == 16


def test_overwriting_replaces_atomically_and_leaves_no_temporaries(tmp_path):
    config = small_bundle_config()
    for name in ("b", "b.safetensors"):
        save_bundle(tmp_path / name, SignalAutoencoder(config.autoencoder), config)
        second = SignalAutoencoder(config.autoencoder)
        save_bundle(tmp_path / name, second, config)
        assert torch.equal(load_bundle(tmp_path / name).model.codebook.codes, second.codebook.codes)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b", "b.safetensors"]


def test_save_rejects_a_model_that_does_not_match_the_config(tmp_path):
    with pytest.raises(ValueError, match="differs"):
        save_bundle(tmp_path / "x.safetensors", SignalAutoencoder(), small_bundle_config())


def _write_safetensors(path, tensors, metadata=None):
    safetensors.torch.save_file(tensors, path, metadata=metadata)
    return path


def test_invalid_bundles_are_named_and_explained(tmp_path):
    config = small_bundle_config()
    good = save_bundle(tmp_path / "good.safetensors", SignalAutoencoder(config.autoencoder), config)
    tensors = safetensors.torch.load_file(good)
    metadata = {"codephys_config": config.to_json()}

    with pytest.raises(BundleError, match="no such bundle"):
        load_bundle(tmp_path / "missing.safetensors")
    (tmp_path / "empty.safetensors").write_bytes(b"")
    with pytest.raises(BundleError, match="empty.safetensors: not a readable safetensors file"):
        load_bundle(tmp_path / "empty.safetensors")
    (tmp_path / "truncated.safetensors").write_bytes(good.read_bytes()[:100])
    with pytest.raises(BundleError, match="truncated.safetensors"):
        load_bundle(tmp_path / "truncated.safetensors")
    plain = _write_safetensors(tmp_path / "plain.safetensors", {"w": torch.zeros(2)})
    with pytest.raises(BundleError, match="plain.safetensors: safetensors file has no codephys config"):
        load_bundle(plain)
    other = _write_safetensors(tmp_path / "other.safetensors", tensors, {"codephys_config": '{"format": "x"}'})
    with pytest.raises(BundleError, match="not a codephys bundle"):
        load_bundle(other)
    bumped = json.loads(config.to_json()) | {"format_version": 99}
    future = _write_safetensors(tmp_path / "future.safetensors", tensors, {"codephys_config": json.dumps(bumped)})
    with pytest.raises(BundleError, match="version 99"):
        load_bundle(future)
    missing = _write_safetensors(tmp_path / "missing_key.safetensors", {k: v for k, v in tensors.items() if k != "codebook.codes"}, metadata)
    with pytest.raises(BundleError, match=r"missing \['codebook.codes'\]"):
        load_bundle(missing)
    resized = dict(tensors) | {"codebook.codes": torch.zeros(8, 8)}
    with pytest.raises(BundleError, match="codebook.codes"):
        load_bundle(_write_safetensors(tmp_path / "resized.safetensors", resized, metadata))
    poisoned = dict(tensors) | {"codebook.codes": torch.full((16, 8), float("nan"))}
    with pytest.raises(BundleError, match="NaN"):
        load_bundle(_write_safetensors(tmp_path / "nan.safetensors", poisoned, metadata))


def test_directory_bundle_errors(tmp_path):
    config = small_bundle_config()
    path = save_bundle(tmp_path / "b", SignalAutoencoder(config.autoencoder), config)
    edited = replace(config, label_form="derivative")
    (path / "config.json").write_text(edited.to_json())
    with pytest.raises(BundleError, match="disagrees"):
        load_bundle(path)
    (path / "config.json").unlink()
    with pytest.raises(BundleError, match="must contain config.json"):
        load_bundle(path)
    (tmp_path / "bare").mkdir()
    with pytest.raises(BundleError, match="must contain weights.safetensors"):
        load_bundle(tmp_path / "bare")
