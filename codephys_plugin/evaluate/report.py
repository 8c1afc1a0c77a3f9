"""What `codephys-evaluate` writes: per_video.csv, metrics.json and worst_videos.json, and the figures drawn from
them alone (`replot`): bland_altman.png, scatter.png, worst_videos.png.

    python -m codephys_plugin.evaluate.report OUT      # redraw OUT's figures from its CSV and JSON
"""

from __future__ import annotations

import csv
import io
import json
import sys
from dataclasses import asdict
from pathlib import Path

import numpy as np

from codephys_plugin._atomic import write_atomically
from codephys_plugin._json import strict_json
from codephys_plugin._provenance import provenance
from codephys_plugin.evaluate.model_runs import ModelEvaluation, worst_videos
from codephys_plugin.heart_rate import hr_metrics

LIMITS_OF_AGREEMENT = 1.96
"""Bland–Altman: mean difference ± 1.96 SD of the differences."""
PER_VIDEO, METRICS, WORST = "per_video.csv", "metrics.json", "worst_videos.json"


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
    """The per-video CSV, the metrics and the worst videos' HR tracks (JSON), then the figures drawn from them."""
    out.mkdir(parents=True, exist_ok=True)
    rows = [{"model": e.name, "video": v.video, "samples": v.samples, "hr_pred_bpm": v.hr_pred,
             "hr_label_bpm": v.hr_label, "error_bpm": v.hr_pred - v.hr_label, "snr_db": v.snr_db, "macc": v.macc}
            for e in evaluations for v in e.report.videos]
    measured = [e for e in evaluations if e.report.videos]
    tracks = [_video_tracks(measured, video, fs, band, window_s) for video in worst_videos(measured, worst)]
    _write_text(out / PER_VIDEO, _csv(rows))
    _write_text(out / METRICS, strict_json(record, indent=1) + "\n")
    _write_text(out / WORST, strict_json(tracks, indent=1) + "\n")
    return [out / PER_VIDEO, out / METRICS, out / WORST, *replot(out)]


def replot(out: Path) -> list[Path]:
    """Draw the figures from what `write_report` wrote (per_video.csv, worst_videos.json) alone."""
    with (out / PER_VIDEO).open() as stream:
        rows = list(csv.DictReader(stream))
    if not rows:
        return []
    pairs: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for name in dict.fromkeys(row["model"] for row in rows):
        mine = [row for row in rows if row["model"] == name]
        pairs[name] = (np.array([float(row["hr_pred_bpm"]) for row in mine]),
                       np.array([float(row["hr_label_bpm"]) for row in mine]))
    tracks = json.loads((out / WORST).read_text())
    return [plot_bland_altman(pairs, out / "bland_altman.png"), plot_scatter(pairs, out / "scatter.png"),
            plot_worst_videos(tracks, out / "worst_videos.png")]


def _video_tracks(evaluations: list[ModelEvaluation], video: str, fs: float, band: tuple[float, float],
                  window_s: float) -> dict:
    entry: dict = {"video": video, "models": {}}
    for evaluation in evaluations:
        if video in {v.video for v in evaluation.report.videos}:
            predicted, label = evaluation.video_tracks(video, fs, band, window_s)
            entry.setdefault("label", {"time_s": label.times_s.tolist(), "hr_bpm": label.hr_bpm.tolist()})
            entry["models"][evaluation.name] = {"time_s": predicted.times_s.tolist(), "hr_bpm": predicted.hr_bpm.tolist()}
    return entry


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


def plot_bland_altman(pairs: dict[str, tuple[np.ndarray, np.ndarray]], path: Path) -> Path:
    """Per video: the difference predicted − true HR against their mean, with the bias and limits of agreement."""
    plt, figure, axes = _panels(len(pairs))
    for axis, (name, (predicted, true)) in zip(axes, pairs.items()):
        difference, mean = predicted - true, (predicted + true) / 2
        bias, spread = difference.mean(), LIMITS_OF_AGREEMENT * difference.std(ddof=1 if difference.size > 1 else 0)
        axis.scatter(mean, difference, s=14)
        for level, style in ((bias, "-"), (bias + spread, "--"), (bias - spread, "--")):
            axis.axhline(level, color="grey", linestyle=style, linewidth=1)
        axis.set(xlabel="(predicted + true HR) / 2 (bpm)", ylabel="predicted − true HR (bpm)",
                 title=f"{name}: bias {bias:.2f}, LoA ±{spread:.2f} bpm")
    return _save(plt, figure, path)


def plot_scatter(pairs: dict[str, tuple[np.ndarray, np.ndarray]], path: Path) -> Path:
    """Predicted against true HR per video, with the identity line, MAE and Pearson r."""
    plt, figure, axes = _panels(len(pairs))
    for axis, (name, (predicted, true)) in zip(axes, pairs.items()):
        metrics = hr_metrics(predicted, true)
        low, high = min(predicted.min(), true.min()) - 5, max(predicted.max(), true.max()) + 5
        axis.plot([low, high], [low, high], color="grey", linewidth=1)
        axis.scatter(true, predicted, s=14)
        axis.set(xlim=(low, high), ylim=(low, high), xlabel="true HR (bpm)", ylabel="predicted HR (bpm)",
                 title=f"{name}: MAE {metrics.mae:.2f} bpm, r {metrics.pearson:.2f}")
    return _save(plt, figure, path)


def plot_worst_videos(tracks: list[dict], path: Path) -> Path:
    """HR over time (sliding windows) of the videos with the largest errors: the label and each model."""
    plt = _pyplot()
    figure, axes = plt.subplots(max(1, len(tracks)), 1, figsize=(9, 2.4 * max(1, len(tracks))), squeeze=False)
    for axis, entry in zip(axes[:, 0], tracks):
        axis.plot(entry["label"]["time_s"], entry["label"]["hr_bpm"], color="black", linewidth=2, label="label")
        for name, track in entry["models"].items():
            axis.plot(track["time_s"], track["hr_bpm"], marker=".", label=name)
        axis.set(title=entry["video"], xlabel="time (s)", ylabel="HR (bpm)")
        axis.legend(fontsize="small")
    return _save(plt, figure, path)


if __name__ == "__main__":
    for folder in sys.argv[1:] or ["."]:
        print("\n".join(str(path) for path in replot(Path(folder))))
