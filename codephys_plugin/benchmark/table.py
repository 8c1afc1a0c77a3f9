"""The benchmark's figures from its JSON alone: per row and condition the mean ± spread (sample standard
deviation over seeds) of HR MAE, the Markdown table, and each head row's change against its bare row."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from codephys_plugin._json import strict_json
from codephys_plugin.benchmark.protocol import CLEAN, HEAD_ROWS, parse_condition

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


def degraded_mean(row: dict[str, dict[str, float]]) -> float:
    """The mean MAE over every degraded condition (the goal's 'averaged over degradations')."""
    degraded = [entry["mean"] for condition, entry in row.items() if parse_condition(condition) is not None]
    return float(np.mean(degraded)) if degraded else math.nan


def head_ratios(table: dict) -> dict[str, dict[str, float]]:
    """Per head row: its degraded-mean and clean MAE over its network's bare row's (< 1: the head is better),
    and its degraded mean over the matched-budget bare row's where that was run."""
    ratios = {}
    for row, conditions in table.items():
        network, _, method = row.partition(" ")
        bare, long = table.get(f"{network} bare"), table.get(f"{network} bare_long")
        if method in HEAD_ROWS and bare is not None:
            ratios[row] = {"degraded": _ratio(degraded_mean(conditions), degraded_mean(bare)),
                           "clean": _ratio(conditions[CLEAN]["mean"], bare[CLEAN]["mean"])}
            if long is not None:
                ratios[row]["degraded_vs_long"] = _ratio(degraded_mean(conditions), degraded_mean(long))
    return ratios


def _ratio(value: float, reference: float) -> float:
    """value / reference; against an exact reference (0), equal is 1 and anything worse is inf."""
    if reference > 0:
        return value / reference
    return 1.0 if value == 0 else math.inf


def markdown(results: dict) -> str:
    """The Markdown table of `results` (what `write_results` saved): rows × conditions, then the ratios."""
    table, conditions = results["table"], results["conditions"]
    lines = ["| method | " + " | ".join(conditions) + " | degraded mean |",
             "|---|" + "---:|" * (len(conditions) + 1)]
    for row, entries in table.items():
        cells = [_figure(entries.get(condition)) for condition in conditions]
        lines.append(f"| {row} | " + " | ".join(cells) + f" | {degraded_mean(entries):.2f} |")
    if results["ratios"]:
        lines += ["", "| head row | degraded MAE / bare | clean MAE / bare | degraded MAE / bare_long |",
                  "|---|---:|---:|---:|"]
        lines += [f"| {row} | {ratio['degraded']:.2f} | {ratio['clean']:.2f} | "
                  f"{_figure_or_dash(ratio.get('degraded_vs_long'))} |" for row, ratio in results["ratios"].items()]
    return "\n".join(lines)


def _figure_or_dash(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def _figure(entry: dict | None) -> str:
    if entry is None:
        return "–"
    if entry["seeds"] > 1:
        return f"{entry['mean']:.2f} ± {entry['spread']:.2f}"
    return f"{entry['mean']:.2f}"


def summarise(out: Path, protocol_record: dict, conditions: list[str], provenance: dict) -> dict:
    table = aggregate(load_cells(out))
    return {"protocol": protocol_record, "conditions": conditions, "table": table, "ratios": head_ratios(table),
            **provenance}


def write_results(out: Path, results: dict) -> None:
    (out / RESULTS_FILE).write_text(strict_json(results, indent=1))
    (out / "table.md").write_text(markdown(results) + "\n")
