"""The bare baseline: a network trained the toolbox's way with its own head and loss, then evaluated per video."""

from __future__ import annotations

import json
import math

import pytest
import torch

from codephys_plugin.adapters import SSPD, DeepPhys, EfficientPhys, HookAdapter, PhysFormer, PhysNet, adapter_for
from codephys_plugin.adapters.checkpoint import load_checkpoint
from codephys_plugin.adapters.clip_nets import PhysFormerAdapter
from codephys_plugin.adapters.per_frame import DeepPhysAdapter
from codephys_plugin.data.clip_sets import ClipSet, network_inputs, split_by_video, toolbox_clips
from codephys_plugin.losses.physformer import physformer_loss
from codephys_plugin.training.checkpoint import ResumeError
from codephys_plugin.training.own_head import OwnHeadConfig, evaluate_own_head, train_own_head
from codephys_plugin.training.own_recipes import OWN_RECIPES, frame_mse_loss, own_recipe, pearson_loss
from tests.test_train_cli import STEPS, write_cache


@pytest.fixture()
def cache(tmp_path):
    return write_cache(tmp_path / "cache", videos=4, chunks=4)


@pytest.fixture()
def clips(cache):
    return split_by_video(toolbox_clips(cache, layout="NDHWC", label_form="derivative", fs=30.0), 0.25, 0)


def test_the_bare_network_learns_and_its_best_weights_load_strictly_into_the_public_class(clips, tmp_path):
    torch.manual_seed(0)
    train, val = clips
    adapter = adapter_for(PhysNet(frames=STEPS))
    config = OwnHeadConfig(epochs=6, lr=3e-3, best=tmp_path / "best.safetensors", history=tmp_path / "history.json")
    history = train_own_head(adapter, train, val, config)
    assert [summary.epoch for summary in history] == list(range(1, 7))
    assert history[-1].loss < history[0].loss, "negative Pearson falls on a pulse the frames show plainly"
    assert json.loads((tmp_path / "history.json").read_text())[-1]["loss"] == pytest.approx(history[-1].loss)
    best = [summary for summary in history if summary.best][-1]
    fresh = PhysNet(frames=STEPS)
    load_checkpoint(fresh, tmp_path / "best.safetensors")
    report = evaluate_own_head(adapter_for(fresh), val).summary()
    assert report["mae"] == pytest.approx(best.val["mae"]) and report["videos"] == 1


class Killed(Exception):
    pass


def test_a_bare_run_killed_after_an_epoch_resumes_to_the_same_weights_as_an_uninterrupted_one(clips, tmp_path):
    """PhysNet's recipe steps a one-cycle schedule every batch: the resumed run must continue it, not restart it."""
    train, val = clips

    def run(folder, on_epoch=None):
        torch.manual_seed(0)
        adapter = adapter_for(PhysNet(frames=STEPS))
        config = OwnHeadConfig(epochs=3, lr=3e-3, best=folder / "best.safetensors", checkpoint=folder / "state.pt")
        return adapter, train_own_head(adapter, train, val, config, resume_from=folder / "state.pt", on_epoch=on_epoch)

    whole, whole_history = run(tmp_path / "whole")

    def killed_after_epoch_2(summary):
        if summary.epoch == 2:
            raise Killed

    with pytest.raises(Killed):
        run(tmp_path / "cut", killed_after_epoch_2)
    resumed_epochs = []
    resumed, history = run(tmp_path / "cut", lambda summary: resumed_epochs.append(summary.epoch))
    assert resumed_epochs == [3], "epochs 1-2 are not trained again"
    assert [summary.loss for summary in history] == pytest.approx([summary.loss for summary in whole_history])
    for name, tensor in whole.state_dict().items():
        assert torch.equal(resumed.state_dict()[name], tensor), name
    assert (tmp_path / "cut" / "best.safetensors").read_bytes() == (tmp_path / "whole" / "best.safetensors").read_bytes()


def test_a_run_stopped_after_its_first_epochs_replays_them_bit_for_bit_on_the_whole_runs_schedule(clips):
    """How the benchmark rebuilds a lost warm start: the first epochs of a longer run, not a shorter run (PhysNet's
    one-cycle schedule spans every epoch, so a 2-epoch run would train otherwise)."""
    train, val = clips

    def run(**settings):
        torch.manual_seed(0)
        adapter = adapter_for(PhysNet(frames=STEPS))
        snapshots = []
        train_own_head(adapter, train, val, OwnHeadConfig(lr=3e-3, **settings),
                       on_epoch=lambda summary: snapshots.append({k: v.clone() for k, v in adapter.state_dict().items()}))
        return snapshots

    whole, replay, shorter = run(epochs=4), run(epochs=4, stop_after=2), run(epochs=2)
    assert len(replay) == 2 and len(whole) == 4
    for name, tensor in whole[1].items():
        assert torch.equal(replay[1][name], tensor), name
    assert any(not torch.equal(shorter[1][name], tensor) for name, tensor in whole[1].items())
    with pytest.raises(ValueError, match="invalid own-head training config"):
        OwnHeadConfig(epochs=4, stop_after=5)


def test_a_bare_checkpoint_of_other_settings_is_refused(clips, tmp_path):
    train, val = clips
    config = OwnHeadConfig(epochs=1, checkpoint=tmp_path / "state.pt")
    train_own_head(adapter_for(PhysNet(frames=STEPS)), train, val, config)
    with pytest.raises(ResumeError, match="epochs: checkpoint 1, now 2"):
        train_own_head(adapter_for(PhysNet(frames=STEPS)), train, val, OwnHeadConfig(epochs=2),
                       resume_from=tmp_path / "state.pt")


def pulse_clips(channels: int, size: int, steps: int, videos: int = 2, chunks: int = 2) -> ClipSet:
    """Prepared clips 't c h w' whose pixels carry a 66-96 bpm pulse under noise, with DiffNormalized labels."""
    generator = torch.Generator().manual_seed(0)
    frames, labels, names, indices = [], [], [], []
    for video in range(videos):
        rate = 1.1 + 0.5 * video
        for chunk in range(chunks):
            pulse = torch.sin(2 * math.pi * rate * (torch.arange(steps) + chunk * steps) / 30.0)
            frames.append(0.3 * torch.randn(steps, channels, size, size, generator=generator) + pulse[:, None, None, None])
            label = torch.diff(pulse, append=pulse[-1:])
            labels.append(label / label.std())
            names.append(f"video{video}")
            indices.append(chunk)
    dataset = torch.utils.data.TensorDataset(torch.stack(frames), torch.stack(labels))
    return ClipSet(dataset, tuple(names), tuple(indices), prepared=True, label_form="derivative", fs=30.0)


NETWORKS = {
    "deepphys": (lambda: DeepPhys(img_size=36), 6, 36, torch.optim.AdamW, frame_mse_loss),
    "efficientphys": (lambda: EfficientPhys(img_size=36, frame_depth=4), 3, 36, torch.optim.AdamW, frame_mse_loss),
    "physformer": (lambda: PhysFormer(image_size=(32, 128, 128), num_layers=3), 3, 128, torch.optim.Adam,
                   physformer_loss),
    "physnet": (lambda: PhysNet(frames=32), 3, 32, torch.optim.Adam, pearson_loss),
    "sspd": (SSPD, 3, 128, torch.optim.Adam, pearson_loss),
}


@pytest.mark.parametrize("name", sorted(NETWORKS))
def test_every_network_trains_on_its_own_recipe_and_saves_weights_its_public_class_loads(name, tmp_path, monkeypatch):
    build, channels, size, optimizer, loss = NETWORKS[name]
    torch.manual_seed(0)
    adapter = adapter_for(build())
    recipe = own_recipe(adapter)
    assert recipe.loss is loss and isinstance(recipe.optimizer_for(adapter.parameters(), 1e-3), optimizer)
    clips = pulse_clips(channels, size, 32, chunks=4)
    rates = []
    original_step = optimizer.step
    monkeypatch.setattr(optimizer, "step", lambda self, *args, **kw: (rates.append(self.param_groups[0]["lr"]),
                                                                     original_step(self, *args, **kw))[1])
    before = {key: value.clone() for key, value in adapter.model.state_dict().items()}
    history = train_own_head(adapter, clips, clips, OwnHeadConfig(epochs=2, batch_size=2,
                                                                         best=tmp_path / "best.safetensors"))
    assert len(history) == 2 and all(math.isfinite(summary.loss) for summary in history)
    assert any(not torch.equal(before[key], value) for key, value in adapter.model.state_dict().items())
    if recipe.one_cycle:
        assert rates[0] == pytest.approx(recipe.lr / 25) and max(rates) <= recipe.lr
    else:
        assert set(rates) == {recipe.lr}, "constant for these epochs (PhysFormer halves only every 50)"
    load_checkpoint(build(), tmp_path / "best.safetensors")


def test_what_the_toolbox_does_not_train_this_way_is_refused(cache, clips):
    train, val = clips
    with pytest.raises(ValueError, match="no toolbox recipe is known for HookAdapter.*known: PhysNetAdapter, DeepPhys"):
        train_own_head(HookAdapter(torch.nn.Sequential(torch.nn.Conv3d(3, 4, 1)), layer="0"), train, val,
                       OwnHeadConfig(epochs=1))
    waveforms = toolbox_clips(cache, layout="NDHWC", label_form="waveform", fs=30.0)
    with pytest.raises(ValueError, match="training clips hold waveform labels.*DiffNormalized"):
        train_own_head(adapter_for(PhysNet(frames=STEPS)), waveforms, val, OwnHeadConfig(epochs=1))


class ScriptedReport:
    def __init__(self, mae: float) -> None:
        self.mae = mae

    def summary(self) -> dict[str, float]:
        return {"mae": self.mae}


def test_the_bare_run_keeps_its_epoch_by_the_heads_rule_and_its_warm_start_at_the_first_lowest_mae(
        clips, tmp_path, monkeypatch):
    """The MAE saturates (here at 0 from epoch 2): ties go to the lowest validation loss (epoch 4), while the warm
    start stays the first epoch to reach it (2); an unmeasurable epoch wins neither, but the first is kept until
    one beats it, as in Stage II."""
    from safetensors import safe_open

    from codephys_plugin.training import own_head

    scripted = iter([(0.2, math.nan), (0.9, 5.0), (0.5, 0.0), (0.6, 0.0), (0.3, 0.0), (0.1, math.nan), (0.4, 0.0)])
    monkeypatch.setattr(own_head, "validate_own_head",
                        lambda *args, **kwargs: (lambda loss, mae: (loss, ScriptedReport(mae)))(*next(scripted)))
    train, val = clips
    files = {name: tmp_path / f"{name}.safetensors" for name in ("best", "warm_start")}
    config = OwnHeadConfig(epochs=7, lr=1e-3, **files)
    history = train_own_head(adapter_for(PhysNet(frames=STEPS)), train, val, config)
    assert [summary.epoch for summary in history if summary.best] == [1, 2, 3, 5]
    assert [summary.epoch for summary in history if summary.warm_start] == [1, 2, 3]
    assert [summary.val_loss for summary in history] == [0.2, 0.9, 0.5, 0.6, 0.3, 0.1, 0.4]
    for name, epoch in (("best", "5"), ("warm_start", "3")):
        with safe_open(files[name], "pt") as saved:
            assert saved.metadata()["codephys_own_head_epoch"] == epoch, name


def test_a_bare_run_that_never_measures_an_hr_keeps_its_lowest_validation_loss_epoch(clips, tmp_path, monkeypatch):
    """No validation video gives an HR (MAE NaN every epoch): the run still keeps weights, by the loss alone, as
    `train_stage2` does, instead of leaving no file for the benchmark to test."""
    from codephys_plugin.training import own_head

    scripted = iter([(0.5, math.nan), (0.3, math.nan), (0.4, math.nan)])
    monkeypatch.setattr(own_head, "validate_own_head",
                        lambda *args, **kwargs: (lambda loss, mae: (loss, ScriptedReport(mae)))(*next(scripted)))
    train, val = clips
    files = {name: tmp_path / f"{name}.safetensors" for name in ("best", "warm_start")}
    history = train_own_head(adapter_for(PhysNet(frames=STEPS)), train, val, OwnHeadConfig(epochs=3, lr=1e-3, **files))
    assert [summary.epoch for summary in history if summary.best] == [1, 2]
    assert [summary.epoch for summary in history if summary.warm_start] == [1]
    assert all(path.is_file() for path in files.values())


def test_the_validation_loss_is_the_recipes_and_physformers_is_its_pearson_term():
    """PhysFormer's training loss reweights its terms after epoch 10: the validation loss must not change with
    the epoch, so it is the loss's Pearson term (comparable across epochs); the others validate by their loss."""
    torch.manual_seed(0)
    rppg, label = torch.randn(3, 64, dtype=torch.float64), torch.randn(3, 64, dtype=torch.float64)
    physformer = OWN_RECIPES[PhysFormerAdapter]
    assert physformer.validate(rppg, label, fs=30.0) == pearson_loss(rppg, label, epoch=0, fs=30.0)
    assert physformer.loss(rppg, label, epoch=0, fs=30.0) != physformer.loss(rppg, label, epoch=11, fs=30.0)
    deepphys = OWN_RECIPES[DeepPhysAdapter]
    assert deepphys.validate(rppg, label, fs=30.0) == frame_mse_loss(rppg, label, epoch=0, fs=30.0)


def test_validate_own_head_reports_what_evaluate_own_head_does_and_the_recipes_loss_of_the_same_outputs(clips):
    from codephys_plugin.training.own_head import validate_own_head

    torch.manual_seed(0)
    _, val = clips
    adapter = adapter_for(PhysNet(frames=STEPS))
    loss, report = validate_own_head(adapter, val)
    assert report.summary() == pytest.approx(evaluate_own_head(adapter, val).summary(), nan_ok=True)
    frames, labels = next(iter(torch.utils.data.DataLoader(val.dataset, batch_size=len(val))))
    with torch.no_grad():
        adapter.eval()
        rppg = adapter.rppg(network_inputs(adapter, frames, val.prepared))
    assert loss == pytest.approx(float(pearson_loss(rppg.double(), labels.double(), epoch=0, fs=val.fs)), rel=1e-6)
