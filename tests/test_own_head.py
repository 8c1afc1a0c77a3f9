"""The bare baseline: a network trained the toolbox's way with its own head and loss, then evaluated per video."""

from __future__ import annotations

import json

import pytest
import torch

from codephys_plugin.adapters import DeepPhys, PhysNet, adapter_for
from codephys_plugin.adapters.checkpoint import load_checkpoint
from codephys_plugin.data.clip_sets import split_by_video, toolbox_clips
from codephys_plugin.training.own_head import OwnHeadConfig, evaluate_own_head, train_own_head
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


def test_what_the_toolbox_does_not_train_this_way_is_refused(cache, clips):
    train, val = clips
    with pytest.raises(ValueError, match="no toolbox loss is known for DeepPhysAdapter.*known: PhysNetAdapter"):
        train_own_head(adapter_for(DeepPhys(img_size=72)), train, val, OwnHeadConfig(epochs=1))
    waveforms = toolbox_clips(cache, layout="NDHWC", label_form="waveform", fs=30.0)
    with pytest.raises(ValueError, match="training clips hold waveform labels.*DiffNormalized"):
        train_own_head(adapter_for(PhysNet(frames=STEPS)), waveforms, val, OwnHeadConfig(epochs=1))
