"""codephys-evaluate on a small codephys-synth dataset: metrics equal `heart_rate` computed directly, plots written."""

import csv
import json
from dataclasses import replace

import numpy as np
import pytest
import torch

from codephys_plugin.adapters import PhysNet, adapter_for
from codephys_plugin.bundle import save_bundle
from codephys_plugin.code_query_head import CodeQueryHead
from codephys_plugin.evaluate.cli import main as evaluate
from codephys_plugin.evaluate.report import replot
from codephys_plugin.heart_rate import evaluate_window, hr_metrics
from codephys_plugin.training.head_weights import save_head_weights
from codephys_plugin.video_lab import RECIPES, LabDatasetConfig, write_lab_dataset
from tests.test_code_query_head import small_bundle

CHUNK = 40


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """4 subjects × 12 s at 36 px in PhysNet's recipe (DiffNormalized), chunks of 40 frames; a PhysNet
    checkpoint and a head with random weights."""
    folder = tmp_path_factory.mktemp("lab")
    recipe = replace(RECIPES["physnet"], size=36, chunk_length=CHUNK)
    write_lab_dataset(LabDatasetConfig(recipe=recipe, subjects=4, seconds=12.0, hr_range_bpm=(60, 110)), folder / "test")
    torch.manual_seed(0)
    checkpoint = folder / "physnet.pth"
    torch.save(PhysNet(frames=CHUNK).state_dict(), checkpoint)
    bundle = small_bundle(window=CHUNK)
    save_bundle(folder / "codebook", bundle.model, bundle.config)
    save_head_weights(folder / "best.safetensors", CodeQueryHead(PhysNet(frames=CHUNK), codebook=bundle), {})
    return folder


def model_options(lab, *extra):
    return ["--backbone", "physnet", "--backbone-arg", f"frames={CHUNK}", "--checkpoint", str(lab / "physnet.pth"),
            *extra, "--no-progress"]


def direct_video_hrs(lab) -> dict[str, tuple[float, float]]:
    """Each video's predicted and true HR by hand: chunks in order through the network, concatenated, then
    `evaluate_window` (integrate, detrend, band-pass, FFT) on the whole video."""
    network = PhysNet(frames=CHUNK)
    network.load_state_dict(torch.load(lab / "physnet.pth", weights_only=True))
    adapter = adapter_for(network).eval()
    videos = sorted({path.name.split("_input")[0] for path in (lab / "test").glob("*_input*.npy")})
    rates = {}
    for video in videos:
        inputs = sorted((lab / "test").glob(f"{video}_input*.npy"), key=lambda p: int(p.stem.split("input")[1]))
        predictions, labels = [], []
        for path in inputs:
            clip = torch.from_numpy(np.load(path)).permute(3, 0, 1, 2)[None]
            with torch.no_grad():
                predictions.append(adapter.rppg(clip)[0].double().numpy())
            labels.append(np.load(path.with_name(path.name.replace("_input", "_label"))))
        window = evaluate_window(np.concatenate(predictions), np.concatenate(labels), 30.0, diff_normalized=True)
        rates[video] = (window.hr_pred, window.hr_label)
    return rates


def test_the_bare_networks_metrics_equal_heart_rate_computed_directly(lab, tmp_path, capsys):
    out = tmp_path / "out"
    assert evaluate([str(lab / "test"), *model_options(lab, "--out", str(out))]) == 0
    direct = direct_video_hrs(lab)
    with (out / "per_video.csv").open() as stream:
        rows = list(csv.DictReader(stream))
    assert [row["video"] for row in rows] == sorted(direct)
    for row in rows:
        assert float(row["hr_pred_bpm"]) == pytest.approx(direct[row["video"]][0], abs=1e-9)
        assert float(row["hr_label_bpm"]) == pytest.approx(direct[row["video"]][1], abs=1e-9)
    expected = hr_metrics([p for p, _ in direct.values()], [t for _, t in direct.values()])
    record = json.loads((out / "metrics.json").read_text())
    bare = record["models"]["bare"]
    for name in ("mae", "rmse", "mape", "mae_se", "rmse_se", "mape_se", "sd"):
        assert bare[name] == pytest.approx(getattr(expected, name), abs=1e-9), name
    assert bare["videos"] == 4 and bare["failed"] == [] and record["fs"] == 30.0
    figures = ("bland_altman.png", "scatter.png", "worst_videos.png")
    for figure in figures:
        assert (out / figure).stat().st_size > 10_000
        (out / figure).unlink()
    assert f"MAE {expected.mae:.2f}" in capsys.readouterr().out
    worst = json.loads((out / "worst_videos.json").read_text())
    assert len(worst) == 4 and set(worst[0]["models"]) == {"bare"} and len(worst[0]["label"]["hr_bpm"]) == 3
    assert [path.name for path in replot(out)] == list(figures)


def test_the_head_and_the_bare_network_are_compared(lab, tmp_path):
    out = tmp_path / "out"
    assert evaluate([str(lab / "test"), *model_options(lab, "--head", str(lab / "best.safetensors"), "--codebook",
                                                       str(lab / "codebook"), "--compare", "--out", str(out))]) == 0
    record = json.loads((out / "metrics.json").read_text())
    assert set(record["models"]) == {"bare", "head"} and record["models"]["head"]["videos"] == 4
    with (out / "per_video.csv").open() as stream:
        assert sorted({row["model"] for row in csv.DictReader(stream)}) == ["bare", "head"]


def test_a_toolbox_cache_needs_its_frame_rate_and_a_manifest_is_not_contradicted(lab, tmp_path, capsys):
    cache = tmp_path / "cache"
    cache.mkdir()
    for path in (lab / "test").glob("*.npy"):
        (cache / path.name).write_bytes(path.read_bytes())
    assert evaluate([str(cache), *model_options(lab, "--out", str(tmp_path / "a"))]) == 2
    assert "does not record its frame rate; pass --fs" in capsys.readouterr().err
    assert evaluate([str(cache), "--fs", "30", *model_options(lab, "--out", str(tmp_path / "b"))]) == 0
    assert evaluate([str(lab / "test"), "--fs", "25", *model_options(lab, "--out", str(tmp_path / "c"))]) == 2
    assert "--fs 25.0: " in capsys.readouterr().err
