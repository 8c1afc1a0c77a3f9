"""Does a network wrapped with CodeQueryHead learn the pulse as well as the bare network? PhysNet on the video
lab's clean face clips, train and validation subjects disjoint, every run the same clips, epochs and batch.

    python examples/stage2_learning_run.py --work /tmp/stage2_runs      # writes results/stage2_learning/
    python examples/stage2_learning_run.py --work /tmp/stage2_runs --runs bare head_scratch --epochs 2
    python examples/stage2_learning_run.py --table                       # the README's table, from the JSON

Runs (the same PhysNet, 36 × 36 DiffNormalized frames, chunks of 160 at 30 Hz):
- bare: its own head and loss, the toolbox's recipe (negative Pearson, Adam, one-cycle to 9e-3);
- head_scratch / head_scratch_paper / noquant_scratch: CodeQueryHead from random weights, τ = D (64) or the
  paper's τ = 1, or without quantisation (code_query=False), all at lr 1e-3 with a one-epoch warm-up;
- head_scratch_soft: as head_scratch with L_phy's gradient through the softmax mix of the codes;
- head_scratch_codes: as head_scratch without L_phy (α = 0): the code-query terms alone;
- head_scratch_paper_cycle: as head_scratch_paper on the bare run's schedule (one-cycle to 9e-3, no warm-up);
- head_warm / noquant_warm: from the bare run's warm start (its first epoch of lowest validation HR MAE, as the
  benchmark's head rows; the toolbox way to have a network), backbone frozen for 3 epochs, then fine-tuned at
  1e-4 while the head learns at 1e-3.
The data (codephys-synth's lab: still heads, the default camera noise, all six skin types) and the codebook (codephys-pretrain on the embedded
synthetic PPG) are made first in --work. A run whose history is complete is not run again and a head run
that stopped resumes from its checkpoint, so the command can be repeated until it finishes; every finished
run's per-epoch history is copied into --out with the command that made it, and summary.json is rewritten
from those histories (versions and machine beside them).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import sys
import time
from pathlib import Path

import timm
import torch

import codephys_plugin.adapters  # noqa: F401  (registers the networks with timm)
from codephys_plugin import pretrain, train
from codephys_plugin._json import strict_json
from codephys_plugin._provenance import provenance
from codephys_plugin.adapters import adapter_for
from codephys_plugin.data.clip_sets import toolbox_clips
from codephys_plugin.adapters.clip_nets import PhysNetAdapter
from codephys_plugin.training.own_head import OwnHeadConfig, train_own_head
from codephys_plugin.training.own_recipes import OWN_RECIPES
from codephys_plugin.video_lab import RECIPES, LabDatasetConfig, write_lab_dataset
from codephys_plugin.video_lab.lab_dataset import holds_dataset

RESULTS = Path(__file__).resolve().parents[1] / "results" / "stage2_learning"
FS, WINDOW, SIZE, SECONDS, BATCH = 30.0, 160, 36, 30.0, 4
SUBJECTS = {"train": (0, 24), "val": (100, 12)}
"""First subject and count: disjoint ranges give disjoint subjects."""
HEAD_LR, BACKBONE_LR, FROZEN_EPOCHS = 1e-3, 1e-4, 3
BARE_LR = OWN_RECIPES[PhysNetAdapter].lr
HEAD_RUNS = {
    "head_scratch": ["--code-temperature", "64"],
    "head_scratch_soft": ["--code-temperature", "64", "--code-gradient", "soft"],
    "noquant_scratch": ["--no-code-query"],
    "head_warm": ["--code-temperature", "64", "--warm"],
    "noquant_warm": ["--no-code-query", "--warm"],
    "head_scratch_codes": ["--code-temperature", "64", "--alpha", "0"],
    "head_scratch_paper": ["--paper-loss"],
    "head_scratch_paper_cycle": ["--paper-loss", "--cycle"],
}
MARKERS = ("--warm", "--cycle")
"""Options of HEAD_RUNS that this script turns into codephys-train's: a warm start, the bare run's schedule."""
RUNS = ("bare", *HEAD_RUNS)


def make_data(work: Path) -> None:
    recipe = dataclasses.replace(RECIPES["physnet"], size=SIZE, chunk_length=WINDOW)
    for split, (first, count) in SUBJECTS.items():
        config = LabDatasetConfig(recipe=recipe, subjects=count, first_subject=first, seconds=SECONDS, fs=FS)
        if not holds_dataset(work / split, config):
            write_lab_dataset(config, work / split, overwrite=True)
    if not (work / "codebook" / "config.json").is_file():
        pretrain.main(["--out", str(work / "codebook"), "--no-progress"])


def completed(history: Path, epochs: int) -> bool:
    return history.is_file() and len(json.loads(history.read_text())) >= epochs


def run_name(name: str, seed: int) -> str:
    """Seed 0's runs keep the plain names; other seeds' get a suffix (their own folders and records)."""
    return name if seed == 0 else f"{name}_seed{seed}"


def run_bare(work: Path, epochs: int, seed: int) -> list[str]:
    out = work / run_name("bare", seed)
    torch.manual_seed(seed)
    adapter = adapter_for(timm.create_model("physnet", frames=WINDOW))
    clips = {split: toolbox_clips(work / split, layout="NDHWC", label_form="derivative", fs=FS) for split in SUBJECTS}
    config = OwnHeadConfig(epochs=epochs, seed=seed, best=out / "best.safetensors",
                           warm_start=out / "warm_start.safetensors", history=out / "history.json")
    train_own_head(adapter, clips["train"], clips["val"], config,
                   on_epoch=lambda s: print(f"  bare epoch {s.epoch}: loss {s.loss:.3f} val HR MAE {s.val['mae']:.2f} "
                                            f"r {s.val['pearson']:.3f}  {s.seconds:.0f} s", flush=True))
    return ["train_own_head", f"physnet frames={WINDOW}", f"epochs={epochs}", f"lr={BARE_LR}", "one-cycle", "batch 4",
            f"seed={seed}"]


def steps_per_epoch() -> int:
    """Batches in one pass over the training clips: the head's warm-up lasts one epoch."""
    clips = SUBJECTS["train"][1] * (int(SECONDS * FS) // WINDOW)
    return -(-clips // BATCH)


def head_command(work: Path, name: str, epochs: int, seed: int) -> list[str]:
    options = [option for option in HEAD_RUNS[name] if option not in MARKERS]
    schedule = (["--one-cycle", "--lr", str(BARE_LR)] if "--cycle" in HEAD_RUNS[name]
                else ["--lr", str(HEAD_LR), "--warmup-steps", str(steps_per_epoch())])
    command = ["--backbone", "physnet", "--backbone-arg", f"frames={WINDOW}", "--codebook", str(work / "codebook"),
               "--cache", str(work / "train"), "--val-cache", str(work / "val"), "--fs", str(FS), "--epochs", str(epochs),
               *schedule, "--out", str(work / run_name(name, seed)), "--seed", str(seed), "--no-progress", *options]
    if "--warm" in HEAD_RUNS[name]:
        command += ["--checkpoint", str(work / run_name("bare", seed) / "warm_start.safetensors"),
                    "--frozen-backbone-epochs", str(FROZEN_EPOCHS), "--backbone-lr", str(BACKBONE_LR)]
    return command


def run_head(work: Path, name: str, epochs: int, seed: int) -> list[str]:
    command = head_command(work, name, epochs, seed)
    resume = ["--resume"] if (work / run_name(name, seed) / "checkpoint.pt").is_file() else []
    if train.main(command + resume) != 0:
        raise SystemExit(f"{name}: codephys-train failed")
    return ["codephys-train", *command]


def summarise(out: Path) -> dict:
    runs = {}
    names = sorted(record.stem for record in out.glob("*.json") if record.stem.split("_seed")[0] in RUNS)
    for name in sorted(names, key=lambda name: (RUNS.index(name.split("_seed")[0]), name)):
        record = out / f"{name}.json"
        saved = json.loads(record.read_text())
        history = saved["history"]
        best = min((epoch for epoch in history if epoch["val"]["mae"] == epoch["val"]["mae"]),
                   key=lambda epoch: epoch["val"]["mae"], default=None)
        runs[name] = {"command": saved["command"], "seconds": saved["seconds"], "best_epoch": best and best["epoch"],
                      "best_val": best and best["val"], "best_diagnostics": best and best.get("diagnostics"),
                      "last_val": history[-1]["val"]}
    return {"runs": runs, **provenance()}


def markdown_table(summary: dict) -> str:
    """One row per finished run: its best epoch's validation figures and, for head runs, the diagnostics."""
    lines = ["| run | best epoch | HR MAE | HR r | code accuracy | predicted / label perplexity | "
             "unquantised HR MAE | time (s) |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for name, run in summary["runs"].items():
        val, diagnostics = run["best_val"] or {}, run["best_diagnostics"] or {}
        figure = lambda values, key, form: "–" if values.get(key) is None else format(values[key], form)
        lines.append(f"| {name} | {run['best_epoch']} | {figure(val, 'mae', '.2f')} | {figure(val, 'pearson', '.3f')} | "
                     f"{figure(diagnostics, 'code_accuracy', '.3f')} | {figure(diagnostics, 'predicted_perplexity', '.1f')}"
                     f" / {figure(diagnostics, 'label_perplexity', '.1f')} | {figure(diagnostics, 'continuous_mae', '.2f')} | "
                     f"{run['seconds']:.0f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=Path, help="folder for the lab data, codebook and run files (required to run)")
    parser.add_argument("--out", type=Path, default=RESULTS, help=f"where the JSON goes (default: {RESULTS})")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--runs", nargs="+", choices=RUNS, default=list(RUNS))
    parser.add_argument("--seed", type=int, default=0, help="seed of the runs (the data stay the same)")
    parser.add_argument("--table", action="store_true", help="only print the Markdown table of --out's summary.json")
    args = parser.parse_args(argv)
    if args.table:
        print(markdown_table(json.loads((args.out / "summary.json").read_text())))
        return 0
    if args.work is None:
        parser.error("--work is required to run (only --table works without it)")
    args.out.mkdir(parents=True, exist_ok=True)
    make_data(args.work)
    for name in args.runs:
        history = args.work / run_name(name, args.seed) / "history.json"
        if not completed(history, args.epochs):
            print(f"{run_name(name, args.seed)}: training", flush=True)
            started = time.perf_counter()
            command = (run_bare(args.work, args.epochs, args.seed) if name == "bare"
                       else run_head(args.work, name, args.epochs, args.seed))
            record = {"command": command, "seconds": round(time.perf_counter() - started, 1),
                      "history": json.loads(history.read_text())}
            (args.out / f"{run_name(name, args.seed)}.json").write_text(strict_json(record, indent=1))
        (args.out / "summary.json").write_text(strict_json(summarise(args.out), indent=2))
    shutil.copy(args.work / "codebook" / "report.json", args.out / "codebook_report.json")
    print(markdown_table(summarise(args.out)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
