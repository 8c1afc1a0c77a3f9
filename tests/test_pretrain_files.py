"""codephys-pretrain on files: skip-bad accounting, errors, resume, and torchrun."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from codephys_plugin.autoencoder import AutoencoderConfig, SignalAutoencoder
from codephys_plugin.bundle import load_bundle
from codephys_plugin.encoder import SignalCoderConfig
from codephys_plugin.pretrain import main
from codephys_plugin.query import CodebookConfig
from codephys_plugin.training.stage1 import Stage1TrainingConfig, train_stage1
from tests.helpers.strict_json import read_strict_json
from tests.helpers import ppg_files

SMALL_MODEL = ["--num-codes", "8", "--dim", "8", "--epochs", "2", "--no-progress"]


def physiokit_like_folder(folder: Path, count: int = 4) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        ppg_files.write_csv(folder / f"P{i}.csv", 60.0 + 10 * i)
    return folder


def test_skip_bad_skips_with_a_warning_and_counts_in_the_report(tmp_path, capsys):
    data = physiokit_like_folder(tmp_path / "data")
    ppg_files.write_csv(data / "broken.csv", 70.0, nan_at=100)
    args = [str(data), "--column", "PPG Finger", "--time-column", "arduino_ts", *SMALL_MODEL, "--out", str(tmp_path / "b")]
    assert main(args) == 2
    assert "broken.csv" in capsys.readouterr().err
    with pytest.warns(UserWarning, match="broken.csv"):
        assert main([*args, "--skip-bad"]) == 0
    report = read_strict_json(tmp_path / "b" / "report.json")
    assert len(report["skipped"]) == 1 and "NaN" in report["skipped"][0]
    assert "skipped recordings       1" in capsys.readouterr().out


def test_split_is_by_recording_and_needs_two(tmp_path, capsys):
    data = physiokit_like_folder(tmp_path / "data", count=5)
    assert main([str(data), "--column", "PPG Finger", "--time-column", "arduino_ts", *SMALL_MODEL,
                 "--out", str(tmp_path / "b")]) == 0
    report = read_strict_json(tmp_path / "b" / "report.json")
    assert [r["name"] for r in report["recordings"]] == ["P2.csv[PPG Finger]"]
    single = physiokit_like_folder(tmp_path / "one", count=1)
    assert main([str(single), "--column", "PPG Finger", "--time-column", "arduino_ts", *SMALL_MODEL,
                 "--out", str(tmp_path / "c")]) == 2
    assert "at least two recordings" in capsys.readouterr().err


def test_toolbox_caches_and_a_real_camera_clock_in_one_run(tmp_path, capsys):
    """Caches need --fs; the UBFC file beside them keeps its own jittery clock (true rate 64 Hz,
    1/median 57 Hz) and its repeated stamp is merged, warned about and listed in the report."""
    cache = tmp_path / "cache"
    for video, hr in (("subject3", 66.0), ("subject4", 80.0), ("subject5", 95.0)):
        ppg_files.write_toolbox_chunks(cache, video, hr)
    times = ppg_files.camera_clock_times(2560, ppg_files.SENSOR_FS, repeat_at=495, stall_at=1000)
    ubfc = ppg_files.write_ubfc2(tmp_path / "ubfc" / "subject1", 84.0, times=times)
    with pytest.warns(UserWarning, match="subject1/ground_truth.txt: 1 repeated timestamp"):
        code = main([str(cache), "--format", "toolbox", "--fs", "30", "--val", str(ubfc.parent.parent),
                     "--hr-window", "0", *SMALL_MODEL, "--out", str(tmp_path / "b")])
    out = capsys.readouterr().out
    assert code == 0
    report = read_strict_json(tmp_path / "b" / "report.json")
    assert report["repaired"] == ["subject1/ground_truth.txt: 1 repeated timestamp(s), their samples averaged"]
    (recording,) = report["recordings"]
    assert recording["hr_original_bpm"] == [pytest.approx(84.0, abs=2.0)]
    assert report["hr"]["pearson"] is None, "one HR window has no correlation: null, not NaN"
    assert "HR Pearson r             undefined (the HRs are constant or too few)" in out
    assert "repaired recordings      1" in out and "FFT peak in 0.6-3.3 Hz" in out


def test_val_without_training_inputs_is_refused(tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        main(["--val", str(physiokit_like_folder(tmp_path / "v")), *SMALL_MODEL, "--out", str(tmp_path / "b")])
    assert stop.value.code == 2
    assert "--val needs training inputs" in capsys.readouterr().err
    assert not (tmp_path / "b").exists()


def test_the_hr_band_is_checked_first_and_used(tmp_path, capsys):
    data = physiokit_like_folder(tmp_path / "data", count=3)
    args = [str(data), "--column", "PPG Finger", "--time-column", "arduino_ts", *SMALL_MODEL, "--out", str(tmp_path / "b")]
    with pytest.raises(SystemExit):
        main([*args, "--hr-band", "0.75", "nan"])
    assert "--hr-band: band (0.75, nan) Hz" in capsys.readouterr().err
    assert main([*args, "--hr-band", "0.75", "2.5"]) == 0
    assert read_strict_json(tmp_path / "b" / "report.json")["hr_band_hz"] == [0.75, 2.5]
    assert "FFT peak in 0.75-2.5 Hz" in capsys.readouterr().out


def _windows():
    t = torch.arange(64) / 30.0
    return torch.sin(2 * torch.pi * (1 + torch.rand(40, 1, generator=torch.Generator().manual_seed(0))) * t)


def _fresh_model():
    torch.manual_seed(0)
    return SignalAutoencoder(AutoencoderConfig(coder=SignalCoderConfig(dim=8),
                                               codebook=CodebookConfig(num_codes=8, dim=8, update="ema",
                                                                       kmeans_init=True, dead_code_steps=3)))


class _Interrupt(Exception):
    """Stands in for a run killed after an epoch's checkpoint was written."""


def _stop_after(summary, epoch):
    if summary.epoch == epoch:
        raise _Interrupt


def test_resumed_training_ends_with_the_same_weights_as_an_uninterrupted_run(tmp_path):
    windows = _windows()
    straight = _fresh_model()
    train_stage1(straight, windows, Stage1TrainingConfig(epochs=3, batch_size=8))

    checkpoint = tmp_path / "ckpt.pt"
    interrupted = _fresh_model()
    with pytest.raises(_Interrupt):
        train_stage1(interrupted, windows, Stage1TrainingConfig(epochs=3, batch_size=8, checkpoint=checkpoint),
                     on_epoch=lambda s: _stop_after(s, 1))
    torch.manual_seed(12345)  # a resumed process starts with unrelated random state
    resumed = _fresh_model()
    history = train_stage1(resumed, windows, Stage1TrainingConfig(epochs=3, batch_size=8, checkpoint=checkpoint),
                           resume_from=checkpoint)
    assert [h.epoch for h in history] == [1, 2, 3]
    # Exact: one process, the same ops on the same values in the same order, so the same rounding on
    # any CPU; a checkpoint that lost any state (RNG, optimizer moments, EMA) would differ.
    for key, value in straight.state_dict().items():
        assert torch.equal(resumed.state_dict()[key], value), key


def test_resume_refuses_a_checkpoint_from_other_settings(tmp_path):
    checkpoint = tmp_path / "ckpt.pt"
    train_stage1(_fresh_model(), _windows(), Stage1TrainingConfig(epochs=1, batch_size=8, checkpoint=checkpoint))
    with pytest.raises(ValueError, match="another run.*differs in batch_size: checkpoint 8, now 4"):
        train_stage1(_fresh_model(), _windows(), Stage1TrainingConfig(epochs=1, batch_size=4), resume_from=checkpoint)
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="junk.pt"):
        train_stage1(_fresh_model(), _windows(), Stage1TrainingConfig(epochs=1), resume_from=tmp_path / "junk.pt")


DDP_HELPER = Path(__file__).parent / "helpers" / "ddp_stage1.py"


@pytest.mark.skipif(shutil.which("torchrun") is None and not (Path(sys.executable).parent / "torchrun").exists(),
                    reason="torchrun not installed")
def test_torchrun_two_cpu_processes_keep_identical_codebooks(tmp_path):
    torchrun = shutil.which("torchrun") or str(Path(sys.executable).parent / "torchrun")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    completed = subprocess.run(
        [torchrun, "--standalone", "--nproc_per_node=2", str(DDP_HELPER), str(tmp_path)],
        capture_output=True, text=True, timeout=600, env=env,
    )
    assert completed.returncode == 0, completed.stderr[-4000:]
    states = [torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in range(2)]
    # Exact: both ranks apply the same all-reduced gradients and EMA statistics (see test_codebook_distributed).
    for key in states[0]:
        assert torch.equal(states[0][key], states[1][key]), f"{key} differs between ranks"
    assert bool(states[0]["codebook.initialized"])
    assert load_bundle(tmp_path / "bundle.safetensors").config.num_codes == 8, "the CLI under torchrun wrote no bundle"
    assert "2 process(es)" in completed.stdout
