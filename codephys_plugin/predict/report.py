"""What `codephys-predict` writes: waveform.csv, hr_track.csv, summary.json and prediction.png."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np

from codephys_plugin._atomic import write_atomically
from codephys_plugin._json import strict_json
from codephys_plugin._provenance import provenance
from codephys_plugin.predict.pipeline import VideoPrediction

OUTPUTS = ("waveform.csv", "hr_track.csv", "summary.json", "prediction.png")


def write_outputs(prediction: VideoPrediction, out: Path, command: list[str]) -> dict[str, Path]:
    out.mkdir(parents=True, exist_ok=True)
    paths = {name: out / name for name in OUTPUTS}
    _write_csv(paths["waveform.csv"], _waveform_rows(prediction))
    _write_csv(paths["hr_track.csv"], _track_rows(prediction))
    summary = strict_json(summarise(prediction, command), indent=1) + "\n"
    write_atomically(paths["summary.json"], lambda stream: stream.write(summary.encode()))
    plot_prediction(prediction, paths["prediction.png"])
    return paths


def summarise(prediction: VideoPrediction, command: list[str]) -> dict:
    track = prediction.track
    return {
        "video": str(prediction.info.path), "command": command,
        "video_fps": prediction.info.fps, "frames": prediction.frames_read,
        "duration_s": prediction.video_seconds, "model_fs": prediction.fs, "resampled": prediction.resampled,
        "face": {"detections": int(track.detected_at.size), "missed_detections": int(track.missed_at.size),
                 "first_box_xywh": [round(v, 1) for v in track.box(0)]},
        "models": {r.name: {"hr_bpm": r.hr_bpm, "hr_track_median_bpm": float(np.median(r.track.hr_bpm)),
                            "hr_track_windows": int(r.track.hr_bpm.size), "hr_window_s": r.track.window_s,
                            "mean_snr_db": float(np.mean(r.track.snr_db))} for r in prediction.readers},
        "timing_s": {name: round(seconds, 3) for name, seconds in prediction.timing_s.items()},
        **provenance(),
    }


def _waveform_rows(prediction: VideoPrediction) -> list[dict[str, float]]:
    """Sample j of the output lies between frames j and j+1: its time is (j + 0.5) / fs."""
    samples = prediction.readers[0].waveform.size
    times = (np.arange(samples) + 0.5) / prediction.fs
    columns = {"time_s": times}
    for reader in prediction.readers:
        columns[f"{reader.name}_waveform"] = reader.waveform
        columns[f"{reader.name}_output"] = reader.rppg
    return [{name: float(values[j]) for name, values in columns.items()} for j in range(samples)]


def _track_rows(prediction: VideoPrediction) -> list[dict[str, float]]:
    rows = []
    for reader in prediction.readers:
        rows.extend({"model": reader.name, **row} for row in reader.track.as_rows())
    return rows


def _write_csv(path: Path, rows: list[dict]) -> None:
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    write_atomically(path, lambda stream: stream.write(text.getvalue().encode()))


def plot_prediction(prediction: VideoPrediction, path: Path) -> Path:
    """The first frame with its face box, the waveform(s), and the HR track(s) over time."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    figure = plt.figure(figsize=(11, 6))
    grid = figure.add_gridspec(2, 3)
    frame_axis = figure.add_subplot(grid[:, 0])
    frame_axis.imshow(prediction.first_frame)
    x, y, width, height = prediction.track.box(0)
    frame_axis.add_patch(Rectangle((x, y), width, height, fill=False, color="lime", linewidth=1.5))
    frame_axis.set_title(prediction.info.path.name, fontsize="small")
    frame_axis.axis("off")
    wave_axis, track_axis = figure.add_subplot(grid[0, 1:]), figure.add_subplot(grid[1, 1:])
    for reader in prediction.readers:
        times = (np.arange(reader.waveform.size) + 0.5) / prediction.fs
        scale = np.std(reader.waveform) or 1.0
        wave_axis.plot(times, reader.waveform / scale, linewidth=0.8, label=reader.name)
        track_axis.plot(reader.track.times_s, reader.track.hr_bpm, marker=".", label=f"{reader.name} "
                        f"({reader.hr_bpm:.1f} bpm)")
    wave_axis.set(xlabel="time (s)", ylabel="pulse (z)", title="rPPG waveform")
    track_axis.set(xlabel="time (s)", ylabel="HR (bpm)",
                   title=f"heart rate, {prediction.readers[0].track.window_s:g}-s windows")
    for axis in (wave_axis, track_axis):
        axis.legend(fontsize="small")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path
