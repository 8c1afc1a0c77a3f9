"""The demo, the whole story in minutes on two CPU cores: pretrain a codebook on synthetic PPG → train PhysNet
bare and wrapped with CodeQueryHead on clean lab clips → test both (and POS) on held-out subjects, clean and
degraded → print the table and write the figure.

    python3 tasks.py demo                      # results in codephys_demo/
    python3 tasks.py demo --out /tmp/demo      # anywhere else; a second call reuses what is finished

It is the benchmark (`codephys-benchmark`) at a small protocol of its own, so its figures are those of one
seed, 6 test videos and short budgets: a working example of the pipeline, not the benchmark's evidence.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

from codephys_plugin.benchmark.cli import default_codebook, run_benchmark
from codephys_plugin.benchmark.plots import figure_path
from codephys_plugin.benchmark.protocol import Protocol

DEMO = Protocol(networks=("physnet",), methods=("pos", "bare", "head"),
                degradations=("noise", "occlusion", "motion_blur", "compression"), severities=(1.0,), seeds=(0,),
                train_subjects=12, val_subjects=2, test_subjects=6, bare_epochs=6, head_epochs=2,
                frozen_backbone_epochs=1)
"""36-px clips of 30 s; PhysNet 6 epochs bare on 12 subjects, the head 2 more from those weights (backbone frozen
for one): sized to finish in 10 minutes on the slowest 2-core host it ran on (README, *Run the main job*)."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tasks.py demo", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("codephys_demo"),
                        help="results: codebook/, table.md, mae_vs_severity_physnet.png, cells/ (default: codephys_demo)")
    parser.add_argument("--no-progress", action="store_true")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    started = time.perf_counter()
    table = run_benchmark(DEMO, args.out / "work", args.out,
                          lambda: default_codebook(args.out / "codebook", DEMO.chunk_length), torch.device("cpu"),
                          show=not args.no_progress)
    print(f"\nHR MAE (bpm) on {DEMO.test_subjects} held-out subjects, clean and at severity 1 "
          f"({time.perf_counter() - started:.0f} s):\n")
    print(table)
    print(f"\nfigure: {figure_path(args.out, 'physnet')}; cells and table: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
