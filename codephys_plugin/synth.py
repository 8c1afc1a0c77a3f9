"""codephys-synth: write synthetic face videos with a known pulse as an rPPG-Toolbox preprocessed cache.

    codephys-synth --out lab/train --recipe physnet --subjects 16 --videos-per-subject 2
    codephys-synth --out lab/test --recipe physnet --subjects 4 --first-subject 16 \\
        --degrade noise=0.5 --degrade compression=0:1 --translation 2 --rotation 3

The files are the toolbox's (<video>_input<k>.npy, <video>_label<k>.npy, channels-last, whole-video
DiffNormalized/Standardized as the network's config asks), so they feed `codephys-train --cache` and
the toolbox's own trainers alike. manifest.json records every video's subject, skin tone, heart rate
(per chunk too), degradations with their severities, and the seed: rerunning the command rewrites the
same files. Subjects are drawn from the seed and their index, so --first-subject gives disjoint ones.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path

from codephys_plugin._atomic import check_writable
from codephys_plugin._cli_types import nonnegative_float, nonnegative_int, positive_float, positive_int
from codephys_plugin.data.degradations import DEGRADATIONS
from codephys_plugin.data.face_video import FaceVideoConfig, HeadMotion
from codephys_plugin.training.batches import progress
from codephys_plugin.video_lab.lab_dataset import MANIFEST, DegradationRange, LabDatasetConfig, write_lab_dataset
from codephys_plugin.video_lab.toolbox_recipes import RECIPES, ToolboxRecipe


def degradation_range(text: str) -> DegradationRange:
    """NAME=SEVERITY or NAME=LOW:HIGH (drawn per video), severities in [0, 1]."""
    name, _, severity = text.partition("=")
    low, _, high = severity.partition(":")
    try:
        bounds = float(low), float(high or low)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected NAME=SEVERITY or NAME=LOW:HIGH with NAME one of "
                                         f"{', '.join(DEGRADATIONS)}") from None
    try:
        return DegradationRange(name, *bounds)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="codephys-synth", description=__doc__,
        formatter_class=lambda prog: argparse.RawDescriptionHelpFormatter(prog, max_help_position=34))
    parser.add_argument("--out", type=Path, required=True, help="folder to write (new or empty, or an earlier output with --overwrite)")
    recipe = parser.add_argument_group("the network's preprocessing (its rPPG-Toolbox config)")
    recipe.add_argument("--recipe", choices=sorted(RECIPES), default="physnet",
                        help="DATA_TYPE, LABEL_TYPE, size and chunk length of that network's configs (default: physnet)")
    recipe.add_argument("--size", type=positive_int, help="face crop size in pixels (default: the recipe's)")
    recipe.add_argument("--chunk-length", type=positive_int, help="frames per chunk (default: the recipe's)")
    videos = parser.add_argument_group("subjects and videos")
    videos.add_argument("--subjects", type=positive_int, default=10, help="(default: 10)")
    videos.add_argument("--first-subject", type=nonnegative_int, default=0,
                        help="index of the first subject; ranges that do not overlap give disjoint subjects (default: 0)")
    videos.add_argument("--videos-per-subject", type=positive_int, default=1, help="(default: 1)")
    videos.add_argument("--seconds", type=positive_float, default=30.0, help="length of each video (default: 30)")
    videos.add_argument("--fs", type=positive_float, default=30.0, help="frame rate in Hz (default: 30)")
    videos.add_argument("--seed", type=nonnegative_int, default=0, help="(default: 0)")
    pulse = parser.add_argument_group("heart rate")
    pulse.add_argument("--hr-range", type=positive_float, nargs=2, default=(50.0, 150.0), metavar=("LOW", "HIGH"),
                       help="mean rates drawn uniformly in this range, bpm (default: 50 150)")
    pulse.add_argument("--hr-drift", type=nonnegative_float, default=0.0,
                       help="largest drift of the rate over a video, bpm; each draws one in ±this (default: 0)")
    pulse.add_argument("--hr-step", type=positive_float, nargs=2, metavar=("LOW", "HIGH"),
                       help="a sudden change of the rate, its size drawn in this range, bpm (e.g. 10 30)")
    motion = parser.add_argument_group("head motion, light and camera")
    motion.add_argument("--translation", type=nonnegative_float, default=0.0, help="peak shift in pixels (default: 0)")
    motion.add_argument("--rotation", type=nonnegative_float, default=0.0, help="peak in-plane rotation in degrees (default: 0)")
    motion.add_argument("--scale", type=nonnegative_float, default=0.0, help="peak relative change of size (default: 0)")
    motion.add_argument("--mouth", type=nonnegative_float, default=0.0, help="talking: how far the mouth opens, 0-1 (default: 0)")
    motion.add_argument("--periodic-hz", type=positive_float,
                        help="add a periodic head motion at this rate (inside the heart-rate band it imitates the pulse)")
    motion.add_argument("--sensor-noise", type=nonnegative_float, default=FaceVideoConfig.sensor_noise,
                        help="the camera's own noise, std in pixel levels (default: %(default)g)")
    motion.add_argument("--light-drift", type=nonnegative_float, default=0.0, help="peak relative change of the light (default: 0)")
    parser.add_argument("--degrade", type=degradation_range, action="append", default=[], metavar="NAME=SEVERITY",
                        help=f"apply a degradation ({', '.join(DEGRADATIONS)}) at a severity in [0, 1], or one drawn "
                             "per video from LOW:HIGH; repeat for several, applied in order")
    parser.add_argument("--overwrite", action="store_true", help="replace an earlier codephys-synth output in --out")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    return parser


def config_from_args(args: argparse.Namespace) -> LabDatasetConfig:
    base = RECIPES[args.recipe]
    recipe = ToolboxRecipe(base.data_types, base.label_type, args.size or base.size, args.chunk_length or base.chunk_length)
    return LabDatasetConfig(
        recipe=recipe, subjects=args.subjects, first_subject=args.first_subject,
        videos_per_subject=args.videos_per_subject, seconds=args.seconds, fs=args.fs,
        hr_range_bpm=tuple(args.hr_range), hr_drift_bpm=args.hr_drift,
        hr_step_bpm=None if args.hr_step is None else tuple(args.hr_step),
        motion=HeadMotion(translation_px=args.translation, rotation_deg=args.rotation, scale=args.scale,
                          periodic_hz=args.periodic_hz, mouth=args.mouth),
        illumination_drift=args.light_drift, sensor_noise=args.sensor_noise, degradations=tuple(args.degrade), seed=args.seed)


def summary(manifest: dict, out: Path, seconds: float) -> str:
    videos = manifest["videos"]
    chunks = sum(len(video["chunks"]) for video in videos)
    rates = [video["hr_bpm"] for video in videos]
    tones = Counter(video["fitzpatrick"] for video in videos)
    recipe = manifest["config"]["recipe"]
    size_gb = sum((out / chunk[key]).stat().st_size for video in videos for chunk in video["chunks"]
                  for key in ("input", "label")) / 1e9
    return "\n".join([
        f"wrote {len(videos)} videos of {len({video['subject'] for video in videos})} subjects, {chunks} chunks of "
        f"{recipe['chunk_length']} frames ({'+'.join(recipe['data_types'])}, {recipe['size']} px), {size_gb:.2f} GB, "
        f"in {seconds:.1f} s",
        f"heart rates {min(rates):.1f}-{max(rates):.1f} bpm; Fitzpatrick types "
        + ", ".join(f"{kind}: {tones[kind]}" for kind in sorted(tones)),
        f"manifest: {out / MANIFEST}",
        f"train on it: codephys-train --cache {out} --fs {manifest['fs']:g} --labels {manifest['labels']} ...",
    ])


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        config = config_from_args(args)
        check_writable(args.out, "--out")
        start = time.perf_counter()
        manifest = write_lab_dataset(config, args.out, overwrite=args.overwrite, progress=lambda videos, total: progress(
            videos, enabled=not args.no_progress, description="videos", total=total, unit="video"),
                                     command=["codephys-synth", *(sys.argv[1:] if argv is None else argv)])
    except ValueError as error:
        print(f"codephys-synth: error: {error}", file=sys.stderr)
        return 2
    print(summary(manifest, args.out, time.perf_counter() - start))
    return 0


if __name__ == "__main__":
    sys.exit(main())
