"""The examples run end to end."""

import json

import pytest

from examples.adapters_tour import main


def test_adapters_tour_prints_every_networks_features(capsys):
    main(["--frames", "20"])
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == ["deepphys", "efficientphys", "physformer", "physnet", "sspd"]
    assert "spatial 1 × 256 × 20 × 8 × 8" in lines[-1]


def test_head_overhead_benchmark_measures_both_models(capsys):
    from examples.benchmark_head_overhead import main as benchmark

    (row,) = benchmark(["--networks", "physnet", "--frames", "32", "--repeats", "1", "--devices", "cpu"])
    assert row.backbone_ms > 0 and row.head_ms > 0
    assert row.head_macs > row.backbone_macs > 0
    assert 0 < row.head_params - row.backbone_params < 2_000_000
    assert row.head_dispatch.ops > row.backbone_dispatch.ops > 0
    printed = capsys.readouterr().out
    assert "physnet" in printed and "extra" in printed


def test_dispatch_counter_counts_operators_and_the_scalar_reads_that_sync_a_gpu():
    import torch

    from examples.benchmark_head_overhead import Dispatch, dispatched

    x = torch.ones(3)
    assert dispatched(lambda: (x + 1) * 2) == Dispatch(ops=2, syncs=0)
    for mode in (torch.no_grad, torch.inference_mode):
        with mode():
            assert dispatched(lambda: bool((x > 0).all())) == Dispatch(ops=3, syncs=1)
            assert dispatched(lambda: float(x.sum())) == Dispatch(ops=2, syncs=1)
            assert dispatched(lambda: x.nonzero()).syncs == 1


def test_head_operators_split_among_its_parts_add_up_to_the_whole_call(capsys):
    import torch

    from examples.benchmark_head_overhead import (dispatched, dispatched_by_part, head_and_inputs, main,
                                                  random_bundle)

    head, inputs = head_and_inputs("physnet", random_bundle(32), 32, torch.device("cpu"), grid=4)
    with torch.inference_mode():
        whole, parts = dispatched(lambda: head(inputs)), dispatched_by_part(head, inputs)
    assert sum(part.ops for part in parts.values()) == whole.ops
    assert sum(part.syncs for part in parts.values()) == whole.syncs
    assert {"adapter", "video_encoder", "codebook", "decoder", "head itself"} <= parts.keys()
    assert parts["codebook"].syncs >= 1
    main(["--networks", "physnet", "--frames", "32", "--repeats", "1", "--devices", "cpu", "--by-part"])
    printed = capsys.readouterr().out
    assert "physnet: " in printed and "video_encoder" in printed


def test_deformable_convolutions_are_counted_as_convolutions():
    import torch

    from codephys_plugin.encoder.deformable import DeformableConv3d
    from examples.benchmark_head_overhead import macs

    layer = DeformableConv3d(4, 5)
    positions = 6 * 3 * 3
    expected = positions * (5 * 4 * 27 + 4 * 27 + 54 * 4)  # the convolution, the motion filter, the offsets
    assert macs(lambda: layer(torch.randn(1, 4, 6, 3, 3))) == expected


def test_video_lab_tour_writes_its_table_figure_and_provenance(tmp_path, capsys):
    import json

    from codephys_plugin.data.degradations import DEGRADATIONS
    from examples.video_lab_tour import main as tour

    assert tour(["--videos", "1", "--seconds", "6", "--out", str(tmp_path)]) == 0
    record = json.loads((tmp_path / "video_lab.json").read_text())
    assert set(record["hr_mae_bpm"]) == set(DEGRADATIONS)
    assert set(record["hr_mae_bpm"]["noise"]["1.0"]) == {"green", "chrom", "pos"}
    assert record["versions"]["torch"] and record["clips_per_second"]["72px moving"] > 0
    assert (tmp_path / "video_lab.png").stat().st_size > 10_000
    assert "HR MAE (bpm) of the classic methods" in capsys.readouterr().out


def test_the_learning_runs_summary_takes_each_runs_best_measured_epoch_and_renders_its_table(tmp_path):
    import json

    from examples.stage2_learning_run import markdown_table, summarise

    def epoch(number, mae, accuracy=None):
        return {"epoch": number, "val": {"mae": mae, "pearson": 0.5},
                **({"diagnostics": {"code_accuracy": accuracy, "predicted_perplexity": 3.0, "label_perplexity": 50.0,
                                    "continuous_mae": 9.0}} if accuracy is not None else {})}

    (tmp_path / "bare.json").write_text(json.dumps({"command": ["x"], "seconds": 10, "history": [
        epoch(1, 30.0), epoch(2, 1.5), epoch(3, 2.0)]}))
    (tmp_path / "head_scratch.json").write_text(json.dumps({"command": ["y"], "seconds": 20, "history": [
        epoch(1, float("nan"), 0.01), epoch(2, 12.0, 0.2)]}))
    summary = summarise(tmp_path)
    assert summary["runs"]["bare"]["best_epoch"] == 2 and summary["runs"]["head_scratch"]["best_epoch"] == 2
    assert "versions" in summary and "machine" in summary
    table = markdown_table(summary).splitlines()
    assert table[2].startswith("| bare | 2 | 1.50 | 0.500 | – |")
    assert table[3].startswith("| head_scratch | 2 | 12.00 | 0.500 | 0.200 | 3.0 / 50.0 | 9.00 | 20 |")


def test_every_head_run_of_the_learning_run_is_a_valid_codephys_train_command(tmp_path):
    from codephys_plugin.train import build_parser
    from examples.stage2_learning_run import HEAD_RUNS, head_command

    for name in HEAD_RUNS:
        args = build_parser().parse_args(head_command(tmp_path, name, epochs=2, seed=1))
        assert args.one_cycle == (name == "head_scratch_paper_cycle") and args.warmup_steps == (0 if args.one_cycle else 30)
        assert (args.checkpoint is not None) == name.endswith("warm") and args.seed == 1
        assert args.checkpoint is None or args.checkpoint.name == "warm_start.safetensors", "where the benchmark starts"
    assert build_parser().parse_args(head_command(tmp_path, "head_scratch_paper_cycle", 2, 0)).lr == 9e-3


def test_predict_synthetic_faces_reads_an_mp4_with_the_published_physnet(tmp_path):
    from examples.predict_synthetic_faces import WEIGHTS, main as predict_faces

    if not WEIGHTS.is_file():
        pytest.skip("needs ../shared/weights (the toolbox's PURE PhysNet)")
    assert predict_faces(["--clips", "1", "--seconds", "8", "--out", str(tmp_path)]) == 0
    record = json.loads((tmp_path / "summary.json").read_text())
    assert len(record["clips"]) == 1 and record["encoding"].startswith("lossless")
    assert (tmp_path / "prediction.png").is_file()


def test_the_bare_epoch_choice_tests_the_warm_start_the_kept_and_the_last_epoch_of_one_bare_cell(tmp_path, monkeypatch,
                                                                                                 capsys):
    import dataclasses
    import math

    from codephys_plugin.benchmark import cli
    from examples.bare_epoch_choice import main as epoch_choice
    from tests.test_benchmark import TOY

    monkeypatch.setitem(cli.PRESETS, "cpu", dataclasses.replace(TOY, bare_epochs=2))
    results = epoch_choice(["--work", str(tmp_path), "--network", "physnet", "--seed", "0"])
    assert results["last"]["epoch"] == 2 and {results["kept"]["epoch"], results["warm_start"]["epoch"]} <= {1, 2}
    assert all(math.isfinite(result[key]) for result in results.values() for key in ("clean", "degraded"))
    assert "last epoch 2" in capsys.readouterr().out
