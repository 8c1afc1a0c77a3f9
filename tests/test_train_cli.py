"""codephys-train and the Stage II loop: a short run lowers the loss, resume, best epoch, caches, DDP, errors."""

from __future__ import annotations

import math
import os
import re
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from codephys_plugin.adapters import PhysNet
from codephys_plugin.pretrain import main as pretrain
from codephys_plugin.synth import main as synth
from codephys_plugin.train import build_head, build_parser, load_clips, main, training_config
from codephys_plugin.training.head_weights import load_head_weights, read_head_metadata
from codephys_plugin.training.selection import best_epoch
from codephys_plugin.training.stage2 import Stage2TrainingConfig, train_stage2, validate
from tests.helpers.strict_json import read_strict_json, strict_loads

STEPS = 32
SIZE = 32


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    """A real (if tiny) Stage I bundle with 32-sample windows, from codephys-pretrain on synthetic PPG."""
    path = tmp_path_factory.mktemp("bundle") / "b32.safetensors"
    code = pretrain(["--window", str(STEPS), "--hop", "8", "--epochs", "2", "--train-recordings", "6",
                     "--val-recordings", "2", "--duration", "15", "--no-progress", "--out", str(path)])
    assert code == 0
    return path


def tiny_args(bundle: Path, out: Path, *extra: str) -> list[str]:
    return ["--backbone", "physnet", "--backbone-arg", f"frames={STEPS}", "--codebook", str(bundle),
            "--size", str(SIZE), "--train-clips", "12", "--val-clips", "4", "--select-by", "loss", "--no-progress",
            "--out", str(out), *extra]


def test_help_lists_the_paper_defaults(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--help"])
    text = capsys.readouterr().out
    for default in ("--epochs", "(default: 20)", "1e-4", "5e-5", "(default: 4)", "--freeze-backbone", "--resume",
                    "--no-code-query", "--no-prior-branch", "--no-feature-distillation", "--no-spatial-attention",
                    "--no-stage1", "NDHWC", "--code-temperature"):
        assert default in text


def test_short_synthetic_run_lowers_the_loss(bundle, tmp_path, capsys):
    assert main(tiny_args(bundle, tmp_path / "run", "--epochs", "4")) == 0
    history = read_strict_json(tmp_path / "run" / "history.json")
    assert [epoch["epoch"] for epoch in history] == [1, 2, 3, 4]
    first, last = history[0], history[-1]
    assert last["loss"] < 0.7 * first["loss"], [epoch["loss"] for epoch in history]
    assert last["physiological"] < first["physiological"]
    assert all(np.isfinite(epoch["val_loss"]) and epoch["val"]["failed"] == 4 for epoch in history), \
        "one 32-frame clip per synthetic video (1.07 s) is too short for an FFT heart rate"
    assert all({"code_accuracy", "oracle_mae", "continuous_r"} <= set(epoch["diagnostics"]) for epoch in history)
    printed = capsys.readouterr().out
    assert "PhysNetAdapter" in printed and "HR MAE" in printed and "best epoch" in printed
    assert "codes: accuracy" in printed and "label codes decoded HR MAE" in printed


def _head_and_clips(bundle: Path, out: Path, *extra: str):
    args = build_parser().parse_args(tiny_args(bundle, out, *extra))
    torch.manual_seed(0)
    head = build_head(args)
    train, val = load_clips(args, head)
    return head, train, val, training_config(args, head.config.fs)


class Interrupt(Exception):
    pass


def test_resumed_run_ends_with_the_same_weights_as_an_uninterrupted_one(bundle, tmp_path):
    head, train, val, config = _head_and_clips(bundle, tmp_path / "a", "--epochs", "3")
    straight = train_stage2(head, train, val, config)

    head_b, train_b, val_b, config_b = _head_and_clips(bundle, tmp_path / "b", "--epochs", "3")

    def stop_after_two(summary):
        if summary.epoch == 2:
            raise Interrupt

    with pytest.raises(Interrupt):
        train_stage2(head_b, train_b, val_b, config_b, on_epoch=stop_after_two)
    # history.json survives the interrupt like the checkpoint does
    assert [epoch["epoch"] for epoch in read_strict_json(config_b.history)] == [1, 2]
    head_c, train_c, val_c, config_c = _head_and_clips(bundle, tmp_path / "b", "--epochs", "3")
    torch.manual_seed(123)  # the checkpoint's random state must win over whatever the process has now
    resumed = train_stage2(head_c, train_c, val_c, config_c, resume_from=config_c.checkpoint)
    assert [s.loss for s in resumed] == pytest.approx([s.loss for s in straight], rel=1e-5)
    for (name, expected), actual in zip(head.state_dict().items(), head_c.state_dict().values()):
        torch.testing.assert_close(actual, expected, rtol=1e-5, atol=1e-6, msg=name)


def test_training_needs_no_validation_set(bundle, tmp_path):
    head, train, _, config = _head_and_clips(bundle, tmp_path, "--epochs", "2")
    history = train_stage2(head, train, None, config)
    assert [summary.epoch for summary in history] == [1, 2]
    assert all(math.isnan(summary.val_loss) and not summary.val and not summary.diagnostics for summary in history)
    assert best_epoch(history).loss == min(summary.loss for summary in history)
    assert read_head_metadata(config.best)["codephys_stage2_epoch"] == str(best_epoch(history).epoch)


def test_resume_refuses_other_settings_and_other_inputs(bundle, tmp_path):
    head, train, val, config = _head_and_clips(bundle, tmp_path, "--epochs", "1")
    train_stage2(head, train, val, config)
    with pytest.raises(ValueError, match=r"another run.*differs in lr: checkpoint 0.0001, now 0.001"):
        train_stage2(head, train, val, replace(config, lr=1e-3), resume_from=config.checkpoint)
    with pytest.raises(ValueError, match=r"differs in training clips: checkpoint '12 clips, \w+', now '5 clips"):
        train_stage2(head, train.subset(range(5)), val, config, resume_from=config.checkpoint)
    with pytest.raises(ValueError, match=r"differs in codebook: checkpoint '\w+', now '\w+'$"):
        train_stage2(_head_on_another_bundle(tmp_path, "--seed", "7"), train, val, config, resume_from=config.checkpoint)
    with pytest.raises(ValueError, match=r"differs in codebook: .*; head structure: "):
        train_stage2(_head_on_another_bundle(tmp_path, "--num-codes", "32"), train, val, config,
                     resume_from=config.checkpoint)
    head.code_gradient = "soft"
    with pytest.raises(ValueError, match=r"differs in code query: checkpoint 'τ None, nearest gradient, windows of "
                                         r"32 every 16', now 'τ None, soft gradient"):
        train_stage2(head, train, val, config, resume_from=config.checkpoint)


def _head_on_another_bundle(tmp_path: Path, *pretrain_args: str):
    other = tmp_path / f"other{'_'.join(pretrain_args)}.safetensors"
    assert pretrain(["--window", str(STEPS), "--epochs", "1", "--train-recordings", "4", "--val-recordings", "2",
                     "--duration", "15", "--no-progress", "--out", str(other), *pretrain_args]) == 0
    return _head_and_clips(other, tmp_path, "--epochs", "1")[0]


def test_best_weights_are_the_best_epochs_and_reproduce_its_validation(bundle, tmp_path):
    head, train, val, config = _head_and_clips(bundle, tmp_path, "--epochs", "3", "--select-by", "loss")
    history = train_stage2(head, train, val, config)
    best = best_epoch(history)
    assert best.val_loss == min(s.val_loss for s in history)
    assert history[0].best and sum(s.best for s in history) >= 1
    metadata = read_head_metadata(config.best)
    assert metadata["codephys_stage2_epoch"] == str(best.epoch)
    assert strict_loads(metadata["codephys_stage2_summary"])["epoch"] == best.epoch
    fresh, *_ = _head_and_clips(bundle, tmp_path / "fresh")
    load_head_weights(fresh, config.best)
    val_loss, report, diagnostics = validate(fresh, val, config, torch.device("cpu"))
    assert val_loss == pytest.approx(best.val_loss, rel=1e-5)
    assert diagnostics == pytest.approx(best.diagnostics, rel=1e-5, nan_ok=True)
    assert 0 <= diagnostics["code_accuracy"] <= diagnostics["code_top5_accuracy"] <= 1
    assert 1 <= diagnostics["predicted_perplexity"] <= 64 and 1 <= diagnostics["label_perplexity"] <= 64
    assert -1 <= diagnostics["oracle_r"] <= 1 and -1 <= diagnostics["continuous_r"] <= 1
    summary = report.summary()
    assert (summary["videos"], summary["failed"]) == (best.val["videos"], best.val["failed"])
    assert summary["snr_db"] == pytest.approx(best.val["snr_db"], rel=1e-5, abs=1e-6, nan_ok=True)


def test_head_weights_for_another_head_are_refused(bundle, tmp_path):
    head, train, val, config = _head_and_clips(bundle, tmp_path, "--epochs", "1")
    train_stage2(head, train, val, config)
    other, *_ = _head_and_clips(bundle, tmp_path / "other", "--no-prior-branch")
    with pytest.raises(ValueError, match=r"best.safetensors.*0 \[\] missing, \d+ \['prior_branch"):
        load_head_weights(other, config.best)


def write_cache(folder: Path, videos: int = 3, chunks: int = 2, steps: int = STEPS, layout: str = "NDHWC") -> Path:
    """A toolbox-style cache: DiffNormalized-like inputs and derivative labels of a 1.2-1.8 Hz pulse."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for v in range(videos):
        rate = 1.2 + 0.3 * v
        for k in range(chunks):
            t = (np.arange(steps) + k * steps) / 30.0
            pulse = np.sin(2 * np.pi * rate * t)
            frames = 0.1 * rng.standard_normal((steps, SIZE, SIZE, 3)) + 0.05 * pulse[:, None, None, None]
            if layout == "NCDHW":
                frames = frames.transpose(3, 0, 1, 2)
            label = np.diff(pulse, append=pulse[-1])
            np.save(folder / f"subject{v}_input{k}.npy", frames.astype(np.float32))
            np.save(folder / f"subject{v}_label{k}.npy", (label / label.std()).astype(np.float32))
    return folder


def test_toolbox_cache_run_holds_out_whole_videos(bundle, tmp_path, capsys):
    cache = write_cache(tmp_path / "cache", chunks=4)
    code = main(["--backbone", "physnet", "--backbone-arg", f"frames={STEPS}", "--codebook", str(bundle),
                 "--cache", str(cache), "--fs", "30", "--val-fraction", "0.34", "--epochs", "1", "--no-progress",
                 "--out", str(tmp_path / "run")])
    assert code == 0, capsys.readouterr().err
    (epoch,) = read_strict_json(tmp_path / "run" / "history.json")
    assert epoch["val"]["videos"] + epoch["val"]["failed"] == 1
    assert "8 training / 4 validation clips" in capsys.readouterr().out


def test_a_codephys_synth_cache_trains(bundle, tmp_path, capsys):
    lab = tmp_path / "lab"
    assert synth(["--out", str(lab), "--size", str(SIZE), "--chunk-length", str(STEPS), "--subjects", "3",
                  "--seconds", "4", "--no-progress"]) == 0
    code = main(["--backbone", "physnet", "--backbone-arg", f"frames={STEPS}", "--codebook", str(bundle),
                 "--cache", str(lab), "--fs", "30", "--labels", "derivative", "--val-fraction", "0.34", "--epochs", "1",
                 "--select-by", "loss", "--no-progress", "--out", str(tmp_path / "run")])
    assert code == 0, capsys.readouterr().err
    assert "6 training / 3 validation clips" in capsys.readouterr().out


def test_bad_inputs_and_outputs_are_refused_before_the_first_step(bundle, tmp_path, capsys):
    train, val = write_cache(tmp_path / "train", chunks=4), write_cache(tmp_path / "val", videos=2, chunks=4)
    chunk = np.load(val / "subject1_input3.npy")
    chunk[5, 0, 0, 0] = np.nan
    np.save(val / "subject1_input3.npy", chunk)
    common = ["--backbone", "physnet", "--backbone-arg", f"frames={STEPS}", "--codebook", str(bundle), "--fs", "30",
              "--epochs", "1", "--no-progress"]
    assert main([*common, "--cache", str(train), "--val-cache", str(val), "--out", str(tmp_path / "run")]) == 2
    assert "subject1_input3.npy: 1 non-finite value(s)" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()
    assert main([*common, "--out", str(tmp_path / "run")]) == 2, "one 32-frame synthetic clip per video"
    assert re.search(r"--select-by mae: validation video \S+: 32 samples \(1.07 s at 30 Hz\) are too short .*"
                     r"--select-by loss", capsys.readouterr().err)
    (tmp_path / "a_file").write_text("x")
    with pytest.raises(SystemExit):
        main([*common, "--out", str(tmp_path / "a_file" / "run")])
    assert "--out: cannot create" in capsys.readouterr().err


def test_separate_validation_cache_in_another_layout(bundle, tmp_path):
    train, val = write_cache(tmp_path / "train", layout="NCDHW"), write_cache(tmp_path / "val", videos=2, layout="NCDHW")
    args = build_parser().parse_args(["--backbone", "physnet", "--backbone-arg", f"frames={STEPS}", "--codebook",
                                      str(bundle), "--cache", str(train), "--val-cache", str(val), "--fs", "30",
                                      "--layout", "NCDHW"])
    head = build_head(args)
    train_set, val_set = load_clips(args, head)
    assert (len(train_set), len(val_set)) == (6, 4)
    assert train_set.prepared and train_set.label_form == "derivative"
    clip, _ = train_set.dataset[0]
    assert head.adapter.from_prepared(clip[None]).shape == (1, 3, STEPS, SIZE, SIZE)


def test_user_class_with_a_lab_checkpoint(bundle, tmp_path):
    lab = PhysNet(frames=STEPS)
    torch.save({"state_dict": {f"module.{k}": v for k, v in lab.state_dict().items()}}, tmp_path / "lab.pth")
    args = build_parser().parse_args([
        "--backbone", "codephys_plugin.adapters.networks:PhysNet", "--backbone-arg", f"frames={STEPS}",
        "--checkpoint", str(tmp_path / "lab.pth"), "--codebook", str(bundle), "--freeze-backbone",
    ])
    head = build_head(args)
    for key, value in lab.state_dict().items():
        assert torch.equal(head.adapter.model.state_dict()[key], value)
    assert not any(p.requires_grad for p in head.adapter.parameters())


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--backbone", "nonet"], "no model of that name is registered"),
        (["--backbone", "codephys_plugin.adapters.networks:NoSuchNet"], "has no attribute NoSuchNet"),
        (["--backbone-arg", "frames"], "expected KEY=VALUE"),
        (["--cache", "CACHE"], "pass --fs"),
        (["--cache", "CACHE", "--fs", "25"], "at 25.0 Hz but the codebook bundle was learned at 30.0 Hz"),
        (["--backbone-arg", "frames=24", "--cache", "CACHE24", "--fs", "30"], "24 samples but the codebook bundle"),
        (["--checkpoint", "MISSING.pth"], "missing.pth: no such checkpoint file"),
        (["--hr-band", "2", "1"], "--hr-band: band (2.0, 1.0) Hz: expected 0 < low < high < fs/2"),
        (["--hr-band", "0.7", "16"], "fs/2 = 15.0 Hz"),
    ],
)
def test_errors_name_the_problem(bundle, tmp_path, capsys, extra, message):
    write_cache(tmp_path / "cache")
    write_cache(tmp_path / "cache24", steps=24)
    swapped = [a.replace("CACHE24", str(tmp_path / "cache24")).replace("CACHE", str(tmp_path / "cache"))
               .replace("MISSING", str(tmp_path / "missing")) for a in extra]
    assert main([*tiny_args(bundle, tmp_path / "run", "--epochs", "1"), *swapped]) == 2
    assert message in capsys.readouterr().err


def test_the_hr_band_is_used_printed_and_recorded(bundle, tmp_path, capsys):
    assert main(tiny_args(bundle, tmp_path / "run", "--epochs", "1", "--hr-band", "0.75", "2.5")) == 0
    (epoch,) = read_strict_json(tmp_path / "run" / "history.json")
    assert epoch["hr_band_hz"] == [0.75, 2.5]
    printed = capsys.readouterr().out
    assert "validation HR by FFT peak in 0.75-2.5 Hz" in printed and "(HR band 0.75-2.5 Hz)" in printed


def test_an_earlier_run_is_not_replaced_without_overwrite(bundle, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(tiny_args(bundle, out, "--epochs", "1")) == 0
    before = {name: (out / name).read_bytes() for name in ("checkpoint.pt", "best.safetensors", "history.json")}
    with pytest.raises(SystemExit) as stop:
        main(tiny_args(bundle, out, "--epochs", "1"))
    assert stop.value.code == 2
    assert "holds an earlier run (checkpoint.pt, best.safetensors, history.json)" in capsys.readouterr().err
    assert {name: (out / name).read_bytes() for name in before} == before
    (out / "notes.txt").write_text("mine")
    assert main(tiny_args(bundle, out, "--epochs", "1", "--seed", "1", "--overwrite")) == 0
    assert "--overwrite: removed the earlier run's" in capsys.readouterr().out
    assert (out / "notes.txt").read_text() == "mine"
    assert (out / "checkpoint.pt").read_bytes() != before["checkpoint.pt"]


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--resume"], "--resume: there is no checkpoint"),
        (["--resume", "--overwrite"], "--resume and --overwrite contradict each other"),
    ],
)
def test_resume_needs_a_checkpoint(bundle, tmp_path, capsys, extra, message):
    with pytest.raises(SystemExit):
        main(tiny_args(bundle, tmp_path / "run", "--epochs", "1", *extra))
    assert message in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


DDP_HELPER = Path(__file__).parent / "helpers" / "ddp_stage2.py"


@pytest.mark.skipif(shutil.which("torchrun") is None and not (Path(sys.executable).parent / "torchrun").exists(),
                    reason="torchrun not installed")
def test_torchrun_two_cpu_processes_keep_identical_heads(bundle, tmp_path):
    torchrun = shutil.which("torchrun") or str(Path(sys.executable).parent / "torchrun")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    completed = subprocess.run(
        [torchrun, "--standalone", "--nproc_per_node=2", str(DDP_HELPER), str(bundle), str(tmp_path)],
        capture_output=True, text=True, timeout=600, env=env,
    )
    assert completed.returncode == 0, completed.stderr[-4000:]
    states = [torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in range(2)]
    # Exact: both ranks apply the same all-reduced gradients; batch-norm buffers are broadcast from rank 0.
    for key in states[0]:
        assert torch.equal(states[0][key], states[1][key]), f"{key} differs between ranks"
    assert "world size 2" in completed.stdout
    assert (tmp_path / "run" / "best.safetensors").is_file() and (tmp_path / "run" / "checkpoint.pt").is_file()


def test_every_ablation_has_its_switch():
    from codephys_plugin.code_query_head import Ablation
    from codephys_plugin.train import ABLATION_HELP

    assert list(ABLATION_HELP) == [field for field in Ablation.__dataclass_fields__]
    args = build_parser().parse_args(["--backbone", "physnet", "--codebook", "x", "--no-prior-branch", "--no-stage1"])
    assert (args.no_prior_branch, args.no_stage1, args.no_code_query) == (True, True, False)


def test_paper_loss_is_tau_one_and_refuses_other_weights(bundle, tmp_path, capsys):
    args = build_parser().parse_args(["--backbone", "physnet", "--backbone-arg", f"frames={STEPS}", "--codebook",
                                      str(bundle), "--paper-loss"])
    assert build_head(args).code_temperature == 1.0
    for extra in (["--code-temperature", "64"], ["--alpha", "1"]):
        with pytest.raises(SystemExit):
            main([*tiny_args(bundle, tmp_path / "run", "--epochs", "1", "--paper-loss"), *extra])
        assert "--paper-loss" in capsys.readouterr().err


def test_toolbox_chunks_longer_than_the_bundles_window_train_and_validate(bundle, tmp_path, capsys):
    """The toolbox's 180-frame chunks against a 160-sample bundle, here 40 against 32: windowed in the head."""
    cache = write_cache(tmp_path / "cache", chunks=4, steps=40)
    code = main(["--backbone", "physnet", "--backbone-arg", "frames=40", "--codebook", str(bundle), "--cache",
                 str(cache), "--fs", "30", "--val-fraction", "0.34", "--epochs", "1", "--no-progress",
                 "--out", str(tmp_path / "run")])
    assert code == 0, capsys.readouterr().err
    (epoch,) = read_strict_json(tmp_path / "run" / "history.json")
    assert epoch["val"]["videos"] == 1 and 0 <= epoch["diagnostics"]["code_accuracy"] <= 1
