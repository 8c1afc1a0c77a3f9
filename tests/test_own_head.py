"""The bare baseline: a network trained the toolbox's way with its own head and loss, then evaluated per video."""

from __future__ import annotations

import json
import math

import pytest
import torch

from codephys_plugin.adapters import SSPD, DeepPhys, EfficientPhys, HookAdapter, PhysFormer, PhysNet, adapter_for
from codephys_plugin.adapters.checkpoint import load_checkpoint
from codephys_plugin.data.clip_sets import ClipSet, split_by_video, toolbox_clips
from codephys_plugin.losses.physformer import physformer_loss
from codephys_plugin.training.checkpoint import ResumeError
from codephys_plugin.training.own_head import OwnHeadConfig, evaluate_own_head, train_own_head
from codephys_plugin.training.own_recipes import frame_mse_loss, own_recipe, pearson_loss
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
