"""The benchmark results committed under `benchmarks/` (and the demo's run under `results/`) are what their cell
JSON gives: a cell committed without regenerating the table, or a hand-edited figure, fails here."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from codephys_plugin._json import strict_json
from codephys_plugin.benchmark.cli import PROTOCOL_FILE, results_from_cells
from codephys_plugin.benchmark.readme import regenerate
from codephys_plugin.benchmark.table import RESULTS_FILE, markdown

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"
FOLDERS = sorted(path.parent for root in (BENCHMARKS, BENCHMARKS.parent / "results")
                 for path in root.glob(f"*/{PROTOCOL_FILE}"))


def test_the_repository_commits_benchmark_results():
    assert FOLDERS, f"no {PROTOCOL_FILE} under {BENCHMARKS}"


@pytest.mark.parametrize("folder", FOLDERS, ids=[folder.name for folder in FOLDERS])
def test_a_committed_table_and_its_results_are_regenerated_from_its_cells(folder: Path):
    committed = json.loads((folder / RESULTS_FILE).read_text())
    regenerated = results_from_cells(folder, {key: committed[key] for key in ("versions", "machine")})
    assert json.loads(strict_json(regenerated)) == committed, f"{folder / RESULTS_FILE} differs from its cells"
    assert (folder / "table.md").read_text() == markdown(regenerated) + "\n", f"{folder / 'table.md'} is stale"


def test_the_readmes_benchmark_tables_are_regenerated_from_the_committed_json():
    readme = BENCHMARKS.parent / "README.md"
    text = readme.read_text()
    assert "<!-- benchmark " in text, "the README shows its benchmark tables from the JSON"
    assert regenerate(text, readme.parent, str(readme)) == text, \
        f"{readme}'s benchmark tables are stale: codephys-benchmark --readme README.md"
