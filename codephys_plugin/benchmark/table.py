"""The benchmark's figures from its JSON alone: per row and condition the mean ± spread (sample standard
deviation over seeds) of HR MAE, the Markdown table, and each head row's change against its bare row."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from codephys_plugin._json import strict_json
from codephys_plugin.benchmark.protocol import (CLEAN, EPOCH_RULE, HEAD_ROWS, SAME_WARM_START, WARM_START_ROW,
                                                epoch_rule, head_start, parse_condition, starts_from_bare)

RESULTS_FILE = "results.json"


def load_cells(out: Path) -> list[dict]:
    return [json.loads(path.read_text()) for path in sorted((out / "cells").glob("*.json"))]


def row_name(cell: dict) -> str:
    return cell["method"] if cell["network"] is None else f"{cell['network']} {cell['method']}"


def aggregate(records: list[dict], metric: str = "mae") -> dict[str, dict[str, dict[str, float]]]:
    """row -> condition -> {"mean", "spread", "seeds"} of `metric` over the row's seeds."""
    values: dict[str, dict[str, list[float]]] = {}
    for record in records:
        row = values.setdefault(row_name(record["cell"]), {})
        for condition, metrics in record["metrics"].items():
            row.setdefault(condition, []).append(metrics.get(metric, math.nan))
    return {row: {condition: _mean_spread(numbers) for condition, numbers in conditions.items()}
            for row, conditions in values.items()}


def _mean_spread(numbers: list[float]) -> dict[str, float]:
    array = np.asarray(numbers, dtype=float)
    return {"mean": float(array.mean()), "spread": float(array.std(ddof=1)) if array.size > 1 else 0.0,
            "seeds": int(array.size)}


def degraded_mean(row: dict[str, dict[str, float]], severity: float | None = None) -> float:
    """The mean MAE over every degraded condition (the goal's 'averaged over degradations'), or over the
    degradations at one `severity`."""
    values = [entry["mean"] for condition, entry in row.items()
              if (parsed := parse_condition(condition)) is not None and severity in (None, parsed[1])]
    return float(np.mean(values)) if values else math.nan


def head_ratios(records: list[dict]) -> dict[str, dict[str, float]]:
    """Per head row: its degraded-mean and clean MAE over its network's bare row's (< 1: the head is better),
    and its degraded mean over the matched-budget bare row's and over the warm start's where those were run
    (`paired_rows`)."""
    return {row: pair_ratios(pair) for row, pair in paired_rows(records).items()}


def pair_ratios(pair: PairedRow) -> dict[str, float]:
    """A head row's degraded and clean MAE over its bare row's, and its degraded MAE over bare_long's and over its
    warm start's if run."""
    ratios = {"degraded": mae_ratio(degraded_mean(pair.head), degraded_mean(pair.bare)),
              "clean": mae_ratio(pair.head[CLEAN]["mean"], pair.bare[CLEAN]["mean"])}
    if pair.bare_long is not None:
        ratios["degraded_vs_long"] = mae_ratio(degraded_mean(pair.head), degraded_mean(pair.bare_long))
    if pair.warm_start is not None:
        ratios["degraded_vs_warm_start"] = mae_ratio(degraded_mean(pair.head), degraded_mean(pair.warm_start))
    return ratios


@dataclass(frozen=True)
class PairedRow:
    """A head row and its network's bare rows (bare, bare_long, the warm start), each as condition -> {"mean",
    "spread", "seeds"} over the head row's seeds only (a seedless bare row, a published network, serves every seed)."""

    head: dict[str, dict[str, float]]
    bare: dict[str, dict[str, float]]
    bare_long: dict[str, dict[str, float]] | None
    warm_start: dict[str, dict[str, float]] | None


def paired_rows(records: list[dict]) -> dict[str, PairedRow]:
    """Every head row whose bare row has all its seeds, paired with it (and with bare_long and the warm start where
    those have them): a head row with a seed its bare row lacks is left out."""
    by_row: dict[str, dict[int | None, dict]] = {}
    for record in records:
        by_row.setdefault(row_name(record["cell"]), {})[record["cell"]["seed"]] = record
    pairs = {}
    for row, cells in by_row.items():
        network, _, method = row.partition(" ")
        bare = _over_seeds(by_row.get(f"{network} bare"), cells)
        if method in HEAD_ROWS and bare is not None:
            pairs[row] = PairedRow(_over_seeds(cells, cells), bare, _over_seeds(by_row.get(f"{network} bare_long"), cells),
                                   _over_seeds(by_row.get(f"{network} {WARM_START_ROW}"), cells))
    return pairs


def _over_seeds(reference: dict[int | None, dict] | None, seeds: dict) -> dict | None:
    """The reference row's conditions averaged over `seeds`; None when it lacks one of them."""
    if reference is None:
        return None
    chosen = list(reference.values()) if set(reference) == {None} else [reference.get(seed) for seed in seeds]
    if any(record is None for record in chosen):
        return None
    return next(iter(aggregate(chosen).values()))


def mae_ratio(value: float, reference: float) -> float:
    """value / reference; against an exact reference (0), equal is 1 and anything worse is inf."""
    if reference > 0:
        return value / reference
    return 1.0 if value == 0 else math.inf


DIAGNOSED = ("code_accuracy", "predicted_perplexity", "label_perplexity", "oracle_mae", "continuous_mae")
"""The head's code diagnostics summarised per row: does the query find the label's code, how many codes it
uses, what decoding the right codes (oracle) and the unquantised queries (continuous) would give."""


def diagnostics_summary(records: list[dict]) -> dict[str, dict[str, dict[str, float]]]:
    """row -> figure -> {"clean", "degraded"}: the clean value and the mean over degraded conditions, each
    averaged over the row's seeds (head rows only; their cells record diagnostics per condition)."""
    per_row: dict[str, dict[str, dict[str, list[float]]]] = {}
    for record in records:
        diagnostics = record.get("diagnostics") or {}
        if not diagnostics:
            continue
        row = per_row.setdefault(row_name(record["cell"]), {})
        for figure in DIAGNOSED:
            degraded = [values[figure] for condition, values in diagnostics.items()
                        if parse_condition(condition) is not None and figure in values]
            entry = row.setdefault(figure, {"clean": [], "degraded": []})
            if figure in diagnostics.get(CLEAN, {}):
                entry["clean"].append(diagnostics[CLEAN][figure])
            if degraded:
                entry["degraded"].append(float(np.mean(degraded)))
    return {row: {figure: {part: float(np.mean(values)) if values else math.nan for part, values in parts.items()}
                  for figure, parts in figures.items()} for row, figures in per_row.items()}


def markdown(results: dict) -> str:
    """The Markdown table of `results` (what `write_results` saved): rows × conditions, then the ratios."""
    table, conditions = results["table"], results["conditions"]
    lines = [*condition_lines(table, conditions), "", *severity_lines(table, conditions)]
    if results["ratios"]:
        lines += ["", *ratio_lines(results["ratios"])]
    if results.get("diagnostics"):
        lines += ["", *diagnostic_lines(results["diagnostics"])]
    if results.get("times"):
        lines += ["", "| row | cells | minutes a cell (mean) | hours in all |", "|---|---:|---:|---:|"]
        lines += [f"| {row} | {time['cells']}{_tested_only(time)} | {time['minutes_per_cell']:.1f} | {time['hours']:.2f} |"
                  for row, time in results["times"].items()]
        total = sum(time["hours"] for time in results["times"].values())
        lines.append(f"| all rows | {sum(time['cells'] for time in results['times'].values())} | | {total:.2f} |")
    if len(results.get("codebooks", {})) > 1:
        lines += ["", "Head cells by the codebook they used (digest: cells):"]
        lines += [f"- {digest}: {', '.join(names)}" for digest, names in results["codebooks"].items()]
    if set(results.get("epoch_rules", {})) - {EPOCH_RULE}:
        lines += ["", f"Trained cells by the rule that kept their epoch (the current one: {EPOCH_RULE}; the next run "
                  "of the benchmark runs the others again):"]
        lines += [f"- {rule}: {', '.join(names)}" for rule, names in results["epoch_rules"].items()]
    if results.get("machines"):
        lines += ["", "Cells of trained networks by what ran them:"]
        lines += [f"- {host}: {', '.join(names)}" for host, names in results["machines"].items()]
    if set(results.get("head_starts", {})) - {SAME_WARM_START}:
        lines += ["", "Head and warm-start cells by where they started (they start from their seed's bare warm start; the "
                  "next run of the benchmark runs again those that did not):"]
        lines += [f"- {start}: {', '.join(names)}" for start, names in results["head_starts"].items()]
    return "\n".join(lines)


def condition_lines(table: dict, conditions: list[str]) -> list[str]:
    """Rows × every condition, mean ± spread over seeds, and the degraded mean."""
    lines = ["| method | " + " | ".join(conditions) + " | degraded mean |", "|---|" + "---:|" * (len(conditions) + 1)]
    for row, entries in table.items():
        cells = [_figure(entries.get(condition)) for condition in conditions]
        lines.append(f"| {row} | " + " | ".join(cells) + f" | {degraded_mean(entries):.2f} |")
    return lines


def severity_lines(table: dict, conditions: list[str]) -> list[str]:
    """Rows × their seeds, clean, the degraded mean at each severity, and the degraded mean."""
    severities = sorted({parsed[1] for parsed in map(parse_condition, conditions) if parsed is not None})
    lines = ["| method | seeds | clean | " + " | ".join(f"mean at severity {value:g}" for value in severities)
             + " | degraded mean |", "|---|" + "---:|" * (len(severities) + 3)]
    for row, entries in table.items():
        at = [degraded_mean(entries, value) for value in severities]
        seeds = max(entry["seeds"] for entry in entries.values())
        lines.append(f"| {row} | {seeds} | {_figure(entries.get(CLEAN))} | " + " | ".join(f"{value:.2f}" for value in at)
                     + f" | {degraded_mean(entries):.2f} |")
    return lines


def ratio_lines(ratios: dict) -> list[str]:
    lines = ["| head row | degraded MAE / bare | clean MAE / bare | degraded MAE / bare_long | degraded MAE / warm start |",
             "|---|---:|---:|---:|---:|"]
    return lines + [f"| {row} | {ratio['degraded']:.2f} | {ratio['clean']:.2f} | "
                    f"{figure_or_dash(ratio.get('degraded_vs_long'))} | "
                    f"{figure_or_dash(ratio.get('degraded_vs_warm_start'))} |" for row, ratio in ratios.items()]


def diagnostic_lines(diagnostics: dict) -> list[str]:
    lines = ["| head row (clean / degraded mean) | code accuracy | predicted perplexity | label perplexity "
             "| oracle MAE | continuous-query MAE |", "|---|---:|---:|---:|---:|---:|"]
    for row, figures in diagnostics.items():
        lines.append(f"| {row} | " + " | ".join(f"{figures[name]['clean']:.3g} / {figures[name]['degraded']:.3g}"
                                                if name in figures else "–" for name in DIAGNOSED) + " |")
    return lines


def _tested_only(time: dict) -> str:
    """Cells tested from weights a killed run had kept (cells recorded before 2026-12-04): their training time is
    not in their seconds."""
    count = time.get("tested_only", 0)
    return f" ({count} tested from kept weights: training not counted)" if count else ""


def figure_or_dash(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def _figure(entry: dict | None) -> str:
    if entry is None:
        return "–"
    if entry["seeds"] > 1:
        return f"{entry['mean']:.2f} ± {entry['spread']:.2f}"
    return f"{entry['mean']:.2f}"


def summarise(out: Path, protocol_record: dict, conditions: list[str], provenance: dict) -> dict:
    records = load_cells(out)
    table = aggregate(records)
    return {"protocol": protocol_record, "conditions": conditions, "table": table, "ratios": head_ratios(records),
            "diagnostics": diagnostics_summary(records), "codebooks": codebooks(records),
            "epoch_rules": epoch_rules(records), "head_starts": head_starts(records), "times": cell_times(records),
            "machines": machines(records), **provenance}


def cell_times(records: list[dict]) -> dict[str, dict[str, float]]:
    """row -> its cells' count, mean minutes a cell and hours in all (training and testing, wall clock, as
    each cell recorded it): what running the table costs, row by row."""
    seconds: dict[str, list[float]] = {}
    untrained: dict[str, int] = {}
    for record in records:
        if "seconds" in record:
            row = row_name(record["cell"])
            seconds.setdefault(row, []).append(record["seconds"])
            untrained[row] = untrained.get(row, 0) + ("from_kept_weights" in (record.get("training") or {}))
    return {row: {"cells": len(values), "minutes_per_cell": float(np.mean(values)) / 60,
                  "hours": float(np.sum(values)) / 3600, "tested_only": untrained[row]}
            for row, values in sorted(seconds.items())}


def codebooks(records: list[dict]) -> dict[str, list[str]]:
    """The head cells by the digest of the codebook each used ("not recorded" for cells older than the
    digest), so a table mixing Stage I bundles says so."""
    used: dict[str, list[str]] = {}
    for record in records:
        if record["cell"]["method"] in HEAD_ROWS:
            used.setdefault(record.get("codebook") or "not recorded", []).append(_cell_name(record["cell"]))
    return {digest: sorted(names) for digest, names in sorted(used.items())}


def epoch_rules(records: list[dict]) -> dict[str, list[str]]:
    """The trained cells by the rule that kept their epoch, so a table with cells of an earlier rule (not yet run
    again since the rule changed) says which."""
    kept: dict[str, list[str]] = {}
    for record in records:
        if (rule := epoch_rule(record)) is not None:
            kept.setdefault(rule, []).append(_cell_name(record["cell"]))
    return {rule: sorted(names) for rule, names in sorted(kept.items())}


def head_starts(records: list[dict]) -> dict[str, list[str]]:
    """The head and warm-start cells of networks trained here by where they started (`protocol.head_start`), so a
    table whose bare row was trained again after them says which the next run runs again."""
    bare = {(record["cell"]["network"], record["cell"]["seed"]): record
            for record in records if record["cell"]["method"] == "bare"}
    starts: dict[str, list[str]] = {}
    for record in records:
        cell = record["cell"]
        if starts_from_bare(cell["network"], cell["method"]):
            start = head_start(record, bare.get((cell["network"], cell["seed"])))
            starts.setdefault(start, []).append(_cell_name(cell))
    return {start: sorted(names) for start, names in sorted(starts.items())}


def machines(records: list[dict]) -> dict[str, list[str]]:
    """The cells of trained networks (trained, or tested from a kept warm start) by what ran them (device,
    processor, torch), so a table whose cells ran on more than one host says which: their minutes differ, and a
    bare cell trained again elsewhere is not bit for bit the same."""
    ran: dict[str, list[str]] = {}
    for record in records:
        if record.get("training"):
            ran.setdefault(_host(record), []).append(_cell_name(record["cell"]))
    return {label: sorted(names) for label, names in sorted(ran.items())}


def _host(record: dict) -> str:
    """What ran a cell, as its record says ("not recorded" for cells older than the record)."""
    if not (host := record.get("machine")):
        return "not recorded"
    on_gpu = host.get("gpu") and record["device"].startswith("cuda")
    device = f"{record['device']} ({host['gpu']})" if on_gpu else record["device"]
    return (f"{device} on {host['processor'] or 'an unnamed processor'} ({host['cpus']} CPUs), "
            f"torch {record['versions']['torch']}")


def _cell_name(cell: dict) -> str:
    return f"{row_name(cell)} seed {cell['seed']}" if cell["seed"] is not None else row_name(cell)


def write_results(out: Path, results: dict) -> None:
    (out / RESULTS_FILE).write_text(strict_json(results, indent=1))
    (out / "table.md").write_text(markdown(results) + "\n")
