"""One cell of the benchmark: a row (network and method) and a seed, trained once and tested on every
condition. A cell's result is one JSON file; a finished file is never recomputed unless its epoch was kept by
an earlier rule (`protocol.epoch_rule`) or, a head cell, it did not start from the warm start its seed's bare cell
records (`protocol.head_start`), so a killed run resumes at the first unfinished cell, at its last finished epoch
(its state is kept with the results until the cell is written)."""

from __future__ import annotations

import json
import math
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import timm
import torch

from codephys_plugin._atomic import write_atomically
from codephys_plugin._json import strict_json
from codephys_plugin._provenance import provenance
from codephys_plugin.adapters import adapter_for, load_checkpoint  # importing them registers the networks with timm
from codephys_plugin.benchmark import datasets
from codephys_plugin.benchmark.protocol import (BARE_ROWS, EPOCH_RULE, FROM_WARM_START, HEAD_ABLATIONS,
                                                HEAD_ROWS, OTHER_WARM_START, PRETRAINED, UNTRAINED, WARM_START_ROW,
                                                Protocol, architecture, epoch_rule, head_start, starts_from_bare)
from codephys_plugin.benchmark.untrained import untrained_metrics
from codephys_plugin.bundle import Bundle
from codephys_plugin.code_query_head import CodeQueryHead
from codephys_plugin.data.clip_sets import ClipSet
from codephys_plugin.training.fingerprint import tensors_digest
from codephys_plugin.training.head_weights import load_head_weights
from codephys_plugin.training.own_head import OwnHeadConfig, evaluate_own_head, train_own_head
from codephys_plugin.training.selection import best_epoch
from codephys_plugin.training.stage2 import Stage2TrainingConfig, train_stage2, validate


@dataclass(frozen=True)
class Cell:
    network: str | None
    """None for the classic methods, which need no network."""
    method: str
    seed: int | None
    """None for the rows that draw nothing: the classic methods, a published network as it is."""

    @property
    def name(self) -> str:
        if self.network is None:
            return self.method
        return f"{self.network}__{self.method}" + ("" if self.seed is None else f"__seed{self.seed}")


def cells(protocol: Protocol) -> list[Cell]:
    """Every cell of the protocol, each bare row before the rows that start from its warm start (a published
    network has no warm-start row: its bare row is where its head rows start)."""
    found = [Cell(None, method, None) for method in protocol.methods if method in UNTRAINED]
    trained = [method for method in protocol.methods if method not in (*UNTRAINED, "bare")]
    if "bare" in protocol.methods or any(method in FROM_WARM_START for method in trained):
        trained.insert(0, "bare")
    for network in protocol.networks:
        if network in PRETRAINED and "bare" in trained:
            found.append(Cell(network, "bare", None))
        for seed in protocol.seeds:
            found += [Cell(network, method, seed) for method in trained
                      if not (network in PRETRAINED and method in ("bare", WARM_START_ROW))]
    return found


def result_path(out: Path, cell: Cell) -> Path:
    return out / "cells" / f"{cell.name}.json"


def cells_to_run(protocol: Protocol, out: Path) -> list[Cell]:
    """The protocol's cells in order that `needs_run`, and the head cells of a bare cell among them: those start
    from its warm start, so `needs_run` is asked again for each when its turn comes."""
    every = cells(protocol)
    todo = [cell for cell in every if needs_run(out, cell)]
    retrained = {(cell.network, cell.seed) for cell in todo if cell.method == "bare"}
    return [cell for cell in every
            if cell in todo or (starts_from_bare(cell.network, cell.method) and (cell.network, cell.seed) in retrained)]


def needs_run(out: Path, cell: Cell) -> bool:
    """Whether the cell's result is missing, its epoch was kept by an earlier rule, or, a head cell, it did not
    start from the warm start its seed's bare cell records."""
    path = result_path(out, cell)
    if not path.is_file():
        return True
    record = json.loads(path.read_text())
    if (rule := epoch_rule(record)) is not None and rule != EPOCH_RULE:
        return True
    if not starts_from_bare(cell.network, cell.method):
        return False
    bare = result_path(out, Cell(cell.network, "bare", cell.seed))
    return head_start(record, json.loads(bare.read_text()) if bare.is_file() else None) == OTHER_WARM_START


def run_cell(cell: Cell, protocol: Protocol, work: Path, out: Path, bundle: Bundle | None, device: torch.device,
             weights: Path | None = None) -> dict:
    """Train (when the row needs it) and test the cell on every condition; write and return its record: the
    per-video metrics per condition, a head's code diagnostics per condition, its training summary, its
    codebook's digest, its seconds (wall clock, earlier sittings' epochs included) and what it ran on (device,
    versions, machine). `weights` is the folder of the published checkpoints (PRETRAINED), needed by those
    networks' cells."""
    started = time.perf_counter()
    if cell.network is None:
        metrics = untrained_metrics(cell.method, protocol, work)
        training, diagnostics = {}, {}
    else:
        torch.manual_seed(0 if cell.seed is None else cell.seed)
        evaluate, training = _train(cell, protocol, work, out, bundle, device, weights)
        tested = {condition: evaluate(datasets.clips(work, protocol, cell.network, "test", condition))
                  for condition in protocol.conditions()}
        metrics = {condition: summary for condition, (summary, _) in tested.items()}
        diagnostics = {condition: values for condition, (_, values) in tested.items() if values}
    seconds = time.perf_counter() - started + training.get("earlier_sittings_seconds", 0.0)
    record = {"cell": cell.__dict__, "metrics": metrics, "diagnostics": diagnostics, "training": training,
              "codebook": _codebook_digest(cell, bundle), "seconds": round(seconds, 1),
              "device": str(device), **provenance(device)}
    write_atomically(result_path(out, cell), lambda stream: stream.write(strict_json(record, indent=1).encode()))
    shutil.rmtree(unfinished_folder(out, cell), ignore_errors=True)
    return record


def _codebook_digest(cell: Cell, bundle: Bundle | None) -> str | None:
    """Which Stage I bundle a head row used (its weights' digest), so cells run apart can be checked to share
    one; None for the rows without a head. The row without Stage I takes only the bundle's shapes, and says so."""
    if cell.method not in HEAD_ROWS or bundle is None:
        return None
    digest = weights_digest(bundle.model)
    return digest if HEAD_ABLATIONS[cell.method].stage1 else f"{digest}, its shapes only (random Stage I weights)"


def build_network(name: str, protocol: Protocol, weights: Path | None = None) -> torch.nn.Module:
    """The cell's network: a fresh one, or a PRETRAINED one with its published weights (strictly loaded)."""
    size, frames, kind = protocol.size_of(name), protocol.chunk_length, architecture(name)
    arguments = {"physnet": {"frames": frames}, "deepphys": {"img_size": size},
                 "efficientphys": {"img_size": size, "frame_depth": 10 if frames % 20 == 0 else 4},
                 "physformer": {"num_frames": frames, "img_size": size}, "sspd": {}}[kind]
    network = timm.create_model(kind, **arguments)
    if name in PRETRAINED:
        if weights is None:
            raise ValueError(f"{name}: its published weights are read from the --weights folder, which was not given")
        load_checkpoint(network, weights / PRETRAINED[name])
    return network


def unfinished_folder(out: Path, cell: Cell) -> Path:
    """A cell still training: its state after its last finished epoch and its best weights so far, kept with
    the results rather than in the scratch --work, so that a cell longer than one sitting resumes on a wiped
    --work (not committed: it is data); removed once the cell's result is written."""
    return out / "unfinished" / cell.name


def weights_path(out: Path, cell: Cell) -> Path:
    """The kept epoch's weights of a cell still training."""
    return unfinished_folder(out, cell) / "best.safetensors"


def training_state_path(out: Path, cell: Cell, start: str) -> Path:
    """A cell's resumable state after its last finished epoch, named by the digest of the weights it started
    from, so a killed cell resumes at that epoch, and a head cell whose bare row was trained again starts afresh."""
    return unfinished_folder(out, cell) / f"state-from-{start}.pt"


def weights_digest(network: torch.nn.Module) -> str:
    """The digest of a network's weights: what a head cell started from, and a bare cell's warm start, recorded so
    that the table can check each head row started from its seed's bare row."""
    return tensors_digest(network.state_dict().values())


def warm_start_path(out: Path, cell: Cell) -> Path:
    """Where a bare cell keeps its warm start (see `OwnHeadConfig.warm_start`) for the head rows of its seed: with
    the results, not the scratch --work, so that they start from it on a wiped --work (not committed: data)."""
    return out / "weights" / f"{Cell(cell.network, 'bare', cell.seed).name}.safetensors"


def _train(cell: Cell, protocol: Protocol, work: Path, out: Path, bundle: Bundle | None, device: torch.device,
           weights: Path | None):
    network = build_network(cell.network, protocol, weights).to(device)
    published = cell.network in PRETRAINED
    if cell.method == "bare" and published:
        return _own_head_evaluation(adapter_for(network)), {}
    if cell.method == WARM_START_ROW:
        load_checkpoint(network, _warm_start(cell, protocol, work, out, device))
        return _own_head_evaluation(adapter_for(network)), {"started_from": weights_digest(network)}
    train = datasets.clips(work, protocol, cell.network, "train")
    val = datasets.clips(work, protocol, cell.network, "val")
    best = weights_path(out, cell)
    if cell.method in BARE_ROWS:
        adapter = adapter_for(network)
        state = training_state_path(out, cell, weights_digest(network))
        warm_start = unfinished_folder(out, cell) / "warm_start.safetensors" if cell.method == "bare" else None
        config = _bare_run_config(cell, protocol, best=best, warm_start=warm_start, checkpoint=state)
        sitting = _Sitting(cell)
        history = train_own_head(adapter, train, val, config, resume_from=state, on_epoch=sitting.epoch_done)
        record = _training_record(history, sitting.epochs)
        if warm_start is not None:
            load_checkpoint(adapter.model, warm_start)
            record["warm_start_weights"] = weights_digest(adapter.model)
            write_atomically(warm_start_path(out, cell), lambda stream: stream.write(warm_start.read_bytes()))
        load_checkpoint(adapter.model, best)
        return _own_head_evaluation(adapter), record
    if not published:
        load_checkpoint(network, _warm_start(cell, protocol, work, out, device))
    start = weights_digest(network)
    state = training_state_path(out, cell, start)
    head = CodeQueryHead(network, codebook=bundle, ablation=HEAD_ABLATIONS[cell.method],
                         code_temperature=protocol.code_temperature, freeze_backbone=published).to(device)
    config = Stage2TrainingConfig(epochs=protocol.head_epochs, lr=protocol.head_lr, backbone_lr=protocol.backbone_lr,
                                  frozen_backbone_epochs=0 if published else protocol.frozen_backbone_epochs,
                                  seed=cell.seed, best=best, checkpoint=state)
    sitting = _Sitting(cell)
    history = train_stage2(head, train, val, config, resume_from=state, on_epoch=sitting.epoch_done)
    load_head_weights(head, best)
    record = {**_training_record(history, sitting.epochs), "started_from": start}

    def evaluate(clips: ClipSet) -> tuple[dict, dict]:
        """The head's per-video metrics and its code diagnostics (code accuracy, ceilings) on `clips`."""
        validation = validate(head, clips, config, device)
        return validation.report.summary(), validation.diagnostics

    return evaluate, record


def bare_row_budget(cell: Cell, protocol: Protocol) -> tuple[int, float | None]:
    """(epochs, rate; None: the recipe's) of a trained bare row (see BARE_ROWS): a published network's
    bare_long is a fine-tuning, the head rows' epochs at their backbone rate; the others train from scratch."""
    if cell.network in PRETRAINED:
        return protocol.head_epochs, protocol.backbone_lr
    return protocol.bare_epochs + (protocol.head_epochs if cell.method == "bare_long" else 0), None


def _bare_run_config(cell: Cell, protocol: Protocol, **settings) -> OwnHeadConfig:
    """A bare row's run: its budget and seed, the one recipe its cell and a replay of its warm start both train."""
    epochs, lr = bare_row_budget(cell, protocol)
    return OwnHeadConfig(epochs=epochs, lr=lr, seed=cell.seed, **settings)


def _own_head_evaluation(adapter):
    """The bare network's per-video metrics on clips (it has no code diagnostics)."""
    return lambda clips: (evaluate_own_head(adapter, clips).summary(), {})


def _warm_start(cell: Cell, protocol: Protocol, work: Path, out: Path, device: torch.device) -> Path:
    """The warm start a head cell starts from, replayed from its bare cell's record when lost (a new machine)."""
    path = warm_start_path(out, cell)
    if not path.is_file():
        _replay_warm_start(Cell(cell.network, "bare", cell.seed), protocol, work, out, device)
    return path


def _replay_warm_start(bare: Cell, protocol: Protocol, work: Path, out: Path, device: torch.device) -> None:
    """Train the bare cell again up to the epoch its record names as its warm start, seeded as it was, and keep
    the weights only if their digest is the recorded one: a head row must start from the bare row in the table.
    The caller's random state is left as it was, so the head cell trains as it would have without the replay."""
    path = result_path(out, bare)
    training = (json.loads(path.read_text()).get("training") or {}) if path.is_file() else {}
    epoch, recorded = training.get("warm_start_epoch"), training.get("warm_start_weights")
    if epoch is None or recorded is None:
        raise FileNotFoundError(f"{bare.name}: the warm start its head rows start from, {warm_start_path(out, bare)}, "
                                f"is missing and {path} records none to replay: run the bare cell again (delete "
                                "its result file)")
    print(f"  {bare.name}: warm start missing, replaying its first {epoch} epochs", flush=True)
    scratch = out / "unfinished" / f"{bare.name}__replay"
    replayed = scratch / "warm_start.safetensors"
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(bare.seed)
        network = build_network(bare.network, protocol).to(device)
        train_own_head(adapter_for(network), datasets.clips(work, protocol, bare.network, "train"),
                       datasets.clips(work, protocol, bare.network, "val"),
                       _bare_run_config(bare, protocol, warm_start=replayed, stop_after=epoch))
    load_checkpoint(network, replayed)
    weights = replayed.read_bytes()
    shutil.rmtree(scratch)
    if (digest := weights_digest(network)) != recorded:
        raise RuntimeError(f"{bare.name}: its first {epoch} epochs replayed give a warm start with digest {digest}, "
                           f"not the {recorded} that {path} records (this machine does not train it bit for bit "
                           "the same): run the bare cell again (delete its result file)")
    write_atomically(warm_start_path(out, bare), lambda stream: stream.write(weights))


class _Sitting:
    """The epochs a cell trains in this sitting, each printed as it ends; the others were restored from the state
    an earlier sitting kept."""

    def __init__(self, cell: Cell) -> None:
        self.cell, self.epochs = cell, 0

    def epoch_done(self, summary) -> None:
        self.epochs += 1
        print(f"    {self.cell.name} epoch {summary.epoch}: loss {summary.loss:.4f}, val HR MAE "
              f"{summary.val.get('mae', math.nan):.2f}, {summary.seconds:.0f} s", flush=True)


def _training_record(history: list, epochs_this_sitting: int) -> dict:
    """The run's epochs, the rule and the epoch it kept (and a bare run's warm start), the validation curves, and
    the seconds of the epochs earlier sittings trained (their summaries are restored with the state), which the
    cell's own seconds add to its wall clock."""
    best = best_epoch(history)
    warm = [summary.epoch for summary in history if getattr(summary, "warm_start", False)]
    earlier = history[:len(history) - epochs_this_sitting]
    return {"epochs": len(history), "epoch_rule": EPOCH_RULE, "best_epoch": best.epoch if best else None,
            **({"warm_start_epoch": warm[-1]} if warm else {}),
            "val_mae": [summary.val.get("mae", math.nan) for summary in history],
            "val_loss": [summary.val_loss for summary in history],
            "diagnostics": getattr(best, "diagnostics", {}) if best else {},
            "earlier_sittings_seconds": round(sum(summary.seconds for summary in earlier), 1)}
