"""Does the bare row's epoch choice matter? One bare cell of the benchmark trained again, tested at three epochs.

    python examples/bare_epoch_choice.py --work /work/bench --network physnet --seed 0

The validation HR MAE of the CPU protocol's six clean validation videos saturates at 0.00 within 1-3 epochs, so
which of the tied epochs a run keeps is decided by the tie-break. This trains the same cell (the cpu protocol's
budget, recipe and seed) and tests on every condition the warm start (the first epoch of the lowest MAE: what bare
rows kept before 2026-12-04, and where the head rows start), the epoch the benchmark keeps now (ties by validation
loss, as the head rows) and the last epoch, printing each one's clean and mean degraded HR MAE. Nothing is written.
"""

from __future__ import annotations

import argparse
import copy
from pathlib import Path

import torch

from codephys_plugin.adapters import adapter_for
from codephys_plugin.benchmark import datasets
from codephys_plugin.benchmark.cells import Cell, bare_row_budget, build_network
from codephys_plugin.benchmark.cli import PRESETS
from codephys_plugin.benchmark.protocol import CLEAN
from codephys_plugin.benchmark.table import degraded_mean
from codephys_plugin.training.own_head import OwnHeadConfig, evaluate_own_head, train_own_head


def main(argv: list[str] | None = None) -> dict[str, dict[str, float]]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=Path, required=True, help="the benchmark's --work (its videos are reused)")
    parser.add_argument("--network", default="physnet", choices=["deepphys", "efficientphys", "physformer", "physnet"])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    protocol = PRESETS["cpu"]
    torch.manual_seed(args.seed)
    adapter = adapter_for(build_network(args.network, protocol))
    train = datasets.clips(args.work, protocol, args.network, "train")
    val = datasets.clips(args.work, protocol, args.network, "val")
    states: dict[int, dict] = {}

    def keep(summary) -> None:
        states[summary.epoch] = copy.deepcopy(adapter.model.state_dict())
        print(f"epoch {summary.epoch}: val HR MAE {summary.val['mae']:.2f}, loss {summary.val_loss:.4f}"
              f"{' (best)' if summary.best else ''}{' (warm start)' if summary.warm_start else ''}", flush=True)

    epochs, lr = bare_row_budget(Cell(args.network, "bare", args.seed), protocol)
    history = train_own_head(adapter, train, val, OwnHeadConfig(epochs=epochs, lr=lr, seed=args.seed), on_epoch=keep)
    marked = {label: max(summary.epoch for summary in history if getattr(summary, label))
              for label in ("warm_start", "best")}
    results = {}
    for label, epoch in (("warm_start", marked["warm_start"]), ("kept", marked["best"]), ("last", history[-1].epoch)):
        adapter.model.load_state_dict(states[epoch])
        mae = {condition: evaluate_own_head(adapter, datasets.clips(args.work, protocol, args.network, "test", condition))
               .summary()["mae"] for condition in protocol.conditions()}
        degraded = degraded_mean({condition: {"mean": value} for condition, value in mae.items()})
        results[label] = {"epoch": epoch, "clean": mae[CLEAN], "degraded": degraded}
        print(f"{args.network} seed {args.seed}, {label} epoch {epoch}: clean {mae[CLEAN]:.2f}, degraded mean {degraded:.2f}",
              flush=True)
    return results


if __name__ == "__main__":
    main()
