"""A tour of the synthetic video lab: a clean and a degraded clip side by side, and how the classic methods fare.

    python examples/video_lab_tour.py                     # 20 videos of 30 s, writes video_lab/
    python examples/video_lab_tour.py --videos 4 --seconds 10 --out /tmp/lab

Renders `--videos` face videos (72 × 72, 30 fps), degrades each with every degradation at severities 0,
0.5 and 1, reads the skin region's RGB trace with GREEN, CHROM and POS and prints their HR MAE against the
label's FFT heart rate (the toolbox's protocol, whole video). Writes OUT/video_lab.json (the table, the
rendering speed, versions and the machine) and OUT/video_lab.png (clean and degraded frames, the skin-mean
green trace, the true PPG).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from codephys_plugin.baselines import BASELINES, rgb_trace
from codephys_plugin.data.degradations import DEGRADATIONS
from codephys_plugin.data.face_video import FaceClip, FaceVideoConfig, HeadMotion, draw_subject, render_face_video
from codephys_plugin.heart_rate import hr_fft, prepare_for_hr
from codephys_plugin._provenance import provenance

SEVERITIES = (0.0, 0.5, 1.0)
FS = 30.0
MOTIONS = {"still": HeadMotion(), "moving": HeadMotion(translation_px=1.0, rotation_deg=2.0, mouth=0.5)}


def render_videos(count: int, frames: int) -> list[FaceClip]:
    clips = []
    for index in range(count):
        rng = np.random.default_rng(1000 + index)
        config = FaceVideoConfig(frames=frames, motion=HeadMotion(translation_px=1.0, rotation_deg=2.0))
        clips.append(render_face_video(config, draw_subject(rng), rng))
    return clips


def method_errors(clips: list[FaceClip], name: str, severity: float) -> dict[str, float]:
    """HR MAE (bpm) of every classic method over `clips` degraded by `name` at `severity`."""
    errors: dict[str, list[float]] = {method: [] for method in BASELINES}
    for index, clip in enumerate(clips):
        frames = DEGRADATIONS[name](severity=severity)(clip.frames, np.random.default_rng(index))
        trace = rgb_trace(frames, clip.skin_mask)
        truth = hr_fft(prepare_for_hr(clip.ppg, FS), FS)
        for method, read in BASELINES.items():
            errors[method].append(abs(hr_fft(prepare_for_hr(read(trace, FS), FS), FS) - truth))
    return {method: float(np.mean(values)) for method, values in errors.items()}


def rendering_speed(size: int, motion: HeadMotion, repeats: int = 5) -> float:
    """160-frame clips per second at `size` px (median of `repeats`)."""
    config = FaceVideoConfig(frames=160, size=size, motion=motion)
    subject = draw_subject(np.random.default_rng(0))
    times = []
    for repeat in range(repeats):
        started = time.perf_counter()
        render_face_video(config, subject, repeat)
        times.append(time.perf_counter() - started)
    return float(1.0 / np.median(times))


def plot(clip: FaceClip, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    degraded = {name: DEGRADATIONS[name](severity=1.0)(clip.frames, np.random.default_rng(0))
                for name in ("noise", "compression", "occlusion", "flicker")}
    figure = plt.figure(figsize=(12, 6))
    panels = [("clean", clip.frames), *degraded.items()]
    for column, (name, frames) in enumerate(panels):
        axis = figure.add_subplot(2, len(panels), column + 1)
        axis.imshow(frames[len(frames) // 2])
        axis.set_title(name if name == "clean" else f"{name}, severity 1", fontsize=9)
        axis.axis("off")
    trace_axis = figure.add_subplot(2, 1, 2)
    seconds = np.arange(clip.frames.shape[0]) / FS
    for name, frames in panels[:3]:
        green = rgb_trace(frames, clip.skin_mask)[:, 1]
        trace_axis.plot(seconds, green - green.mean(), label=f"skin-mean green, {name}", linewidth=0.8)
    scale = np.ptp(rgb_trace(clip.frames, clip.skin_mask)[:, 1])
    trace_axis.plot(seconds, -clip.ppg * scale, color="black", label="true PPG (inverted, scaled)", linewidth=1.2)
    trace_axis.set_xlim(0, min(10, seconds[-1]))
    trace_axis.set_xlabel("s")
    trace_axis.set_ylabel("pixel levels")
    trace_axis.legend(fontsize=8, loc="upper right")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--videos", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--out", type=Path, default=Path("video_lab"))
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    clips = render_videos(args.videos, int(round(args.seconds * FS)))
    table = {name: {str(s): method_errors(clips, name, s) for s in SEVERITIES} for name in DEGRADATIONS}
    speed = {f"{size}px {kind}": rendering_speed(size, motion) for size in (72, 128) for kind, motion in MOTIONS.items()}
    print(f"HR MAE (bpm) of the classic methods on {args.videos} synthetic {args.seconds:g}-s videos, 72 x 72:")
    print(f"{'degradation':12s} " + " ".join(f"| severity {s:<3g} {'':14s}" for s in SEVERITIES))
    for name, rows in table.items():
        cells = ["  ".join(f"{m} {rows[str(s)][m]:5.1f}" for m in BASELINES) for s in SEVERITIES]
        print(f"{name:12s} | " + " | ".join(cells))
    print("rendering (160 frames): " + ", ".join(f"{clips_per_s:.0f} clips/s at {setting}"
                                                for setting, clips_per_s in speed.items()))
    record = {"videos": args.videos, "seconds": args.seconds, "hr_mae_bpm": table, "clips_per_second": speed,
              **provenance()}
    (args.out / "video_lab.json").write_text(json.dumps(record, indent=2))
    plot(clips[0], args.out / "video_lab.png")
    print(f"written: {args.out / 'video_lab.json'}, {args.out / 'video_lab.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
