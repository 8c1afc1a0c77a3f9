"""The benchmark end to end at toy size: cells, JSON schema, resuming, and the table from the JSON alone."""

from __future__ import annotations

import dataclasses
import json
import math
import shutil
from pathlib import Path

import pytest
import torch

from codephys_plugin.benchmark import cells as cells_module
from codephys_plugin.benchmark.cli import main, run_benchmark
from codephys_plugin.benchmark.protocol import (EPOCH_RULE, OTHER_WARM_START, PRETRAINED, SAME_WARM_START,
                                                UNRECORDED_WARM_START, Protocol)
from codephys_plugin.bundle import load_bundle, save_bundle
from codephys_plugin.training.fingerprint import tensors_digest
from tests.test_train_cli import SIZE, STEPS, bundle  # noqa: F401  (the module's Stage I bundle fixture)

TOY = Protocol(networks=("physnet",), methods=("pos", "bare", "head"), degradations=("noise",), severities=(1.0,),
               seeds=(0,), train_subjects=2, val_subjects=1, test_subjects=2, seconds=8.0, chunk_length=STEPS,
               frame_size=SIZE, bare_epochs=1, head_epochs=1, frozen_backbone_epochs=0)


def metrics_record(method, seed, clean, noisy):
    """A PhysNet cell's record with only what the tables read: its clean and one degraded HR MAE."""
    return {"cell": {"network": "physnet", "method": method, "seed": seed},
            "metrics": {"clean": {"mae": clean}, "noise@1": {"mae": noisy}}}


def warm_start_network(out, protocol):
    """The toy PhysNet at the warm start its seed-0 bare cell kept in `out`."""
    network = cells_module.build_network("physnet", protocol)
    cells_module.load_checkpoint(network, cells_module.warm_start_path(out, cells_module.Cell("physnet", "bare", 0)))
    return network


def test_a_toy_benchmark_runs_resumes_without_redoing_cells_and_renders_its_table_from_json(bundle, tmp_path,  # noqa: F811
                                                                                          monkeypatch, capsys):
    out, work = tmp_path / "out", tmp_path / "work"
    table = run_benchmark(TOY, work, out, lambda: load_bundle(bundle), device=cells_module.torch.device("cpu"))
    names = sorted(path.stem for path in (out / "cells").glob("*.json"))
    assert names == ["physnet__bare__seed0", "physnet__head__seed0", "pos"]
    record = json.loads((out / "cells" / "physnet__head__seed0.json").read_text())
    assert set(record) == {"cell", "metrics", "diagnostics", "training", "codebook", "seconds", "device", "versions",
                           "machine"}
    assert record["device"] == "cpu" and record["versions"]["torch"] == torch.__version__
    assert record["codebook"] == tensors_digest(load_bundle(bundle).model.state_dict().values())
    assert json.loads((out / "cells" / "physnet__bare__seed0.json").read_text())["codebook"] is None
    assert set(record["diagnostics"]) == {"clean", "noise@1"} and "code_accuracy" in record["diagnostics"]["noise@1"]
    assert record["cell"] == {"network": "physnet", "method": "head", "seed": 0}
    assert set(record["metrics"]) == {"clean", "noise@1"}
    assert {"mae", "rmse", "pearson", "videos"} <= set(record["metrics"]["clean"])
    assert record["metrics"]["clean"]["videos"] + record["metrics"]["clean"]["failed"] == 2
    assert record["training"]["epochs"] == 1 and "code_accuracy" in record["training"]["diagnostics"]
    results = json.loads((out / "results.json").read_text())
    assert set(results) >= {"protocol", "conditions", "table", "ratios", "diagnostics", "versions", "machine"}
    assert set(results["diagnostics"]) == {"physnet head"} and "| head row (clean / degraded mean) |" in table
    accuracy = results["diagnostics"]["physnet head"]["code_accuracy"]
    assert accuracy == {"clean": record["diagnostics"]["clean"]["code_accuracy"],
                        "degraded": record["diagnostics"]["noise@1"]["code_accuracy"]}
    assert set(results["table"]) == {"pos", "physnet bare", "physnet head"}
    assert results["codebooks"] == {record["codebook"]: ["physnet head seed 0"]}
    warm_start = json.loads((out / "cells" / "physnet__bare__seed0.json").read_text())["training"]["warm_start_weights"]
    assert record["training"]["started_from"] == warm_start
    assert warm_start == cells_module.weights_digest(warm_start_network(out, TOY)), "the warm start the head rows read"
    assert results["head_starts"] == {SAME_WARM_START: ["physnet head seed 0"]} and "where they started" not in table
    assert set(results["ratios"]["physnet head"]) == {"degraded", "clean"}, "no bare_long row in the toy"
    assert (out / "mae_vs_severity_physnet.png").stat().st_size > 5_000
    assert "| physnet head |" in table and table == (out / "table.md").read_text().strip()
    kept = out / "weights" / "physnet__bare__seed0.safetensors"
    assert kept.is_file() and not any((out / "unfinished").iterdir()), "finished cells leave no training state"

    trained = []
    monkeypatch.setattr(cells_module._Sitting, "epoch_done", lambda sitting, summary: trained.append(sitting.cell.method))
    shutil.rmtree(work)
    (out / "cells" / "physnet__head__seed0.json").unlink()
    run_benchmark(TOY, work, out, lambda: load_bundle(bundle), device=cells_module.torch.device("cpu"))
    assert (out / "cells" / "physnet__head__seed0.json").is_file(), "the head starts from the results folder's bare weights"
    assert trained == ["head"], "bare not retrained"
    bare_path = out / "cells" / "physnet__bare__seed0.json"
    bare_record = json.loads(bare_path.read_text())
    assert bare_record["training"]["epoch_rule"] == EPOCH_RULE and bare_record["training"]["warm_start_epoch"] == 1
    assert len(bare_record["training"]["val_loss"]) == 1
    del bare_record["training"]["epoch_rule"]
    bare_path.write_text(json.dumps(bare_record))
    run_benchmark(TOY, work, out, lambda: load_bundle(bundle), device=cells_module.torch.device("cpu"))
    assert trained == ["head", "bare"], "a bare cell whose epoch the earlier rule kept is trained again, not its head"
    assert json.loads(bare_path.read_text())["training"]["epoch_rule"] == EPOCH_RULE
    rerun = json.loads(bare_path.read_text())
    kept_bytes = kept.read_bytes()
    kept.unlink()
    (out / "cells" / "physnet__head__seed0.json").unlink()
    run_benchmark(TOY, work, out, lambda: load_bundle(bundle), device=cells_module.torch.device("cpu"))
    assert trained == ["head", "bare", "head"], "a lost warm start is replayed, the bare cell not trained again"
    assert kept.read_bytes() == kept_bytes, "the replay rebuilds the warm start bit for bit"
    replayed_head = json.loads((out / "cells" / "physnet__head__seed0.json").read_text())
    assert replayed_head["training"]["started_from"] == rerun["training"]["warm_start_weights"]
    assert not any((out / "unfinished").iterdir()), "the replay leaves nothing behind"
    for tampered, error, message in ((dict(warm_start_weights="0" * 16), RuntimeError, "replayed give a warm start "
                                      f"with digest {rerun['training']['warm_start_weights']}, not the 0000"),
                                     (dict(warm_start_epoch=None), FileNotFoundError, "records none to replay")):
        kept.unlink(missing_ok=True)
        (out / "cells" / "physnet__head__seed0.json").unlink()
        bare_path.write_text(json.dumps({**rerun, "training": {**rerun["training"], **tampered}}))
        with pytest.raises(error, match=message):
            run_benchmark(TOY, work, out, lambda: load_bundle(bundle), device=cells_module.torch.device("cpu"))
        assert not kept.exists(), "a warm start that is not the recorded one is not kept"
        (out / "cells" / "physnet__head__seed0.json").write_text(json.dumps(record))
    bare_path.write_text(json.dumps(rerun))

    ran = []
    monkeypatch.setattr("codephys_plugin.benchmark.cli.run_cell", lambda cell, *args: ran.append(cell) or record)
    (out / "cells" / "physnet__head__seed0.json").unlink()
    run_benchmark(TOY, work, out, lambda: None, device=None)
    assert [cell.name for cell in ran] == ["physnet__head__seed0"], "only the missing cell runs again"
    (out / "cells" / "physnet__head__seed0.json").write_text(json.dumps(record))
    (out / "cells" / "pos.json").rename(out / "pos.json")
    run_benchmark(TOY, work, out, lambda: pytest.fail("no head row left: no codebook needed"), device=None)
    assert [cell.name for cell in ran] == ["physnet__head__seed0", "pos"]
    (out / "pos.json").rename(out / "cells" / "pos.json")

    monkeypatch.setattr("codephys_plugin.benchmark.cli.run_cell", lambda *args: pytest.fail("every cell is done"))
    written = run_benchmark(TOY, work, out, lambda: None, device=None)
    (out / "results.json").unlink()
    (out / "table.md").unlink()
    monkeypatch.setattr(cells_module, "run_cell", lambda *args: pytest.fail("--table trains nothing"))
    capsys.readouterr()
    assert main(["--out", str(out), "--table"]) == 0
    assert capsys.readouterr().out.strip() == written, "the table is the JSON's alone"
    assert json.loads((out / "results.json").read_text())["table"] == results["table"]


def test_cells_killed_after_an_epoch_resume_at_the_next_one_on_a_wiped_work_folder(bundle, tmp_path, monkeypatch):  # noqa: F811
    """Cells longer than a sitting: their state lives with the results, not in the scratch --work."""
    class Killed(Exception):
        pass

    protocol = dataclasses.replace(TOY, methods=("bare", "head"), bare_epochs=2, head_epochs=2)
    out, work = tmp_path / "out", tmp_path / "work"
    shown, epoch_done = [], cells_module._Sitting.epoch_done

    def killed_after_the_first_epoch(sitting, summary):
        epoch_done(sitting, summary)
        shown.append((sitting.cell.method, summary.epoch))
        if summary.epoch == 1:
            raise Killed

    monkeypatch.setattr(cells_module._Sitting, "epoch_done", killed_after_the_first_epoch)
    with pytest.raises(Killed):
        run_benchmark(protocol, work, out, lambda: load_bundle(bundle), device=torch.device("cpu"))
    assert list(out.glob("unfinished/physnet__bare__seed0/state-from-*.pt")), "the bare state after epoch 1 is kept"
    shutil.rmtree(work)
    with pytest.raises(Killed):
        run_benchmark(protocol, work, out, lambda: load_bundle(bundle), device=torch.device("cpu"))
    assert list(out.glob("unfinished/physnet__head__seed0/state-from-*.pt")), "the head state after epoch 1 is kept"
    assert not (out / "unfinished" / "physnet__bare__seed0").exists(), "a finished cell's state is removed"
    shutil.rmtree(work)
    monkeypatch.setattr(cells_module._Sitting, "epoch_done",
                        lambda sitting, summary: shown.append((sitting.cell.method, summary.epoch)))
    run_benchmark(protocol, work, out, lambda: load_bundle(bundle), device=torch.device("cpu"))
    assert shown == [("bare", 1), ("bare", 2), ("head", 1), ("head", 2)], "no epoch runs twice"
    for name in ("physnet__bare__seed0", "physnet__head__seed0"):
        record = json.loads((out / "cells" / f"{name}.json").read_text())
        assert record["training"]["epochs"] == 2 and len(record["training"]["val_mae"]) == 2
        earlier = record["training"]["earlier_sittings_seconds"]
        assert earlier > 0 and record["seconds"] > earlier, "the cell's seconds count the epoch of its first sitting"
    assert not any((out / "unfinished").iterdir())


def test_the_warm_start_row_tests_the_weights_the_head_rows_start_from_with_the_networks_own_head(tmp_path):
    """The control that tells the head's gain from the bare row's epoch choice: nothing trained, its bare cell's
    warm start read by the network's own head, and run again when that warm start changes."""
    from codephys_plugin._json import strict_json
    from codephys_plugin.benchmark import datasets
    from codephys_plugin.benchmark.cells import Cell, cells_to_run, result_path
    from codephys_plugin.benchmark.protocol import CLEAN, WARM_START_ROW
    from codephys_plugin.benchmark.table import epoch_rules
    from codephys_plugin.training.own_head import evaluate_own_head

    protocol = dataclasses.replace(TOY, methods=(WARM_START_ROW, "bare"), bare_epochs=2)
    out, work = tmp_path / "out", tmp_path / "work"
    run_benchmark(protocol, work, out, lambda: pytest.fail("no head row: no codebook"), device=torch.device("cpu"))
    bare = json.loads(result_path(out, Cell("physnet", "bare", 0)).read_text())
    warm = json.loads(result_path(out, Cell("physnet", WARM_START_ROW, 0)).read_text())
    assert warm["training"] == {"started_from": bare["training"]["warm_start_weights"]}
    adapter = cells_module.adapter_for(warm_start_network(out, protocol))
    for condition in (CLEAN, "noise@1"):
        expected = evaluate_own_head(adapter, datasets.clips(work, protocol, "physnet", "test", condition)).summary()
        assert warm["metrics"][condition] == json.loads(strict_json(expected)), condition
    assert epoch_rules([bare, warm]) == {EPOCH_RULE: ["physnet bare seed 0"]}, "the row keeps no epoch of its own"
    assert cells_to_run(protocol, out) == []
    bare["training"]["warm_start_weights"] = "0" * 16
    result_path(out, Cell("physnet", "bare", 0)).write_text(json.dumps(bare))
    assert cells_to_run(protocol, out) == [Cell("physnet", WARM_START_ROW, 0)], "another warm start: tested again"


def test_the_warm_start_row_follows_its_bare_row_and_a_published_network_has_none():
    from codephys_plugin.benchmark.cells import cells
    from codephys_plugin.benchmark.protocol import WARM_START_ROW

    protocol = dataclasses.replace(TOY, networks=("physnet", "physnet_pure"), methods=(WARM_START_ROW, "head"))
    assert [cell.name for cell in cells(protocol)] == [
        "physnet__bare__seed0", f"physnet__{WARM_START_ROW}__seed0", "physnet__head__seed0", "physnet_pure__bare",
        "physnet_pure__head__seed0"]


def test_each_head_row_is_also_compared_with_the_warm_start_it_trained_from():
    from codephys_plugin.benchmark.protocol import WARM_START_ROW
    from codephys_plugin.benchmark.readme import Results, _headline
    from codephys_plugin.benchmark.table import head_ratios, ratio_lines

    records = [metrics_record("bare", 0, 0.0, 20.0), metrics_record(WARM_START_ROW, 0, 0.0, 8.0),
               metrics_record("head", 0, 0.0, 10.0), metrics_record("head", 1, 0.0, 10.0),
               metrics_record("bare", 1, 0.0, 20.0)]
    ratios = head_ratios(records)
    assert ratios["physnet head"] == {"degraded": pytest.approx(0.5), "clean": 1.0}, "no warm start for seed 1"
    ratios = head_ratios(records[:3])
    assert ratios["physnet head"] == {"degraded": pytest.approx(0.5), "clean": 1.0,
                                      "degraded_vs_warm_start": pytest.approx(1.25)}
    assert "| physnet head | 0.50 | 1.00 | – | 1.25 |" in ratio_lines(ratios)
    assert "| physnet | 1 | 20.00 → 10.00 | 0.50 | 0.00 → 0.00 | – | 1.25 | met |" in _headline(
        Results(records[:3], ["clean", "noise@1"]), ())


def test_a_results_folder_refuses_another_protocol_but_may_gain_networks_rows_and_seeds(tmp_path):
    from codephys_plugin.benchmark.cli import check_same_protocol

    check_same_protocol(tmp_path, TOY)
    with pytest.raises(SystemExit, match="another protocol.*head_epochs"):
        check_same_protocol(tmp_path, Protocol(**{**TOY.__dict__, "head_epochs": 3}))
    with pytest.raises(SystemExit, match="another protocol.*degradations"):
        check_same_protocol(tmp_path, Protocol(**{**TOY.__dict__, "degradations": ("defocus",)}))
    check_same_protocol(tmp_path, Protocol(**{**TOY.__dict__, "seeds": (0, 1), "networks": ("physnet", "deepphys")}))


def test_the_table_gives_mean_and_spread_over_seeds_and_the_head_over_bare_ratios():
    from codephys_plugin.benchmark.table import aggregate, head_ratios, markdown

    records = [metrics_record("bare", 0, 1.0, 10.0), metrics_record("bare", 1, 3.0, 14.0),
               metrics_record("head", 0, 2.0, 6.0), metrics_record("head", 1, 2.0, 6.0)]
    table = aggregate(records)
    assert table["physnet bare"]["clean"] == {"mean": 2.0, "spread": pytest.approx(math.sqrt(2)), "seeds": 2}
    ratios = head_ratios(records)
    assert ratios["physnet head"] == {"degraded": pytest.approx(0.5), "clean": pytest.approx(1.0)}
    text = markdown({"table": table, "conditions": ["clean", "noise@1"], "ratios": ratios})
    assert "| physnet bare | 2.00 ± 1.41 | 12.00 ± 2.83 | 12.00 |" in text
    assert "| physnet head | 0.50 | 1.00 | – |" in text
    assert "| physnet bare | 2 | 2.00 ± 1.41 | 12.00 | 12.00 |" in text, "the per-severity summary, with its seeds"
    with_long = [*records, metrics_record("bare_long", 0, 1.0, 8.0), metrics_record("bare_long", 1, 1.0, 4.0)]
    assert head_ratios(with_long)["physnet head"]["degraded_vs_long"] == pytest.approx(1.0)
    one_seed = head_ratios([*with_long, metrics_record("head_noquant", 1, 3.0, 7.0),
                            metrics_record("head_no_sam", 2, 1.0, 1.0)])
    assert one_seed["physnet head_noquant"] == {"degraded": pytest.approx(0.5), "clean": pytest.approx(1.0),
                                                "degraded_vs_long": pytest.approx(7.0 / 4.0)}, "seed 1's bare rows only"
    assert "physnet head_no_sam" not in one_seed, "no bare row of seed 2"
    published = head_ratios([
        {**metrics_record("bare", None, 4.0, 20.0), "cell": {"network": "physnet_pure", "method": "bare", "seed": None}},
        {**metrics_record("head", 1, 2.0, 5.0), "cell": {"network": "physnet_pure", "method": "head", "seed": 1}}])
    assert published["physnet_pure head"] == {"degraded": pytest.approx(0.25), "clean": pytest.approx(0.5)}
    exact = [metrics_record("bare", 0, 0.0, 10.0), metrics_record("head", 0, 0.0, 5.0),
             metrics_record("head_noquant", 0, 0.5, 5.0)]
    assert head_ratios(exact)["physnet head"]["clean"] == 1.0, "exact and exact are equal"
    assert head_ratios(exact)["physnet head_noquant"]["clean"] == math.inf


def test_a_head_cell_records_its_codebook_and_the_row_without_stage1_says_it_used_only_its_shapes(bundle):  # noqa: F811
    loaded = load_bundle(bundle)
    digest = tensors_digest(loaded.model.state_dict().values())
    digest_of = cells_module._codebook_digest
    assert digest_of(cells_module.Cell("physnet", "head", 0), loaded) == digest
    assert digest_of(cells_module.Cell("physnet", "head_no_stage1", 0), loaded) == \
        f"{digest}, its shapes only (random Stage I weights)"
    assert digest_of(cells_module.Cell("physnet", "bare", 0), loaded) is None


def test_the_table_says_what_each_row_cost_to_run():
    from codephys_plugin.benchmark.table import cell_times, markdown

    def record(method, seed, seconds):
        return {"cell": {"network": "physnet", "method": method, "seed": seed}, "seconds": seconds}

    kept = {**record("bare", 1, 1200.0), "training": {"from_kept_weights": "weights/physnet__bare__seed1.safetensors"}}
    times = cell_times([record("bare", 0, 600.0), kept, record("head", 0, 3600.0),
                        {"cell": {"network": None, "method": "pos", "seed": None}}])
    assert times == {"physnet bare": {"cells": 2, "minutes_per_cell": 15.0, "hours": 0.5, "tested_only": 1},
                     "physnet head": {"cells": 1, "minutes_per_cell": 60.0, "hours": 1.0, "tested_only": 0}}, \
        "no time, no entry"
    text = markdown({"table": {}, "conditions": ["clean"], "ratios": {}, "times": times})
    assert "| physnet bare | 2 (1 tested from kept weights: training not counted) | 15.0 | 0.50 |" in text
    assert "| physnet head | 1 | 60.0 | 1.00 |" in text and "| all rows | 3 | | 1.50 |" in text


def test_a_table_mixing_codebooks_lists_the_head_cells_by_the_codebook_they_used():
    from codephys_plugin.benchmark.table import codebooks, markdown

    def record(method, seed, codebook):
        return {"cell": {"network": "physnet", "method": method, "seed": seed}, "codebook": codebook}

    used = codebooks([record("bare", 0, None), record("head", 0, "aa"), record("head_noquant", 0, "aa"),
                      record("head", 1, "bb"), {"cell": {"network": "physnet", "method": "head", "seed": 2}}])
    assert used == {"aa": ["physnet head seed 0", "physnet head_noquant seed 0"], "bb": ["physnet head seed 1"],
                    "not recorded": ["physnet head seed 2"]}
    text = markdown({"table": {}, "conditions": ["clean"], "ratios": {}, "codebooks": used})
    assert "- bb: physnet head seed 1" in text and "- not recorded: physnet head seed 2" in text
    assert "codebook" not in markdown({"table": {}, "conditions": ["clean"], "ratios": {}, "codebooks": {"aa": ["x"]}})


def test_a_table_lists_the_trained_cells_by_the_host_that_ran_them():
    from codephys_plugin.benchmark.table import machines, markdown

    def record(method, seed, processor, trained=True, device="cpu", gpu=None):
        return {"cell": {"network": "physnet" if trained else None, "method": method, "seed": seed}, "device": device,
                "training": {"epochs": 1} if trained else {}, "versions": {"torch": "2.14.1"},
                "machine": {"processor": processor, "cpus": 2, "gpu": gpu}}

    older = {"cell": {"network": "physnet", "method": "head", "seed": 1}, "training": {"epochs": 1}}
    ran = machines([record("bare", 0, "Intel Xeon"), record("head", 0, "AMD EPYC"), record("bare", 1, "AMD EPYC"),
                    record("pos", None, "Intel Xeon", trained=False), record("bare", 2, ""), older,
                    record("head", 2, "AMD EPYC", device="cuda:0", gpu="NVIDIA H200"),
                    record("head_noquant", 2, "AMD EPYC", device="cpu", gpu="NVIDIA H200")])
    assert ran == {"cpu on AMD EPYC (2 CPUs), torch 2.14.1": ["physnet bare seed 1", "physnet head seed 0",
                                                              "physnet head_noquant seed 2"],
                   "cuda:0 (NVIDIA H200) on AMD EPYC (2 CPUs), torch 2.14.1": ["physnet head seed 2"],
                   "cpu on Intel Xeon (2 CPUs), torch 2.14.1": ["physnet bare seed 0"],
                   "cpu on an unnamed processor (2 CPUs), torch 2.14.1": ["physnet bare seed 2"],
                   "not recorded": ["physnet head seed 1"]}, "untrained rows left out; a GPU named only for a cuda cell"
    text = markdown({"table": {}, "conditions": ["clean"], "ratios": {}, "machines": ran})
    assert "- cpu on Intel Xeon (2 CPUs), torch 2.14.1: physnet bare seed 0" in text
    one = {"cuda on AMD EPYC (16 CPUs), torch 2.14.1": ["x"]}
    assert "- cuda on AMD EPYC (16 CPUs), torch 2.14.1: x" in \
        markdown({"table": {}, "conditions": ["clean"], "ratios": {}, "machines": one}), "one host is named too"
    assert "what ran them" not in markdown({"table": {}, "conditions": ["clean"], "ratios": {}, "machines": {}})


def test_unknown_rows_are_refused_naming_the_known_ones():
    with pytest.raises(ValueError, match="unknown resnet.*networks deepphys"):
        Protocol(networks=("resnet",))


def test_the_demo_runs_its_protocol_prints_the_table_and_reuses_its_codebook(bundle, tmp_path, monkeypatch,  # noqa: F811
                                                                              capsys):
    from codephys_plugin.benchmark import cli as cli_module
    from codephys_plugin.benchmark import demo

    made = []
    monkeypatch.setattr(demo, "DEMO", TOY)

    def pretrain(argv):
        made.append(argv)
        loaded = load_bundle(bundle)
        save_bundle(argv[argv.index("--out") + 1], loaded.model, loaded.config)

    monkeypatch.setattr(cli_module.pretrain, "main", pretrain)
    assert demo.main(["--out", str(tmp_path), "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "| physnet head |" in printed and "degraded MAE / bare" in printed
    assert (tmp_path / "mae_vs_severity_physnet.png").is_file() and (tmp_path / "table.md").is_file()
    assert len(made) == 1 and made[0][made[0].index("--window") + 1] == str(TOY.chunk_length)
    assert demo.main(["--out", str(tmp_path), "--no-progress"]) == 0
    assert len(made) == 1, "a second demo reuses the codebook and every finished cell"
    assert "3 cells done, 0 to run" in capsys.readouterr().out
    import tasks

    assert tasks.JOBS["demo"] == ["-m", demo.__name__], "python3 tasks.py demo runs this module"


def test_tasks_asks_for_huge_pages_unless_the_caller_chose():
    import tasks

    assert tasks.job_environment({"PATH": "/bin"}) == {"PATH": "/bin", "THP_MEM_ALLOC_ENABLE": "1"}
    assert tasks.job_environment({"THP_MEM_ALLOC_ENABLE": "0"}) == {"THP_MEM_ALLOC_ENABLE": "0"}


SHARED_WEIGHTS = Path(__file__).resolve().parents[1].parent / "shared" / "weights"


@pytest.mark.skipif(not (SHARED_WEIGHTS / PRETRAINED["physnet_pure"]).is_file(), reason="needs ../shared/weights")
def test_a_published_network_is_tested_as_it_is_and_its_head_trains_on_a_frozen_backbone(bundle, tmp_path,  # noqa: F811
                                                                                          monkeypatch):
    from codephys_plugin.adapters import load_checkpoint
    from codephys_plugin.benchmark.cells import build_network
    from safetensors.torch import load_file

    toy = dataclasses.replace(TOY, networks=("physnet_pure",), methods=("bare", "bare_long", "head"), seeds=(0,),
                              head_epochs=1)
    out, work = tmp_path / "out", tmp_path / "work"
    best_weights, fine_tuned = [], []
    load_head_weights, train_own_head = cells_module.load_head_weights, cells_module.train_own_head
    monkeypatch.setattr(cells_module, "load_head_weights",
                        lambda head, path: best_weights.append(load_file(path)) or load_head_weights(head, path))

    def record_fine_tuning(adapter, train, val, config, **options):
        fine_tuned.append((config, {key: value.clone() for key, value in adapter.model.state_dict().items()}))
        return train_own_head(adapter, train, val, config, **options)

    monkeypatch.setattr(cells_module, "train_own_head", record_fine_tuning)
    run_benchmark(toy, work, out, lambda: load_bundle(bundle), cells_module.torch.device("cpu"), weights=SHARED_WEIGHTS)
    assert sorted(path.stem for path in (out / "cells").glob("*.json")) == [
        "physnet_pure__bare", "physnet_pure__bare_long__seed0", "physnet_pure__head__seed0"]
    bare = json.loads((out / "cells" / "physnet_pure__bare.json").read_text())
    assert bare["cell"]["seed"] is None and bare["training"] == {}, "published weights are tested, not trained"
    assert (work / "data" / "physnet_72px" / "test_clean").is_dir(), "the size the toolbox trained it at"
    published = build_network("physnet_pure", toy, SHARED_WEIGHTS).state_dict()
    ((config, start),) = fine_tuned
    assert (config.epochs, config.lr, config.seed) == (toy.head_epochs, toy.backbone_lr, 0)
    assert all(torch.equal(start[key], published[key]) for key in published), "bare_long fine-tunes the published weights"
    long = json.loads((out / "cells" / "physnet_pure__bare_long__seed0.json").read_text())
    assert long["training"]["epochs"] == toy.head_epochs and not (out / "weights").exists()
    assert "degraded_vs_long" in json.loads((out / "results.json").read_text())["ratios"]["physnet_pure head"]
    (trained,) = best_weights
    backbone = {key.removeprefix("adapter.model."): value for key, value in trained.items() if key.startswith("adapter.model.")}
    assert backbone.keys() == published.keys()
    assert all(torch.equal(backbone[key], published[key]) for key in published), "the backbone stays frozen"
    load_checkpoint(build_network("physnet", toy), backbone)


def test_a_published_network_has_one_bare_cell_and_a_fine_tuned_bare_long_cell_per_seed():
    from codephys_plugin.benchmark.cells import cells

    protocol = dataclasses.replace(TOY, networks=("physnet_pure",), methods=("bare_long", "head"), seeds=(0, 1))
    assert [cell.name for cell in cells(protocol)] == [
        "physnet_pure__bare", "physnet_pure__bare_long__seed0", "physnet_pure__head__seed0",
        "physnet_pure__bare_long__seed1", "physnet_pure__head__seed1"]


def test_published_networks_need_their_weights_folder(tmp_path):
    with pytest.raises(SystemExit, match="published checkpoints are missing: physnet_ubfc"):
        run_benchmark(dataclasses.replace(TOY, networks=("physnet_ubfc",)), tmp_path, tmp_path / "out", lambda: None,
                      cells_module.torch.device("cpu"))


def test_the_stacked_protocol_degrades_every_training_video_by_all_and_each_test_set_by_its_own_condition():
    from codephys_plugin.benchmark.cli import PRESETS
    from codephys_plugin.benchmark.datasets import dataset_config, degraded_copies

    stacked = PRESETS["cpu-stacked"]
    train = dataset_config(stacked, "physnet", "train").degradations
    assert len(train) == 8 and all(spec.low == 0 and spec.high == 0.25 for spec in train)
    assert degraded_copies(stacked, "physnet") == {}
    assert dataset_config(stacked, "physnet", "val").degradations == ()
    assert [(spec.name, spec.low, spec.high) for spec in dataset_config(stacked, "physnet", "test", "noise@1").degradations] \
        == [("noise", 1.0, 1.0)]
    assert dataset_config(PRESETS["cpu"], "physnet", "train").degradations == ()


def test_the_mild_protocol_adds_to_the_clean_training_videos_the_same_subjects_under_one_degradation_each():
    from codephys_plugin.benchmark.cli import PRESETS
    from codephys_plugin.benchmark.datasets import dataset_config, degraded_copies

    mild = PRESETS["cpu-mild"]
    assert dataset_config(mild, "physnet", "train") == dataset_config(PRESETS["cpu"], "physnet", "train"), \
        "the clean training videos are the cpu protocol's own"
    copies = degraded_copies(mild, "physnet")
    assert len(copies) == 8 and sum(config.subjects for config in copies.values()) == mild.train_subjects
    subjects = [subject for config in copies.values()
                for subject in range(config.first_subject, config.first_subject + config.subjects)]
    assert subjects == list(range(mild.train_subjects)), "each training subject once more, in one copy"
    assert {name: [(spec.name, spec.low, spec.high) for spec in config.degradations] for name, config in copies.items()} \
        == {f"train_mild_{name}": [(name, 0.0, 0.25)] for name in mild.degradations}
    assert dataset_config(mild, "physnet", "val").degradations == ()
    with pytest.raises(ValueError, match="two protocols; choose one"):
        Protocol(train_degradations=PRESETS["cpu-stacked"].train_degradations, train_degraded_copies=mild.train_degraded_copies)
    with pytest.raises(ValueError, match="8 degraded copies need at least as many training subjects, got 4"):
        dataclasses.replace(mild, train_subjects=4)


def test_the_mild_training_split_joins_the_clean_videos_and_their_degraded_copies(tmp_path):
    from codephys_plugin.benchmark import datasets
    from codephys_plugin.video_lab.lab_dataset import DegradationRange

    toy = dataclasses.replace(TOY, train_subjects=3, seconds=4.0, chunk_length=60,
                              train_degraded_copies=(DegradationRange("noise", 0.5, 0.5),
                                                     DegradationRange("defocus", 0.5, 0.5)))
    train = datasets.clips(tmp_path, toy, "physnet", "train")
    assert sorted(set(train.videos)) == ["s000v00", "s001v00", "s002v00", "train_mild_defocus/s002v00",
                                         "train_mild_noise/s000v00", "train_mild_noise/s001v00"]
    clean = datasets.clips(tmp_path, toy, "physnet", "val")
    assert set(clean.videos) == {"s1000v00"} and len(train) == 6 * len(clean)
    manifest = json.loads((datasets.folder(tmp_path, "physnet", toy.frame_size, "train_mild_noise") / "manifest.json")
                          .read_text())
    assert [(video["video"], video["degradations"]) for video in manifest["videos"]] == \
        [(f"s00{k}v00", [{"name": "noise", "severity": 0.5}]) for k in (0, 1)]


def test_a_paired_clean_set_holds_the_degraded_sets_videos_undegraded(tmp_path):
    from codephys_plugin.benchmark import datasets

    toy = dataclasses.replace(TOY, degradations=("noise", "defocus"), test_subjects=1, seconds=4.0, chunk_length=60)
    paired = {condition: datasets.clips(tmp_path / "paired", toy, "physnet", "test", condition)
              for condition in ("clean", "noise@1", "defocus@1")}
    labels = {condition: clips.dataset[0][1] for condition, clips in paired.items()}
    assert torch.equal(labels["clean"], labels["noise@1"]) and torch.equal(labels["clean"], labels["defocus@1"])
    assert not torch.equal(paired["clean"].dataset[0][0], paired["noise@1"].dataset[0][0]), "noise still applied"
    unpaired = datasets.clips(tmp_path / "unpaired", dataclasses.replace(toy, paired_clean=False), "physnet", "test",
                              "clean")
    assert not torch.equal(unpaired.dataset[0][1], labels["noise@1"]), "the cpu presets' clean set: another draw"
    assert datasets.dataset_config(dataclasses.replace(toy, degradations=()), "physnet", "test", "clean").degradations \
        == (), "with no degraded set, clean is the plain draw"


@pytest.mark.parametrize("network", ["deepphys", "efficientphys", "physformer", "physnet", "sspd"])
def test_every_network_is_built_for_the_cpu_protocol_and_reads_its_clip_size(network):
    from codephys_plugin.adapters import adapter_for
    from codephys_plugin.benchmark.cells import build_network
    from codephys_plugin.benchmark.cli import PRESETS

    protocol = PRESETS["cpu"]
    adapter = adapter_for(build_network(network, protocol))
    size = protocol.size_of(network)
    assert size == {"physformer": 32, "sspd": 128}.get(network, protocol.frame_size)
    frames = torch.rand(1, protocol.chunk_length + 1, 3, size, size) * 255
    with torch.no_grad():
        assert adapter.rppg(adapter.prepare(frames)).shape == (1, protocol.chunk_length)


def test_a_table_with_cells_of_an_earlier_epoch_rule_lists_the_cells_by_their_rule():
    """Bare cells recorded before the rule was (2026-12-04) kept the first epoch of the lowest MAE; head cells
    then already broke ties by validation loss; untrained rows have no rule."""
    from codephys_plugin.benchmark.protocol import EARLIER_BARE_RULE
    from codephys_plugin.benchmark.table import epoch_rules, markdown

    def record(method, seed, training):
        return {"cell": {"network": "physnet", "method": method, "seed": seed}, "training": training}

    records = [record("bare", 0, {"epochs": 10}), record("bare", 1, {"epochs": 10, "epoch_rule": EPOCH_RULE}),
               record("head", 0, {"epochs": 5}), record("bare", None, {}),
               {"cell": {"network": None, "method": "pos", "seed": None}, "training": {}}]
    rules = epoch_rules(records)
    assert rules == {EARLIER_BARE_RULE: ["physnet bare seed 0"],
                     EPOCH_RULE: ["physnet bare seed 1", "physnet head seed 0"]}
    text = markdown({"table": {}, "conditions": ["clean"], "ratios": {}, "epoch_rules": rules})
    assert f"- {EARLIER_BARE_RULE}: physnet bare seed 0" in text
    assert "by the rule" not in markdown({"table": {}, "conditions": ["clean"], "ratios": {},
                                          "epoch_rules": epoch_rules(records[1:])})
    assert "by the rule" in markdown({"table": {}, "conditions": ["clean"], "ratios": {},
                                      "epoch_rules": epoch_rules(records[:1])})


def test_a_table_whose_head_cells_started_elsewhere_than_their_bare_cells_warm_start_lists_them():
    """A bare row trained again after its head rows is another run (not bit for bit the same on another torch or
    host); a bare cell older than the record cannot tell; published networks' heads start from the checkpoint."""
    from codephys_plugin.benchmark.table import head_starts, markdown

    def record(network, method, seed, **training):
        return {"cell": {"network": network, "method": method, "seed": seed}, "training": training}

    records = [record("physnet", "bare", 0, warm_start_weights="aa"), record("physnet", "bare", 1, warm_start_weights="bb"),
               record("physnet", "bare", 2), record("physnet", "head", 0, started_from="aa"),
               record("physnet", "head_noquant", 0, started_from="aa"), record("physnet", "head", 1, started_from="cc"),
               record("physnet", "head_noquant", 1), record("physnet", "head", 2, started_from="dd"),
               record("physnet", "head", 3), record("physnet_pure", "head", 0, started_from="ee"),
               record("physnet_pure", "bare", None)]
    starts = head_starts(records)
    assert starts == {SAME_WARM_START: ["physnet head seed 0", "physnet head_noquant seed 0"],
                      OTHER_WARM_START: ["physnet head seed 1", "physnet head_noquant seed 1"],
                      UNRECORDED_WARM_START: ["physnet head seed 2", "physnet head seed 3"]}
    text = markdown({"table": {}, "conditions": ["clean"], "ratios": {}, "head_starts": starts})
    assert f"- {OTHER_WARM_START}: physnet head seed 1, physnet head_noquant seed 1" in text
    assert "where they started" not in markdown({"table": {}, "conditions": ["clean"], "ratios": {},
                                                 "head_starts": head_starts(records[:2] + records[3:5])})


def test_head_cells_that_did_not_start_from_their_bare_cells_warm_start_run_again(tmp_path, monkeypatch, capsys):
    """The head rows of a bare row trained again run again unless the new warm start is the one they started from
    (a rerun on the same host and torch is bit for bit the same); a bare cell older than the record cannot tell."""
    from codephys_plugin.benchmark.cells import Cell, cells_to_run, result_path

    protocol = dataclasses.replace(TOY, methods=("bare", "head", "head_noquant"), seeds=(0, 1))
    out = tmp_path / "out"
    (out / "cells").mkdir(parents=True)

    def write(method, seed, **training):
        cell = Cell("physnet", method, seed)
        result_path(out, cell).write_text(json.dumps({"cell": cell.__dict__, "training": training}))

    write("bare", 0, epoch_rule=EPOCH_RULE, warm_start_weights="aa")
    write("head", 0, started_from="aa")
    write("head_noquant", 0, started_from="a0")
    write("bare", 1, epoch_rule=EPOCH_RULE)
    write("head", 1, started_from="bb")
    write("head_noquant", 1)
    assert [cell.name for cell in cells_to_run(protocol, out)] == ["physnet__head_noquant__seed0"]
    write("bare", 1, warm_start_weights="b0")
    assert [cell.name for cell in cells_to_run(protocol, out)] == [
        "physnet__head_noquant__seed0", "physnet__bare__seed1", "physnet__head__seed1", "physnet__head_noquant__seed1"]

    ran = []

    def run_cell(cell, *args):
        ran.append(cell.name)
        if cell.method == "bare":
            write("bare", 1, epoch_rule=EPOCH_RULE, warm_start_weights="bb")
        return {"metrics": {"clean": {"mae": 0.0}}, "seconds": 0.0}

    monkeypatch.setattr("codephys_plugin.benchmark.cli.run_cell", run_cell)
    monkeypatch.setattr("codephys_plugin.benchmark.cli.write_outputs", lambda out: "")
    run_benchmark(protocol, tmp_path / "work", out, lambda: None, device=None)
    assert ran == ["physnet__head_noquant__seed0", "physnet__bare__seed1", "physnet__head_noquant__seed1"]
    assert "physnet__head__seed1: kept" in capsys.readouterr().out
