"""The floor split: a head row against its bare row apart where the bare row reads a pulse (below the no-pulse
floor) and where it does not, and its README block."""

from __future__ import annotations

import json
import math

from codephys_plugin.benchmark.floor_split import floor_splits
from codephys_plugin.benchmark.readme import regenerate
from codephys_plugin.benchmark.table import summarise, write_results
from tests.test_readme_tables import _readme, _record


def _records(*, with_floor: bool = True) -> list[dict]:
    """Bare below the floor (40) under noise (10 → head 5), above it under blur (50 → head 30)."""
    records = [_record("physnet", "bare", 0, 0.0, 10.0, 50.0), _record("physnet", "head", 0, 0.0, 5.0, 30.0)]
    return records + ([_record(None, "no_pulse", None, 35.0, 40.0, 40.0)] if with_floor else [])


def test_the_degraded_conditions_are_split_by_whether_the_bare_row_is_below_the_floor():
    split = floor_splits(_records())["physnet head"]
    assert split["pulse"] == {"conditions": ["noise@1"], "bare": 10.0, "head": 5.0, "ratio": 0.5}
    assert split["no_pulse"] == {"conditions": ["blur@1"], "bare": 50.0, "head": 30.0, "ratio": 0.6}


def test_a_bare_row_at_the_floor_reads_no_pulse_and_an_empty_part_is_undefined():
    records = _records()
    records[0]["metrics"]["noise@1"]["mae"] = 40.0
    split = floor_splits(records)["physnet head"]
    assert split["no_pulse"]["conditions"] == ["noise@1", "blur@1"] and split["pulse"]["conditions"] == []
    assert math.isnan(split["pulse"]["ratio"])


def test_without_a_floor_cell_there_is_no_split():
    assert floor_splits(_records(with_floor=False)) == {}


def test_the_readme_block_shows_each_part(tmp_path):
    out = tmp_path / "benchmarks" / "toy"
    (out / "cells").mkdir(parents=True)
    for index, record in enumerate(_records()):
        (out / "cells" / f"{index}.json").write_text(json.dumps(record))
    write_results(out, summarise(out, {}, ["clean", "noise@1", "blur@1"], {}))
    text = regenerate(_readme("floor: physnet head"), tmp_path)
    assert "| physnet head | noise@1 | 10.00 → 5.00 | 0.50 | blur@1 | 50.00 → 30.00 | 0.60 |" in text
