"""Every bad option value is refused before any work: exit 2, the option, the valid range, no traceback."""

import json

import pytest

from codephys_plugin.bundle import BundleConfig, BundleError
from codephys_plugin.pretrain import main as pretrain
from codephys_plugin.train import main as train

PRETRAIN_CASES = [
    (["--fs", "0"], "argument --fs: expected a finite number > 0, got '0'"),
    (["--fs", "nan"], "argument --fs: expected a finite number > 0, got 'nan'"),
    (["--fs", "-60"], "argument --fs: expected a finite number > 0, got '-60'"),
    (["--window", "30"], "argument --window: expected a multiple of 4 samples ≥ 4"),
    (["--epochs", "0"], "argument --epochs: expected an integer ≥ 1, got '0'"),
    (["--hop", "0"], "argument --hop: expected an integer ≥ 1, got '0'"),
    (["--batch-size", "0"], "argument --batch-size: expected an integer ≥ 1, got '0'"),
    (["--num-codes", "0"], "argument --num-codes: expected an integer ≥ 1, got '0'"),
    (["--dim", "0"], "argument --dim: expected an integer ≥ 1, got '0'"),
    (["--lr", "nan"], "argument --lr: expected a finite number > 0, got 'nan'"),
    (["--target-fs", "0"], "argument --target-fs: expected a finite number > 0, got '0'"),
    (["--band", "8", "0.5"], "--band: band (8.0, 0.5) Hz: expected 0 < low < high < fs/2 = 15.0 Hz (--target-fs 30)"),
    (["--band", "0.5", "40"], "--band: band (0.5, 40.0) Hz: expected 0 < low < high < fs/2 = 15.0 Hz"),
    (["--hr-window", "-5"], "argument --hr-window: expected a finite number ≥ 0, got '-5'"),
    (["--hr-window", "nan"], "argument --hr-window: expected a finite number ≥ 0, got 'nan'"),
    (["--val-fraction", "1"], "argument --val-fraction: expected a fraction strictly between 0 and 1"),
    (["--out", "."], ".: is the current folder or one above it; a bundle needs a name of its own"),
    (["--out", "/proc/codephys/bundle"], "--out: cannot write into /proc"),
]

TRAIN_CASES = [
    (["--fs", "0"], "argument --fs: expected a finite number > 0, got '0'"),
    (["--epochs", "0"], "argument --epochs: expected an integer ≥ 1, got '0'"),
    (["--batch-size", "0"], "argument --batch-size: expected an integer ≥ 1, got '0'"),
    (["--lr", "nan"], "argument --lr: expected a finite number > 0, got 'nan'"),
    (["--val-fraction", "0"], "argument --val-fraction: expected a fraction strictly between 0 and 1"),
    (["--out", "/proc/codephys_run"], "--out: cannot write into /proc"),
    (["--backbone-arg", "framez=32"],
     "--backbone physnet: its constructor refused the --backbone-arg values (framez=32): "),
]


def _refused(main, argv, capsys) -> str:
    try:
        status = main(argv)
    except SystemExit as stop:
        status = stop.code
    assert status == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err


@pytest.mark.parametrize(("argv", "message"), PRETRAIN_CASES, ids=lambda v: " ".join(v) if isinstance(v, list) else "")
def test_pretrain_refuses_bad_values_before_any_work(tmp_path, monkeypatch, capsys, argv, message):
    monkeypatch.chdir(tmp_path)
    err = _refused(pretrain, ["--epochs", "1", "--out", "bundle", *argv], capsys)
    assert f"codephys-pretrain: error: {message}" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == []


@pytest.mark.parametrize(("argv", "message"), TRAIN_CASES, ids=lambda v: " ".join(v) if isinstance(v, list) else "")
def test_train_refuses_bad_values_before_any_work(tmp_path, monkeypatch, capsys, argv, message):
    monkeypatch.chdir(tmp_path)
    err = _refused(train, ["--backbone", "physnet", "--codebook", "absent", "--out", "run", *argv], capsys)
    assert f"codephys-train: error: {message}" in err
    assert not (tmp_path / "run").exists()


def test_a_high_band_edge_is_stored_as_applied():
    """Below 2 × 8 / 0.45 Hz the default band's top is lowered; the bundle must say what was used."""
    from codephys_plugin.training.windows import WindowConfig

    assert WindowConfig(fs=15.0, window=32, band_hz=(0.5, 8.0)).band_hz == (0.5, 6.75)
    with pytest.raises(ValueError, match="band_hz"):
        WindowConfig(fs=30.0, window=32, band_hz=(8.0, 0.5))


def test_a_bundle_with_an_unknown_label_form_is_refused_by_name():
    config = json.loads(BundleConfig().to_json())
    config["label_form"] = "DiffNormalized"
    with pytest.raises(BundleError, match=r"my_codebook/config.json: .*label_form must be one of waveform, derivative"):
        BundleConfig.from_json(json.dumps(config), "my_codebook/config.json")
