"""Where a head row's gain is: the degraded conditions split by whether its bare row reads a pulse there.

A bare row whose MAE under a condition is not below the no-pulse floor's (`protocol.NO_PULSE`) reads no pulse
there, and a head row that is lower there may be less wrong without reading a pulse either (SSPD's flicker: its
codes at chance). The degraded mean mixes the two kinds of condition; this split shows the head against its bare
row on each kind apart. It is a diagnosis read from the committed cells, not the goal, which stays the degraded
mean fixed before the rows ran.
"""

from __future__ import annotations

import math

import numpy as np

from codephys_plugin.benchmark.protocol import NO_PULSE, parse_condition
from codephys_plugin.benchmark.table import aggregate, figure_or_dash, mae_ratio, paired_rows, row_name


def floor_splits(records: list[dict]) -> dict[str, dict]:
    """Per head row paired with its bare row (`table.paired_rows`): the degraded conditions where the bare row is
    below the floor ('pulse') and the others ('no_pulse'), each with the bare and head mean MAE there and their
    ratio; empty without a floor cell."""
    floors = [record for record in records if row_name(record["cell"]) == NO_PULSE]
    if not floors:
        return {}
    floor = aggregate(floors)[NO_PULSE]
    splits = {}
    for row, pair in paired_rows(records).items():
        degraded = [condition for condition in pair.head if parse_condition(condition) is not None]
        pulse = [condition for condition in degraded if pair.bare[condition]["mean"] < floor[condition]["mean"]]
        parts = {"pulse": pulse, "no_pulse": [condition for condition in degraded if condition not in pulse]}
        splits[row] = {name: _part(conditions, pair.bare, pair.head) for name, conditions in parts.items()}
    return splits


def _part(conditions: list[str], bare: dict, head: dict) -> dict:
    """The bare and head rows' mean MAE over `conditions` and head / bare (NaN where there is none)."""
    if not conditions:
        return {"conditions": [], "bare": math.nan, "head": math.nan, "ratio": math.nan}
    bare_mean = float(np.mean([bare[condition]["mean"] for condition in conditions]))
    head_mean = float(np.mean([head[condition]["mean"] for condition in conditions]))
    return {"conditions": conditions, "bare": bare_mean, "head": head_mean, "ratio": mae_ratio(head_mean, bare_mean)}


def floor_split_lines(splits: dict) -> list[str]:
    """The split as a Markdown table: per head row, each kind of condition's count, bare → head and ratio."""
    lines = ["| head row | bare below the floor: conditions | there, bare → head | head / bare "
             "| bare at or above the floor: conditions | there, bare → head | head / bare |",
             "|---|---|---:|---:|---|---:|---:|"]
    for row, split in splits.items():
        cells = [cell for name in ("pulse", "no_pulse") for cell in _part_cells(split[name])]
        lines.append(f"| {row} | " + " | ".join(cells) + " |")
    return lines


def _part_cells(part: dict) -> list[str]:
    if not part["conditions"]:
        return ["none", "–", "–"]
    shown = str(len(part["conditions"])) if len(part["conditions"]) > 4 else ", ".join(part["conditions"])
    return [shown, f"{part['bare']:.2f} → {part['head']:.2f}", figure_or_dash(part["ratio"])]
