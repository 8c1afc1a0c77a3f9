"""codephys-pretrain never destroys what it did not write: --out is checked before any work."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from codephys_plugin.bundle import load_bundle
from codephys_plugin.pretrain import main
from tests.helpers import ppg_files

TINY = ["--train-recordings", "4", "--val-recordings", "2", "--duration", "12", "--epochs", "1",
        "--num-codes", "8", "--dim", "8", "--no-progress"]


def refused(args: list[str], capsys) -> str:
    with pytest.raises(SystemExit) as stop:
        main(args)
    assert stop.value.code == 2
    return capsys.readouterr().err


def test_a_folder_holding_a_foreign_file_is_left_alone(tmp_path, capsys):
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "precious.txt").write_text("x")
    err = refused([*TINY, "--out", str(victim)], capsys)
    assert "precious.txt" in err and "refusing to replace it" in err
    assert (victim / "precious.txt").read_text() == "x"


def test_the_input_folder_is_never_the_output(tmp_path, capsys):
    data = tmp_path / "ds"
    data.mkdir()
    for i in range(3):
        ppg_files.write_csv(data / f"P{i}.csv", 60.0 + 10 * i)
    before = {path.name: path.read_bytes() for path in data.iterdir()}
    err = refused([str(data), "--column", "PPG Finger", "--time-column", "arduino_ts", *TINY, "--out", str(data)], capsys)
    assert "P0.csv" in err
    assert {path.name: path.read_bytes() for path in data.iterdir()} == before


@pytest.mark.parametrize("name", ["plain_file", "garbage.safetensors"])
def test_an_existing_file_that_is_not_a_bundle_is_not_overwritten(tmp_path, capsys, name):
    target = tmp_path / name
    target.write_bytes(b"not a bundle")
    err = refused([*TINY, "--out", str(target)], capsys)
    assert name in err and "refusing to overwrite it" in err
    assert target.read_bytes() == b"not a bundle"


@pytest.mark.parametrize("name", ["codebook", "codebook.safetensors"])
def test_an_earlier_bundle_is_replaced_whole(tmp_path, name):
    out = tmp_path / name
    assert main([*TINY, "--out", str(out)]) == 0
    assert load_bundle(out).config.num_codes == 8
    assert main([*TINY, "--num-codes", "4", "--out", str(out)]) == 0
    assert load_bundle(out).config.num_codes == 4
    leftovers = sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("."))
    assert leftovers == [], "staging or retired copies were left behind"


def test_resume_without_a_checkpoint_is_refused(tmp_path, capsys):
    err = refused([*TINY, "--resume", "--out", str(tmp_path / "fresh")], capsys)
    assert "--resume: there is no checkpoint" in err and "fresh.checkpoint.pt" in err
    assert not Path(tmp_path / "fresh").exists()


def test_no_progress_frames_in_a_log_file(tmp_path):
    """Run as in CI (output to a file): one line per epoch, no carriage-return bar frames."""
    log = tmp_path / "log.txt"
    with log.open("w") as stream:
        completed = subprocess.run(
            [sys.executable, "-m", "codephys_plugin.pretrain", *[a for a in TINY if a != "--no-progress"],
             "--epochs", "2", "--out", str(tmp_path / "b")],
            stdout=stream, stderr=subprocess.STDOUT, timeout=300,
        )
    text = log.read_text()
    assert completed.returncode == 0, text[-2000:]
    assert "\r" not in text and "batch/s" not in text, "progress-bar frames in a log file"
    assert "epoch  1/2" in text and "epoch  2/2" in text


@pytest.mark.parametrize(
    ("change", "message"),
    [(["--window", "64"], r"differs in training windows: checkpoint '\d+ x 160 samples, sha256 \w+', now '\d+ x 64 samples"),
     (["--seed", "3"], r"differs in seed: checkpoint 0, now 3; training windows: "),
     (["--num-codes", "16"], r"differs in model: checkpoint .*num_codes=8.*now .*num_codes=16")],
    ids=["window", "data", "codebook size"],
)
def test_resume_refuses_a_finished_checkpoint_when_the_inputs_changed(tmp_path, capsys, change, message):
    bundle = tmp_path / "codebook"
    assert main([*TINY, "--out", str(bundle)]) == 0
    before = (tmp_path / "codebook" / "config.json").read_text()
    capsys.readouterr()
    assert main([*TINY, "--out", str(bundle), "--resume", *change]) == 2
    err = capsys.readouterr().err
    assert "codephys-pretrain: error: the checkpoint is of another run" in err and "Traceback" not in err
    assert re.search(message, err), err
    assert (tmp_path / "codebook" / "config.json").read_text() == before
