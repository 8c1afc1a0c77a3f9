"""Do networks that learned the pulse on real faces read the lab's clean clips? The rPPG-Toolbox's PhysNet
weights (trained on PURE and on UBFC-rPPG) against codephys-synth caches made with their own recipe.

    python examples/lab_realism.py                       # writes results/video_lab/realism.json
    python examples/lab_realism.py --subjects 8 --sensor-noise 0.5 --out /tmp/realism

For each camera noise level, `--subjects` clean 30-s videos (still head, Fitzpatrick I-IV and heart rates
of 55-110 bpm, as in those datasets) are written as a toolbox cache (DiffNormalized, 72 × 72, chunks of 128)
and each network's chunk outputs are joined per video and evaluated the toolbox's way (integrated, detrended,
band-passed, FFT HR) against the label's FFT HR. One more run draws all six skin types at the default noise.
Needs ../shared/weights/rppg_toolbox (research weights; not shipped).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

from codephys_plugin.adapters import PhysNet
from codephys_plugin.adapters.checkpoint import load_checkpoint
from codephys_plugin.data.face_video import SKIN_TYPES, FaceVideoConfig
from codephys_plugin.data.toolbox_clips import ToolboxClipDataset, find_toolbox_clips
from codephys_plugin.heart_rate.videos import Chunk, evaluate_videos
from codephys_plugin.video_lab import RECIPES, LabDatasetConfig, write_lab_dataset
from codephys_plugin._provenance import provenance

WEIGHTS = Path(__file__).resolve().parents[1].parent / "shared" / "weights" / "rppg_toolbox"
WEIGHT_FILES = {"PURE": "PURE_PhysNet_DiffNormalized.pth", "UBFC-rPPG": "UBFC-rPPG_PhysNet_DiffNormalized.pth"}
DATASET_SKIN_TYPES = (1, 2, 3, 4)
DATASET_HR_BPM = (55.0, 110.0)
WITHIN_BPM = 3.0


def network_readings(weights: Path, cache: Path) -> dict[str, tuple[float, float]]:
    """Each video's predicted and label FFT HR, the toolbox's way, by video name."""
    network = load_checkpoint(PhysNet(frames=RECIPES["physnet"].chunk_length), weights).eval()
    clips = find_toolbox_clips(cache)
    dataset = ToolboxClipDataset(clips)
    chunks = []
    with torch.no_grad():
        for index, clip in enumerate(clips):
            inputs, label = dataset[index]
            prediction = network(inputs.permute(1, 0, 2, 3)[None])[0][0]
            chunks.append(Chunk(clip.video, clip.chunk, prediction.numpy(), label.numpy()))
    report = evaluate_videos(chunks, 30.0, diff_normalized=True)
    if report.failed:
        raise RuntimeError(f"{weights.name}: videos that could not be measured: {report.failed}")
    return {video.video: (video.hr_pred, video.hr_label) for video in report.videos}


def evaluate_setting(weights_dir: Path, subjects: int, sensor_noise: float, skin_types: tuple[int, ...],
                     seed: int) -> dict:
    config = LabDatasetConfig(recipe=RECIPES["physnet"], subjects=subjects, seconds=30.0, hr_range_bpm=DATASET_HR_BPM,
                              sensor_noise=sensor_noise, skin_types=skin_types, seed=seed)
    with tempfile.TemporaryDirectory() as folder:
        manifest = write_lab_dataset(config, Path(folder) / "lab")
        readings = {name: network_readings(weights_dir / file, Path(folder) / "lab") for name, file in WEIGHT_FILES.items()}
    videos = []
    for video in manifest["videos"]:
        row = {key: video[key] for key in ("video", "fitzpatrick", "pulse_levels", "hr_bpm")}
        row["hr_label_bpm"] = readings["PURE"][video["video"]][1]
        row["hr_pred_bpm"] = {name: reading[video["video"]][0] for name, reading in readings.items()}
        videos.append(row)
    summary = {}
    for name in WEIGHT_FILES:
        errors = np.array([abs(row["hr_pred_bpm"][name] - row["hr_label_bpm"]) for row in videos])
        summary[name] = {"mae_bpm": float(errors.mean()), "within_3_bpm": float((errors <= WITHIN_BPM).mean()),
                         "median_error_bpm": float(np.median(errors))}
    return {"sensor_noise": sensor_noise, "skin_types": list(skin_types), "subjects": subjects, "seed": seed,
            "networks": summary, "videos": videos}


def format_setting(setting: dict) -> str:
    types = "-".join(str(kind) for kind in (setting["skin_types"][0], setting["skin_types"][-1]))
    cells = "  ".join(f"{name} MAE {result['mae_bpm']:5.1f}, {result['within_3_bpm']:4.0%} within 3 bpm"
                      for name, result in setting["networks"].items())
    return f"noise {setting['sensor_noise']:<4g} types {types}: {cells}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", type=Path, default=WEIGHTS, help="folder with the toolbox's PhysNet weights")
    parser.add_argument("--subjects", type=int, default=16)
    parser.add_argument("--sensor-noise", type=float, nargs="+", default=[0.0, FaceVideoConfig.sensor_noise, 1.0])
    parser.add_argument("--no-all-types", action="store_true", help="skip the run over all six skin types")
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("results/video_lab"))
    args = parser.parse_args(argv)
    missing = [file for file in WEIGHT_FILES.values() if not (args.weights / file).is_file()]
    if missing:
        print(f"lab_realism: {args.weights} lacks {', '.join(missing)}", file=sys.stderr)
        return 2
    settings = [evaluate_setting(args.weights, args.subjects, noise, DATASET_SKIN_TYPES, args.seed)
                for noise in args.sensor_noise]
    if not args.no_all_types:
        settings.append(evaluate_setting(args.weights, args.subjects, FaceVideoConfig.sensor_noise, SKIN_TYPES, args.seed))
    print(f"toolbox PhysNet weights on {args.subjects} clean lab videos of 30 s per setting (HR error vs the label's FFT HR):")
    for setting in settings:
        print("  " + format_setting(setting))
    args.out.mkdir(parents=True, exist_ok=True)
    record = {"hr_range_bpm": list(DATASET_HR_BPM), "settings": settings, **provenance()}
    (args.out / "realism.json").write_text(json.dumps(record, indent=2) + "\n")
    print(f"written: {args.out / 'realism.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
