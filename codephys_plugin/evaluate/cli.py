"""codephys-evaluate: a trained network, bare or with the code-query head, on a held-out test set.

    codephys-evaluate lab/test_clean --backbone physnet --backbone-arg frames=160 --checkpoint net.pth
    codephys-evaluate TOOLBOX_CACHE/ --fs 30 --backbone physnet --backbone-arg frames=160 \\
        --checkpoint net.pth --head run/best.safetensors --codebook codebook/ --compare

The test set is an rPPG-Toolbox cache folder (*_input<k>.npy with *_label<k>.npy; give --fs, and --layout and
--labels where they differ from the defaults) or a codephys-synth dataset (its manifest states them). The
toolbox's per-video protocol: a video's chunks joined, integrated when in derivative form, detrended and
band-passed, one FFT heart rate per video; MAE, RMSE, MAPE and Pearson r with the toolbox's standard errors,
mean SNR and MACC. Writes per_video.csv, metrics.json, bland_altman.png, scatter.png and worst_videos.png.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import codephys_plugin.adapters  # noqa: F401  (registers the networks with timm)
from codephys_plugin._atomic import check_writable
from codephys_plugin._cli_types import positive_float, positive_int
from codephys_plugin.data.toolbox_clips import AXES
from codephys_plugin.evaluate.model_runs import ModelEvaluation, evaluate_bare, evaluate_head
from codephys_plugin.evaluate.report import metrics_record, write_report
from codephys_plugin.evaluate.test_sets import open_test_set
from codephys_plugin.heart_rate.band_option import add_hr_band_option, checked_hr_band
from codephys_plugin.trained_models import add_model_options, check_model_options, load_models
from codephys_plugin.training.batches import progress


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="codephys-evaluate", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dataset", type=Path, help="an rPPG-Toolbox test cache folder or a codephys-synth dataset")
    add_model_options(parser)
    data = parser.add_argument_group("test set")
    data.add_argument("--fs", type=positive_float, help="frame rate in Hz (required for a toolbox cache)")
    data.add_argument("--layout", choices=sorted(AXES), help="axes of the cached inputs (default: NDHWC)")
    data.add_argument("--labels", choices=["derivative", "waveform"],
                      help="what the cached labels hold (default: derivative, DiffNormalized)")
    report = parser.add_argument_group("report")
    add_hr_band_option(report)
    report.add_argument("--worst", type=positive_int, default=4, help="videos in the HR-over-time plot (default: 4)")
    report.add_argument("--hr-window-s", type=positive_float, default=10.0,
                        help="window of the HR-over-time plot (default: 10)")
    report.add_argument("--out", type=Path, required=True, help="output folder")
    report.add_argument("--no-progress", action="store_true", help="no progress bars")
    return parser


def format_metrics(evaluation: ModelEvaluation) -> str:
    report, metrics = evaluation.report, evaluation.report.metrics
    if metrics is None:
        return f"  {evaluation.name}: no video could be measured ({len(report.failed)} failed)"
    pearson = "undefined" if math.isnan(metrics.pearson) else f"{metrics.pearson:.3f} ± {metrics.pearson_se:.3f}"
    return (f"  {evaluation.name}: MAE {metrics.mae:.2f} ± {metrics.mae_se:.2f}  RMSE {metrics.rmse:.2f} ± "
            f"{metrics.rmse_se:.2f}  MAPE {metrics.mape:.2f} ± {metrics.mape_se:.2f} %  r {pearson}  SNR "
            f"{report.snr_db:.2f} dB  MACC {report.macc:.3f}  over {metrics.n} videos"
            + (f" ({len(report.failed)} unmeasurable)" if report.failed else ""))


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    check_model_options(parser, args)
    try:
        check_writable(args.out, "--out")
        clips = open_test_set(args.dataset, layout=args.layout, labels=args.labels, fs=args.fs)
        band = checked_hr_band(args.hr_band, clips.fs)
        models = load_models(args)
        bar = lambda name: lambda batches: progress(batches, enabled=not args.no_progress,  # noqa: E731
                                                    description=name, unit="batch")
        evaluations = []
        if models.bare is not None:
            evaluations.append(evaluate_bare(models.bare, clips, args.output_form, band, batch_size=args.batch_size,
                                             progress=bar("bare")))
        if models.head is not None:
            evaluations.append(evaluate_head(models.head, clips, band, batch_size=args.batch_size,
                                             progress=bar("head")))
        command = ["codephys-evaluate", *(sys.argv[1:] if argv is None else argv)]
        paths = write_report(evaluations, args.out, metrics_record(evaluations, args.dataset, clips.fs, band, command),
                             fs=clips.fs, band=band, worst=args.worst, window_s=args.hr_window_s)
    except (ValueError, FileNotFoundError) as error:
        print(f"codephys-evaluate: error: {error}", file=sys.stderr)
        return 2
    print(f"{args.dataset}: {len(set(clips.videos))} videos, {len(clips)} clips at {clips.fs:g} Hz")
    print("\n".join(format_metrics(evaluation) for evaluation in evaluations))
    print("  wrote " + ", ".join(str(path) for path in paths))
    return 0


if __name__ == "__main__":
    sys.exit(main())
