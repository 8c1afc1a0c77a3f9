"""The README's benchmark tables from the committed cells (the conditions' order from results.json), so that a
figure a user cites cannot drift from its cells.

A block is written between two markers and rewritten by `codephys-benchmark --readme README.md`:

    <!-- benchmark benchmarks/cpu summary: physnet, pos -->
    (the table, generated)
    <!-- /benchmark -->

The marker names a results folder (relative to the README), a part (`PARTS`) and optionally which rows, each a
row name (`physnet head`) or a network (`physnet`: all its rows), in the order they are shown.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from codephys_plugin.benchmark.floor_split import floor_split_lines, floor_splits
from codephys_plugin.benchmark.protocol import CLEAN
from codephys_plugin.benchmark.table import (RESULTS_FILE, aggregate, condition_lines, degraded_mean,
                                             diagnostic_lines, diagnostics_summary, figure_or_dash, head_ratios,
                                             load_cells, pair_ratios, paired_rows, ratio_lines, row_name,
                                             severity_lines)

GOAL_DEGRADED = 0.8
"""The issue's goal: the head lowers the degraded mean HR MAE by at least 20 % without a worse clean MAE."""
START = re.compile(r"<!-- benchmark (?P<spec>.*?) -->\n")
END = "<!-- /benchmark -->"


@dataclass(frozen=True)
class Block:
    """One generated table of a README: where its results are, which part, which rows."""

    folder: Path
    part: str
    selectors: tuple[str, ...]


def parse_block(spec: str, base: Path) -> Block:
    """'FOLDER PART[: SELECTOR, ...]' -> Block, the folder relative to `base` (the README's folder)."""
    head, _, rows = spec.partition(":")
    words = head.split()
    if len(words) != 2:
        raise ValueError(f"'{spec}': expected 'FOLDER PART[: ROW, ...]'")
    folder, part = words
    if part not in PARTS:
        raise ValueError(f"'{spec}': unknown part {part!r}; known: {', '.join(PARTS)}")
    return Block(base / folder, part, tuple(name.strip() for name in rows.split(",") if name.strip()))


def select(rows: list[str], selectors: tuple[str, ...]) -> list[str]:
    """`rows` chosen and ordered by `selectors` (all of them when there is none); each selector must match."""
    if not selectors:
        return list(rows)
    chosen: list[str] = []
    for selector in selectors:
        matched = [row for row in rows if selector in (row, row.partition(" ")[0]) and row not in chosen]
        if not matched:
            raise ValueError(f"no row {selector!r} here; rows: {', '.join(rows)}")
        chosen += matched
    return chosen


@dataclass(frozen=True)
class Results:
    """A results folder read once: its cells, and its conditions in the table's order."""

    records: list[dict]
    conditions: list[str]


def read_results(folder: Path) -> Results:
    if not (folder / RESULTS_FILE).is_file():
        raise FileNotFoundError(f"{folder / RESULTS_FILE}: no benchmark results there")
    return Results(load_cells(folder), json.loads((folder / RESULTS_FILE).read_text())["conditions"])


def render(block: Block, results: Results) -> list[str]:
    """The block's table lines from its folder's results."""
    return PARTS[block.part](results, block.selectors)


def regenerate(text: str, base: Path, source: str = "README") -> str:
    """`text` with every block's table rewritten from the JSON; an error names `source` and the block's line."""
    pieces, position, folders = [], 0, {}
    for start in START.finditer(text):
        if start.start() < position:
            continue
        line = text.count("\n", 0, start.start()) + 1
        end = text.find(END, start.end())
        if end < 0:
            raise ValueError(f"{source}:{line}: a benchmark block without its '{END}'")
        try:
            block = parse_block(start["spec"], base)
            if block.folder not in folders:
                folders[block.folder] = read_results(block.folder)
            lines = render(block, folders[block.folder])
        except (ValueError, FileNotFoundError) as error:
            raise ValueError(f"{source}:{line}: {error}") from error
        pieces += [text[position:start.end()], "\n".join(lines) + "\n"]
        position = end
    return "".join(pieces) + text[position:]


def write_readme(path: Path) -> bool:
    """Rewrite `path`'s blocks in place (atomically); True when a figure changed."""
    text = path.read_text()
    updated = regenerate(text, path.parent, str(path))
    if updated == text:
        return False
    scratch = path.with_name(f".{path.name}.tmp")
    scratch.write_text(updated)
    scratch.replace(path)
    return True


def _chosen(mapping: dict, selectors: tuple[str, ...]) -> dict:
    return {row: mapping[row] for row in select(list(mapping), selectors)}


def _summary(results: Results, selectors: tuple[str, ...]) -> list[str]:
    return severity_lines(_chosen(aggregate(results.records), selectors), results.conditions)


def _conditions(results: Results, selectors: tuple[str, ...]) -> list[str]:
    return condition_lines(_chosen(aggregate(results.records), selectors), results.conditions)


def _ratios(results: Results, selectors: tuple[str, ...]) -> list[str]:
    return ratio_lines(_chosen(head_ratios(results.records), selectors))


def _diagnostics(results: Results, selectors: tuple[str, ...]) -> list[str]:
    return diagnostic_lines(_chosen(diagnostics_summary(results.records), selectors))


def _floor(results: Results, selectors: tuple[str, ...]) -> list[str]:
    return floor_split_lines(_chosen(floor_splits(results.records), selectors))


def _seeds(results: Results, selectors: tuple[str, ...]) -> list[str]:
    """Each row's clean and degraded-mean MAE seed by seed: the spread behind a mean."""
    by_row: dict[str, list[dict]] = {}
    for record in sorted(results.records, key=_seed_order):
        by_row.setdefault(row_name(record["cell"]), []).append(record)
    lines = ["| row | seeds | clean, per seed | degraded mean, per seed |", "|---|---|---|---|"]
    for row in select(sorted(by_row), selectors):
        seeds = ", ".join("–" if (seed := record["cell"]["seed"]) is None else str(seed) for record in by_row[row])
        clean = ", ".join(f"{record['metrics'][CLEAN]['mae']:.2f}" for record in by_row[row])
        degraded = ", ".join(f"{_cell_degraded(record):.2f}" for record in by_row[row])
        lines.append(f"| {row} | {seeds} | {clean} | {degraded} |")
    return lines


def _seed_order(record: dict) -> int:
    return -1 if record["cell"]["seed"] is None else record["cell"]["seed"]


def _cell_degraded(record: dict) -> float:
    return degraded_mean({condition: {"mean": metrics["mae"]} for condition, metrics in record["metrics"].items()})


def _headline(results: Results, selectors: tuple[str, ...]) -> list[str]:
    """Per network, its head row against its bare row over the head row's seeds, and the goal's verdict."""
    pairs = paired_rows(results.records)
    heads = {row.partition(" ")[0]: row for row in pairs if row.endswith(" head")}
    lines = ["| network | seeds | degraded, bare → head | head / bare | clean, bare → head | head / bare_long "
             "| head / warm start | goal |", "|---|---:|---:|---:|---:|---:|---:|---|"]
    for network in select(list(heads), selectors):
        pair = pairs[heads[network]]
        ratio = pair_ratios(pair)
        clean_bare, clean_head = pair.bare[CLEAN]["mean"], pair.head[CLEAN]["mean"]
        lines.append(f"| {network} | {pair.head[CLEAN]['seeds']} | {degraded_mean(pair.bare):.2f} → "
                     f"{degraded_mean(pair.head):.2f} | {ratio['degraded']:.2f} | {clean_bare:.2f} → {clean_head:.2f} "
                     f"| {figure_or_dash(ratio.get('degraded_vs_long'))} "
                     f"| {figure_or_dash(ratio.get('degraded_vs_warm_start'))} "
                     f"| {verdict(ratio['degraded'], clean_head, clean_bare)} |")
    return lines


def verdict(degraded_ratio: float, clean_head: float, clean_bare: float) -> str:
    """The goal: degraded mean ≤ 0.8 × bare's, and a clean MAE no worse (at the 0.01 bpm the tables show)."""
    misses = [f"degraded {degraded_ratio:.2f} × bare"] if not degraded_ratio <= GOAL_DEGRADED else []
    if round(clean_head, 2) > round(clean_bare, 2):
        misses.append("clean worse")
    return "met" if not misses else "not met: " + ", ".join(misses)


PARTS: dict[str, Callable[[Results, tuple[str, ...]], list[str]]] = {
    "headline": _headline, "summary": _summary, "conditions": _conditions, "ratios": _ratios,
    "diagnostics": _diagnostics, "seeds": _seeds, "floor": _floor}
"""headline: per network, head against bare and the goal; summary: clean, mean per severity, degraded mean;
conditions: every condition; ratios: each head row over its bare rows; diagnostics: the head's code figures;
seeds: each row's clean and degraded mean seed by seed; floor: each head row against its bare row where the bare row
reads a pulse and where it does not (`floor_split`)."""
