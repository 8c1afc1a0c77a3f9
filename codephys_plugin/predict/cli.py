"""codephys-predict: the heart rate of a face video, read by a trained network bare or with the code-query head.

    codephys-predict face.mp4 --backbone physnet --backbone-arg frames=160 \\
        --checkpoint PURE_PhysNet_DiffNormalized.pth                       # the bare network
    codephys-predict face.mp4 --backbone physnet --backbone-arg frames=160 \\
        --head run/best.safetensors --codebook codebook/                     # + CodeQueryHead
    codephys-predict face.mp4 ... --checkpoint net.pth --head run/best.safetensors --codebook codebook/ --compare

The face is found by dlib's HOG detector every --detect-every frames and cropped the rPPG-Toolbox's way
(box × 1.5, area-averaged to the network's size); a stretch without a face longer than --max-face-gap is an
error naming its frames (--roi x,y,w,h gives a fixed box instead). A video at another rate than the model's
is resampled on its frame time stamps. Windows of the model's T frames are overlap-added into one waveform;
the HR track takes --hr-window-s windows every --hr-step-s with the spectral peak interpolated between FFT
bins. Writes waveform.csv, hr_track.csv, summary.json and prediction.png into --out.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

import codephys_plugin.adapters  # noqa: F401  (registers the networks with timm)
from codephys_plugin._atomic import check_writable
from codephys_plugin._cli_types import nonnegative_float, positive_float, positive_int
from codephys_plugin.heart_rate.band_option import add_hr_band_option, checked_hr_band
from codephys_plugin.predict.faces import Box, TrackingConfig, hog_detector
from codephys_plugin.predict.pipeline import (
    PredictConfig,
    VideoPrediction,
    predict_video,
)
from codephys_plugin.predict.readers import Reader, bare_reader, head_reader
from codephys_plugin.predict.report import write_outputs
from codephys_plugin.trained_models import (
    add_model_options,
    check_model_options,
    load_models,
)
from codephys_plugin.training.batches import progress

DEFAULT_SIZE = 72
"""Face-crop size for networks that take any size (the toolbox's 72 px)."""


def roi(text: str) -> Box:
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        values = ()
    if len(values) != 4 or values[2] <= 0 or values[3] <= 0 or min(values[:2]) < 0:
        raise argparse.ArgumentTypeError(f"expected x,y,w,h in pixels with w, h > 0, got {text!r}")
    return values


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="codephys-predict", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("video", type=Path, help="a video file (anything FFmpeg reads: .mp4, .avi, .mkv, ...)")
    add_model_options(parser)
    model = parser.add_argument_group("bare network")
    model.add_argument("--window", type=positive_int,
                       help="frames T per window of the bare network (default: the one its head is built "
                            "for, e.g. PhysNet's frames, else the head's window, else 160)")
    model.add_argument("--fs", type=positive_float,
                       help="the bare network's frame rate (default: the codebook's with --head, else 30)")
    face = parser.add_argument_group("face")
    face.add_argument("--roi", type=roi, help="a fixed face box x,y,w,h in pixels instead of the detector")
    face.add_argument("--detect-every", type=positive_int, default=30, help="frames between detections (default: 30)")
    face.add_argument("--max-face-gap", type=nonnegative_float, default=2.0,
                      help="seconds without a detected face bridged by interpolation (default: 2)")
    face.add_argument("--size", type=positive_int, help="face-crop size (default: the network's, else 72)")
    rate = parser.add_argument_group("heart rate")
    rate.add_argument("--hr-window-s", type=positive_float, default=10.0, help="HR track window (default: 10)")
    rate.add_argument("--hr-step-s", type=positive_float, default=1.0, help="HR track step (default: 1)")
    rate.add_argument("--hop", type=positive_int, help="frames between model windows (default: half a window)")
    add_hr_band_option(rate)
    output = parser.add_argument_group("output")
    output.add_argument("--out", type=Path, help="output folder (default: VIDEO's name + _rppg beside it)")
    output.add_argument("--no-progress", action="store_true", help="no progress bars")
    return parser


def build_readers(args: argparse.Namespace) -> tuple[list[Reader], float, int]:
    """The readers asked for, the model rate and the crop size."""
    models = load_models(args)
    readers, fs, window = [], args.fs or 30.0, args.window or 160
    if models.head is not None:
        bundle_fs = models.head.config.fs
        if args.fs is not None and abs(args.fs - bundle_fs) > 1e-6:
            raise ValueError(f"--fs {args.fs:g}: the codebook was learned at {bundle_fs:g} Hz; the bare network "
                             "and the head run at the codebook's rate")
        fs, window = bundle_fs, args.window or models.head.config.window
        readers.append(head_reader(models.head))
    if models.bare is not None:
        window = args.window or models.bare.rppg_steps or window
        readers.insert(0, bare_reader(models.bare, window, derivative=args.output_form == "derivative"))
    return readers, fs, args.size or models.adapter.frame_size or DEFAULT_SIZE


def format_result(prediction: VideoPrediction, paths: dict[str, Path]) -> str:
    lines = [f"{prediction.info.path}: {prediction.frames_read} frames, {prediction.video_seconds:.1f} s at "
             f"{prediction.info.fps:g} fps" + (f"; {prediction.resampled}" if prediction.resampled else "")]
    for reader in prediction.readers:
        lines.append(f"  {reader.name}: HR {reader.hr_bpm:.1f} bpm (whole video); track median "
                     f"{float(np.median(reader.track.hr_bpm)):.1f} bpm over "
                     f"{reader.track.hr_bpm.size} windows of {reader.track.window_s:g} s")
    lines.append("  wrote " + ", ".join(str(path) for path in paths.values()))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    check_model_options(parser, args)
    out = args.out or args.video.with_name(f"{args.video.stem}_rppg")
    try:
        check_writable(out, "--out")
        readers, fs, size = build_readers(args)
        config = PredictConfig(
            fs=fs, size=size, roi=args.roi, hop=args.hop, hr_window_s=args.hr_window_s, hr_step_s=args.hr_step_s,
            band_hz=checked_hr_band(args.hr_band, fs), batch_size=args.batch_size,
            tracking=TrackingConfig(detect_every=args.detect_every, max_gap_s=args.max_face_gap))
        bar = lambda items, desc="", total=None: progress(items, enabled=not args.no_progress,  # noqa: E731
                                                          description=desc, total=total, unit="it")
        prediction = predict_video(args.video, readers, config, detector=None if args.roi else hog_detector(),
                                   progress=bar)
        paths = write_outputs(prediction, out, ["codephys-predict", *(sys.argv[1:] if argv is None else argv)])
    except (ValueError, FileNotFoundError) as error:
        print(f"codephys-predict: error: {error}", file=sys.stderr)
        return 2
    print(format_result(prediction, paths))
    return 0


if __name__ == "__main__":
    sys.exit(main())
