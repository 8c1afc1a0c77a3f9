"""The README's benchmark tables are rewritten from a results folder's JSON between their markers, and bad markers
are refused naming the file and line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from codephys_plugin.benchmark.cli import main
from codephys_plugin.benchmark.readme import regenerate, verdict
from codephys_plugin.benchmark.table import summarise, write_results


def _record(network, method, seed, clean, noisy, blurred):
    return {"cell": {"network": network, "method": method, "seed": seed},
            "metrics": {"clean": {"mae": clean}, "noise@1": {"mae": noisy}, "blur@1": {"mae": blurred}}}


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A results folder: PhysNet bare and head over two seeds (head 0.5 × bare degraded), DeepPhys's head worse."""
    out = tmp_path / "benchmarks" / "toy"
    (out / "cells").mkdir(parents=True)
    records = [_record("physnet", "bare", 0, 0.0, 10.0, 20.0), _record("physnet", "bare", 1, 0.0, 14.0, 16.0),
               _record("physnet", "head", 0, 0.0, 5.0, 10.0), _record("physnet", "head", 1, 0.0, 7.0, 8.0),
               _record("deepphys", "bare", 0, 0.0, 8.0, 8.0), _record("deepphys", "head", 0, 4.0, 8.0, 8.0),
               _record(None, "pos", None, 1.0, 12.0, 6.0)]
    for record in records:
        cell = record["cell"]
        (out / "cells" / f"{cell['network']}__{cell['method']}__seed{cell['seed']}.json").write_text(json.dumps(record))
    write_results(out, summarise(out, {}, ["clean", "noise@1", "blur@1"], {}))
    return out


def _readme(*specs: str) -> str:
    return "".join(f"Text before.\n<!-- benchmark benchmarks/toy {spec} -->\nstale\n<!-- /benchmark -->\nText after.\n"
                   for spec in specs)


def test_each_block_is_rewritten_from_the_json_and_the_text_around_it_is_kept(folder):
    text = regenerate(_readme("headline", "summary: physnet head, pos", "seeds: physnet bare"), folder.parents[1])
    assert "stale" not in text and text.count("Text before.\n") == 3 and text.count("<!-- /benchmark -->\nText after.") == 3
    assert "| physnet | 2 | 15.00 → 7.50 | 0.50 | 0.00 → 0.00 | – | – | met |" in text
    assert "| deepphys | 1 | 8.00 → 8.00 | 1.00 | 0.00 → 4.00 | – | – | not met: degraded 1.00 × bare, clean worse |" in text
    summary = text.split("summary: physnet head, pos -->\n")[1].split("<!--")[0].splitlines()
    assert [line.split(" |")[0] for line in summary[2:]] == ["| physnet head", "| pos"], "the markers' order"
    assert summary[2] == "| physnet head | 2 | 0.00 ± 0.00 | 7.50 | 7.50 |"
    assert "| physnet bare | 0, 1 | 0.00, 0.00 | 15.00, 15.00 |" in text
    assert regenerate(text, folder.parents[1]) == text, "a second pass changes nothing"


def test_a_network_selects_all_its_rows_in_the_tables_order(folder):
    text = regenerate(_readme("ratios: physnet", "conditions: deepphys"), folder.parents[1])
    assert "| physnet head | 0.50 | 1.00 | – |" in text
    assert "| deepphys bare | 0.00 | 8.00 | 8.00 | 8.00 |" in text and "| deepphys head | 4.00 | 8.00 | 8.00 | 8.00 |" in text


@pytest.mark.parametrize(("spec", "message"), [
    ("summary: resnet", r"README:2: no row 'resnet' here; rows: .*physnet bare"),
    ("plot", r"README:2: .*unknown part 'plot'; known: headline"),
    ("", r"README:2: .*expected 'FOLDER PART"),
])
def test_a_bad_marker_is_refused_naming_the_line(folder, spec, message):
    with pytest.raises(ValueError, match=message):
        regenerate(_readme(spec), folder.parents[1])


def test_a_block_without_its_end_or_folder_is_refused(folder):
    with pytest.raises(ValueError, match="notes.md:1: a benchmark block without its '<!-- /benchmark -->'"):
        regenerate("<!-- benchmark benchmarks/toy summary -->\nno end\n", folder.parents[1], "notes.md")
    with pytest.raises(ValueError, match=r"README:2: .*benchmarks/elsewhere/results.json: no benchmark results"):
        regenerate(_readme("summary").replace("benchmarks/toy", "benchmarks/elsewhere"), folder.parents[1])


def test_the_goal_needs_a_fifth_less_degraded_error_and_no_worse_clean():
    assert verdict(0.8, 0.0, 0.0) == "met"
    assert verdict(0.801, 0.004, 0.0) == "not met: degraded 0.80 × bare", "equal at the tables' 0.01 bpm"
    assert verdict(0.5, 0.07, 0.0) == "not met: clean worse"


def test_the_cli_rewrites_a_readme_in_place(folder, capsys):
    readme = folder.parents[1] / "README.md"
    readme.write_text(_readme("headline"))
    assert main(["--readme", str(readme)]) == 0
    assert "| physnet | 2 |" in readme.read_text() and "tables rewritten" in capsys.readouterr().out
    assert main(["--readme", str(readme)]) == 0 and "already match" in capsys.readouterr().out
    readme.write_text(_readme("summary: resnet"))
    with pytest.raises(SystemExit):
        main(["--readme", str(readme)])
    assert f"{readme}:2: no row 'resnet'" in capsys.readouterr().err and "resnet" in readme.read_text(), "left as it was"
    with pytest.raises(SystemExit):
        main(["--readme", str(readme), "--out", str(folder)])
