"""What `codephys-evaluate` writes: per_video.csv, metrics.json, bland_altman.png, scatter.png, worst_videos.png."""

from __future__ import annotations

import csv
import io
from dataclasses import asdict
from pathlib import Path


from codephys_plugin._atomic import write_atomically
from codephys_plugin._json import strict_json
from codephys_plugin._provenance import provenance
from codephys_plugin.evaluate.model_runs import ModelEvaluation, error_arrays, worst_videos

LIMITS_OF_AGREEMENT = 1.96
"""Bland–Altman: mean difference ± 1.96 SD of the differences."""


def metrics_record(evaluations: list[ModelEvaluation], dataset: Path, fs: float, band: tuple[float, float],
                   command: list[str]) -> dict:
    models = {}
    for evaluation in evaluations:
        report = evaluation.report
        models[evaluation.name] = {
            **(asdict(report.metrics) if report.metrics else {}), "snr_db": report.snr_db, "macc": report.macc,
            "videos": len(report.videos), "failed": [{"video": video, "reason": why} for video, why in report.failed],
        }
    return {"dataset": str(dataset), "fs": fs, "hr_band_hz": list(band), "protocol": "rPPG-Toolbox per video: chunks "
            "joined, integrated (derivative form), detrended, band-passed, FFT peak", "command": command,
            "models": models, **provenance()}


def write_report(evaluations: list[ModelEvaluation], out: Path, record: dict, *, fs: float, band: tuple[float, float],
                 worst: int = 4, window_s: float = 10.0) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    rows = [{"model": e.name, "video": v.video, "samples": v.samples, "hr_pred_bpm": v.hr_pred,
             "hr_label_bpm": v.hr_label, "error_bpm": v.hr_pred - v.hr_label, "snr_db": v.snr_db, "macc": v.macc}
            for e in evaluations for v in e.report.videos]
    paths = [out / "per_video.csv", out / "metrics.json"]
    _write_text(paths[0], _csv(rows))
    _write_text(paths[1], strict_json(record, indent=1) + "\n")
    measured = [e for e in evaluations if e.report.videos]
    if measured:
        paths += [plot_bland_altman(measured, out / "bland_altman.png"), plot_scatter(measured, out / "scatter.png"),
                  plot_worst_videos(measured, worst_videos(measured, worst), out / "worst_videos.png", fs=fs,
                                    band=band, window_s=window_s)]
    return paths


def _csv(rows: list[dict]) -> str:
    text = io.StringIO()
    fields = list(rows[0]) if rows else ["model", "video"]
    writer = csv.DictWriter(text, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return text.getvalue()


def _write_text(path: Path, text: str) -> None:
    write_atomically(path, lambda stream: stream.write(text.encode()))


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _panels(count: int):
    plt = _pyplot()
    figure, axes = plt.subplots(1, count, figsize=(4.6 * count, 4.2), squeeze=False)
    return plt, figure, axes[0]


def _save(plt, figure, path: Path) -> Path:
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def plot_bland_altman(evaluations: list[ModelEvaluation], path: Path) -> Path:
    """Per video: the difference predicted − true HR against their mean, with the bias and limits of agreement."""
    plt, figure, axes = _panels(len(evaluations))
    for axis, evaluation in zip(axes, evaluations):
        predicted, true = error_arrays(evaluation)
        difference, mean = predicted - true, (predicted + true) / 2
        bias, spread = difference.mean(), LIMITS_OF_AGREEMENT * difference.std(ddof=1 if difference.size > 1 else 0)
        axis.scatter(mean, difference, s=14)
        for level, style in ((bias, "-"), (bias + spread, "--"), (bias - spread, "--")):
            axis.axhline(level, color="grey", linestyle=style, linewidth=1)
        axis.set(xlabel="(predicted + true HR) / 2 (bpm)", ylabel="predicted − true HR (bpm)",
                 title=f"{evaluation.name}: bias {bias:.2f}, LoA ±{spread:.2f} bpm")
    return _save(plt, figure, path)


def plot_scatter(evaluations: list[ModelEvaluation], path: Path) -> Path:
    """Predicted against true HR per video, with the identity line and Pearson r."""
    plt, figure, axes = _panels(len(evaluations))
    for axis, evaluation in zip(axes, evaluations):
        predicted, true = error_arrays(evaluation)
        low, high = min(predicted.min(), true.min()) - 5, max(predicted.max(), true.max()) + 5
        axis.plot([low, high], [low, high], color="grey", linewidth=1)
        axis.scatter(true, predicted, s=14)
        metrics = evaluation.report.metrics
        axis.set(xlim=(low, high), ylim=(low, high), xlabel="true HR (bpm)", ylabel="predicted HR (bpm)",
                 title=f"{evaluation.name}: MAE {metrics.mae:.2f} bpm, r {metrics.pearson:.2f}")
    return _save(plt, figure, path)


def plot_worst_videos(evaluations: list[ModelEvaluation], videos: list[str], path: Path, *, fs: float,
                      band: tuple[float, float], window_s: float) -> Path:
    """HR over time (sliding windows) of the videos with the largest errors: the label and each model."""
    plt = _pyplot()
    figure, axes = plt.subplots(len(videos), 1, figsize=(9, 2.4 * len(videos)), squeeze=False)
    for axis, video in zip(axes[:, 0], videos):
        label_drawn = False
        for evaluation in evaluations:
            if video not in {v.video for v in evaluation.report.videos}:
                continue
            predicted, label = evaluation.video_tracks(video, fs, band, window_s)
            if not label_drawn:
                axis.plot(label.times_s, label.hr_bpm, color="black", linewidth=2, label="label")
                label_drawn = True
            axis.plot(predicted.times_s, predicted.hr_bpm, marker=".", label=evaluation.name)
        axis.set(title=video, xlabel="time (s)", ylabel="HR (bpm)")
        axis.legend(fontsize="small")
    return _save(plt, figure, path)
