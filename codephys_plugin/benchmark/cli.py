"""codephys-benchmark: does CodeQueryHead keep the pulse when the video degrades? Every row on the same lab
videos, budgets and per-video evaluation; results under --out, resumable cell by cell.

    codephys-benchmark --work /tmp/bench --out benchmarks/cpu                    # the CPU protocol
    codephys-benchmark --work /tmp/bench --out benchmarks/full --preset full --device cuda --render-workers 12
    codephys-benchmark --out benchmarks/cpu --table                              # table and figure from the JSON
    codephys-benchmark --readme README.md                                        # the README's tables from the JSON
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path
from typing import Callable

import torch

from codephys_plugin import pretrain
from codephys_plugin._cli_types import positive_int
from codephys_plugin._json import strict_json
from codephys_plugin._provenance import provenance
from codephys_plugin.benchmark.cells import Cell, cells, cells_to_run, needs_run, run_cell
from codephys_plugin.benchmark.datasets import RAW
from codephys_plugin.benchmark.plots import network_figures
from codephys_plugin.benchmark.protocol import HEAD_ROWS, METHODS, NETWORKS, PRETRAINED, Protocol
from codephys_plugin.benchmark.readme import write_readme
from codephys_plugin.benchmark.rendering import folder_jobs, render_folders
from codephys_plugin.benchmark.table import markdown, summarise, write_results
from codephys_plugin.bundle import Bundle, load_bundle
from codephys_plugin.data.degradations import DEGRADATIONS
from codephys_plugin.video_lab.lab_dataset import DegradationRange
from codephys_plugin.training.batches import progress

MILD = tuple(DegradationRange(name, 0.0, 0.25) for name in DEGRADATIONS)
PRESETS = {
    "cpu": Protocol(physformer_size=32, paired_clean=False),
    "cpu-mild": Protocol(physformer_size=32, train_degraded_copies=MILD, paired_clean=False),
    "cpu-stacked": Protocol(physformer_size=32, train_degradations=MILD, paired_clean=False),
    "full": Protocol(frame_size=72, train_subjects=60, val_subjects=12, test_subjects=24, bare_epochs=30,
                     head_epochs=20),
}
"""cpu: 36-px frames (PhysFormer 32, with 4×1×1 patches; SSPD 128, fixed by its architecture), 24/6/12 subjects of
30 s, bare 10 epochs, head 5 more; cpu-mild (the second protocol, clean plus mild): the same, its 24 clean training
videos joined by 24 of the same subjects under one degradation each (3 subjects per degradation, severity drawn in
[0, 0.25] per video); cpu-stacked: every training video under all eight degradations at once, each at a severity in
[0, 0.25] (a first reading of 'mild' that leaves no clean video); full: the toolbox's 72 px (PhysFormer and SSPD
128) and 30 epochs, the paper's 20 Stage II epochs. The cpu presets keep the clean test set they ran with (another
draw of the test subjects than the degraded sets'); full pairs it with them (`Protocol.paired_clean`)."""
PROTOCOL_FILE = "protocol.json"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="codephys-benchmark", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--out", type=Path, help="results folder (cells/, results.json, table.md, one PNG per network)")
    target.add_argument("--readme", type=Path, help="only rewrite this Markdown file's benchmark tables (between "
                        "'<!-- benchmark FOLDER PART: ROWS -->' and '<!-- /benchmark -->') from the folders' JSON")
    parser.add_argument("--work", type=Path, help="folder for the videos, codebook and weights (required to run)")
    parser.add_argument("--preset", choices=sorted(PRESETS), default="cpu", help="sizes and budgets (default: cpu)")
    parser.add_argument("--networks", nargs="+", choices=NETWORKS, help="(default: physnet)")
    parser.add_argument("--methods", nargs="+", choices=METHODS,
                        help="rows (default: the classic three, bare, bare_warm_start, bare_long, head, head_noquant; the "
                             "Table V ablations head_no_apb, head_no_sfd, head_no_sam, head_no_stage1 on request)")
    parser.add_argument("--degradations", nargs="+", choices=sorted(DEGRADATIONS), help="(default: all)")
    parser.add_argument("--seeds", nargs="+", type=int, help="(default: 0 1 2)")
    parser.add_argument("--codebook", type=Path, help="a Stage I bundle; default: codephys-pretrain's, made once in "
                        "--out/codebook and kept there, so every head row of a results folder shares it")
    parser.add_argument("--weights", type=Path, help="folder of the published checkpoints the physnet_pure and "
                        "physnet_ubfc rows read (e.g. ../shared/weights: rppg_toolbox/PURE_PhysNet_DiffNormalized.pth …)")
    parser.add_argument("--device", default="cpu", help="torch device for training (default: cpu)")
    parser.add_argument("--render-workers", type=positive_int, default=1,
                        help="above 1: write the lab videos the cells still to run will read first, in this many processes "
                             "(default: 1, each folder written when a cell first reads it)")
    parser.add_argument("--render-only", action="store_true",
                        help="only write the videos the cells still to run will read (in --render-workers processes), "
                             "e.g. on a many-core machine before training elsewhere on the same --work")
    parser.add_argument("--table", action="store_true", help="only rewrite the table and figure from --out's JSON")
    parser.add_argument("--no-progress", action="store_true")
    return parser


def protocol_from(args: argparse.Namespace) -> Protocol:
    chosen = {"networks": args.networks, "methods": args.methods, "degradations": args.degradations,
              "seeds": args.seeds}
    return dataclasses.replace(PRESETS[args.preset], **{key: tuple(value) for key, value in chosen.items() if value})


def check_same_protocol(out: Path, protocol: Protocol) -> None:
    """A results folder holds one protocol: resuming with other data, sizes or budgets would mix incomparable
    cells. Networks, rows and seeds only select cells, so a folder may gain them."""
    saved_path = out / PROTOCOL_FILE
    record = json.loads(strict_json({"protocol": protocol.shared_record(), "conditions": protocol.conditions()}))
    if saved_path.is_file():
        saved = json.loads(saved_path.read_text())
        if saved != record:
            changed = sorted(key for key in set(saved["protocol"]) | set(record["protocol"])
                             if saved["protocol"].get(key) != record["protocol"].get(key))
            raise SystemExit(f"codephys-benchmark: {out} holds results of another protocol (differs in "
                             f"{', '.join(changed)}); use another --out, or the same options")
    out.mkdir(parents=True, exist_ok=True)
    saved_path.write_text(strict_json(record, indent=1))


def check_published_weights(protocol: Protocol, weights: Path | None) -> None:
    missing = [str(weights / PRETRAINED[name]) if weights else f"{name} (no --weights folder)"
               for name in protocol.networks if name in PRETRAINED and not (weights and (weights / PRETRAINED[name]).is_file())]
    if missing:
        raise SystemExit(f"codephys-benchmark: the published checkpoints are missing: {', '.join(missing)}")


def codebook_for(args: argparse.Namespace, protocol: Protocol) -> Bundle:
    if args.codebook is not None:
        return load_bundle(args.codebook)
    return default_codebook(args.out / "codebook", protocol.chunk_length)


def default_codebook(folder: Path, window: int) -> Bundle:
    """codephys-pretrain's default bundle (the embedded synthetic PPG) for `window`, made in `folder` once."""
    if not (folder / "config.json").is_file():
        pretrain.main(["--out", str(folder), "--window", str(window), "--no-progress"])
    return load_bundle(folder)


def results_from_cells(out: Path, recorded: dict) -> dict:
    """The results of `out`'s cells under the protocol saved beside them, with `recorded` versions and machine."""
    saved = json.loads((out / PROTOCOL_FILE).read_text())
    return summarise(out, saved["protocol"], saved["conditions"], recorded)


def write_outputs(out: Path) -> str:
    results = results_from_cells(out, provenance())
    write_results(out, results)
    network_figures(results, out)
    return markdown(results)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.readme is not None:
        return rewrite_readme(parser, args.readme)
    if args.table:
        if not (args.out / PROTOCOL_FILE).is_file():
            parser.error(f"--table: {args.out} holds no benchmark ({PROTOCOL_FILE} missing)")
        print(write_outputs(args.out))
        return 0
    if args.work is None:
        parser.error("--work is required to run (only --table works without it)")
    protocol = protocol_from(args)
    if args.render_only:
        render_videos(protocol, args.work, cells_to_run(protocol, args.out), args.render_workers)
        return 0
    print(run_benchmark(protocol, args.work, args.out, lambda: codebook_for(args, protocol), torch.device(args.device),
                        show=not args.no_progress, weights=args.weights, render_workers=args.render_workers))
    return 0


def rewrite_readme(parser: argparse.ArgumentParser, path: Path) -> int:
    if not path.is_file():
        parser.error(f"--readme: {path} is not a file")
    try:
        changed = write_readme(path)
    except ValueError as error:
        parser.error(f"--readme: {error}")
    print(f"{path}: {'tables rewritten from the JSON' if changed else 'tables already match the JSON'}")
    return 0


def run_benchmark(protocol: Protocol, work: Path, out: Path, codebook: Callable[[], Bundle], device: torch.device, *,
                  show: bool = False, weights: Path | None = None, render_workers: int = 1) -> str:
    """Run every cell not yet in `out` or stale (`needs_run`), then rewrite the table and figure; returns the
    table. The codebook is loaded (or pretrained) only after the protocol is checked, and only when a head row is
    still to run. With `render_workers` above 1 the videos those cells read are written first, in that many
    processes."""
    check_published_weights(protocol, weights)
    check_same_protocol(out, protocol)
    todo = cells_to_run(protocol, out)
    print(f"codephys-benchmark: {len(cells(protocol)) - len(todo)} cells done, {len(todo)} to run", flush=True)
    if render_workers > 1 and todo:
        render_videos(protocol, work, todo, render_workers)
    bundle = codebook() if any(cell.method in HEAD_ROWS for cell in todo) else None
    for cell in progress(todo, enabled=show, total=len(todo), description="cells", unit="cell"):
        if not needs_run(out, cell):
            print(f"  {cell.name}: kept (it started from its bare row's warm start as trained again)", flush=True)
            continue
        record = run_cell(cell, protocol, work, out, bundle, device, weights)
        print(f"  {cell.name}: clean HR MAE {record['metrics']['clean']['mae']:.2f}  {record['seconds']:.0f} s", flush=True)
    return write_outputs(out)


def render_videos(protocol: Protocol, work: Path, todo: list[Cell], workers: int) -> None:
    """Write the videos the cells will read, `workers` folders at a time, and say how long it took."""
    started = time.perf_counter()
    rendered = render_folders(folder_jobs(protocol, work, video_sources(todo)), workers)
    print(f"codephys-benchmark: {len(rendered)} video folders ready in {time.perf_counter() - started:.0f} s "
          f"({workers} processes)", flush=True)


def video_sources(todo: list[Cell]) -> list[str]:
    """The networks whose videos the cells read, and RAW when a row that trains nothing is among them."""
    return list(dict.fromkeys(RAW if cell.network is None else cell.network for cell in todo))


if __name__ == "__main__":
    sys.exit(main())
