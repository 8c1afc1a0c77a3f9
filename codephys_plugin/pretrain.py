"""codephys-pretrain: Stage I, learn a codebook of noise-free PPG features from contact-PPG labels.

    codephys-pretrain data/UBFC/ --out ubfc_codebook/
    codephys-pretrain 'physiokit/P1[12]_*.csv' --column 'PPG Finger' --time-column arduino_ts \\
        --val 'physiokit/P22_*.csv' 'physiokit/P[12][12]_*.csv@PPG Ear' --out physiokit.safetensors

With no input it trains on the embedded synthetic PPG. Under ``torchrun --nproc_per_node=K`` it
trains with DistributedDataParallel; the codebook stays identical on every rank.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch

from codephys_plugin._cli_types import (
    nonnegative_float,
    nonnegative_int,
    open_fraction,
    positive_float,
    positive_int,
    window_length,
)
from codephys_plugin._atomic import check_writable
from codephys_plugin._checks import check_band
from codephys_plugin.autoencoder import AutoencoderConfig, SignalAutoencoder
from codephys_plugin.bundle import REPORT_FILES, BundleConfig, check_bundle_target, save_bundle
from codephys_plugin.data.formats.csv_table import TIME_UNITS, CsvOptions
from codephys_plugin.data.recording import RecordingError
from codephys_plugin.data.sources import FORMATS, ReadOptions, iter_sources
from codephys_plugin.data.splits import held_out_groups
from codephys_plugin.data.synthetic_ppg import SyntheticPPGConfig, synthesize_recordings
from codephys_plugin.encoder.signal_encoder import SignalCoderConfig
from codephys_plugin.heart_rate.band_option import add_hr_band_option, checked_hr_band
from codephys_plugin.heart_rate.estimate import check_hr_window
from codephys_plugin.query.codebook import CodebookConfig
from codephys_plugin.training.checkpoint import ResumeError
from codephys_plugin.training.distributed import DistributedContext, run_in_process_group
from codephys_plugin.training.prepare import PreparedRecording, prepare_recording, to_label_form
from codephys_plugin.training.reconstruction_report import evaluate_reconstruction, format_report, plot_reconstructions
from codephys_plugin.training.stage1 import EpochSummary, Stage1TrainingConfig, train_stage1
from codephys_plugin.training.windows import MAX_HIGH_FRACTION, WindowConfig, filter_recording

DEFAULT_BAND = WindowConfig.band_hz


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="codephys-pretrain",
        description=__doc__,
        formatter_class=lambda prog: argparse.RawDescriptionHelpFormatter(prog, max_help_position=34),
    )
    parser.add_argument("inputs", nargs="*", help="files, folders or globs of PPG labels (none: synthetic PPG); "
                        "'INPUT@COLUMN' picks a CSV column for that input")
    data = parser.add_argument_group("reading")
    data.add_argument("--format", choices=FORMATS, default="auto",
                      help="format of the training inputs (default: auto, from each file's name)")
    data.add_argument("--column", help="CSV column holding the PPG (name, or 0-based index without header)")
    data.add_argument("--time-column", help="CSV column with sample times; the signal is resampled on them")
    data.add_argument("--time-unit", choices=sorted(TIME_UNITS), default="ms", help="unit of --time-column (default: ms)")
    data.add_argument("--fs", type=positive_float, help="sampling rate (Hz) of inputs without timestamps (npy, toolbox caches, "
                                               "CSV without --time-column); timestamped files use their own stamps")
    data.add_argument("--npz-key", help="array to read from .npz archives holding several")
    data.add_argument("--toolbox-labels", choices=["derivative", "waveform"], default="derivative",
                      help="what toolbox *_label*.npy caches hold: DiffNormalized derivatives or waveforms "
                           "(default: derivative)")
    data.add_argument("--skip-bad", action="store_true",
                      help="skip unusable recordings with a warning (counted in the report) instead of stopping")
    split = parser.add_argument_group("validation split (always by recording, never by window)")
    split.add_argument("--val", nargs="+", default=[], metavar="INPUT", help="validation inputs (same syntax)")
    split.add_argument("--val-format", choices=FORMATS, default="auto",
                       help="format of the --val inputs (default: auto, from each file's name)")
    split.add_argument("--val-fraction", type=open_fraction, default=0.2,
                       help="share of recordings (by subject where known) held out when --val is not given (default: 0.2)")
    windows = parser.add_argument_group("processing")
    windows.add_argument("--target-fs", type=positive_float, default=30.0, help="model rate, the video rate (default: 30)")
    windows.add_argument("--window", type=window_length, default=160, help="window length T in samples, a multiple of 4 and, for an EfficientPhys "
                         "head, of its frame_depth (frame_depth 10: 20, 40, … 160) (default: 160)")
    windows.add_argument("--hop", type=positive_int, default=40, help="hop between training windows (default: 40)")
    windows.add_argument("--band", type=positive_float, nargs=2, metavar=("LOW", "HIGH"),
                         help="band-pass edges in Hz, below --target-fs/2; keep the pulse harmonics "
                              f"(default: {DEFAULT_BAND[0]:g} {DEFAULT_BAND[1]:g}, the top lowered to "
                              f"{MAX_HIGH_FRACTION}·fs at low rates)")
    windows.add_argument("--label-form", choices=["waveform", "derivative"], default="waveform",
                         help="learn codes on waveforms (derivative inputs are integrated) or on first differences, "
                              "as DiffNormalized toolbox labels (default: waveform)")
    model = parser.add_argument_group("codebook and autoencoder")
    model.add_argument("--num-codes", type=positive_int, default=64, help="codebook size N (default: 64)")
    model.add_argument("--dim", type=positive_int, default=64, help="code dimension D (default: 64)")
    model.add_argument("--update", choices=["gradient", "ema"], default="ema",
                       help="how codes learn; EMA reconstructed held-out PPG better than gradient here (default: ema)")
    model.add_argument("--kmeans-init", action=argparse.BooleanOptionalAction, default=True,
                       help="k-means++ initialisation of the codes on the first batch (default: on)")
    model.add_argument("--dead-code-steps", type=nonnegative_int, default=50,
                       help="re-seed codes unused for this many steps, 0 disables (default: 50)")
    train = parser.add_argument_group("training (the paper's Stage I)")
    train.add_argument("--epochs", type=positive_int, default=15, help="(default: 15)")
    train.add_argument("--batch-size", type=positive_int, default=8, help="per process (default: 8)")
    train.add_argument("--lr", type=positive_float, default=5e-3, help="initial Adam learning rate, cosine-annealed (default: 5e-3)")
    train.add_argument("--seed", type=int, default=0, help="(default: 0)")
    train.add_argument("--resume", action="store_true", help="continue from the checkpoint beside --out")
    train.add_argument("--no-progress", action="store_true", help="no progress bar")
    synthetic = parser.add_argument_group("synthetic data (used when no input is given)")
    synthetic.add_argument("--train-recordings", type=positive_int, default=48, help="(default: 48)")
    synthetic.add_argument("--val-recordings", type=positive_int, default=16, help="(default: 16)")
    synthetic.add_argument("--duration", type=positive_float, default=30.0, help="seconds per recording (default: 30)")
    synthetic.add_argument("--noise", type=nonnegative_float, default=0.0, help="white-noise std (default: 0)")
    output = parser.add_argument_group("output")
    output.add_argument("--hr-window", type=nonnegative_float, default=30.0,
                        help="seconds per HR estimate in the report, 0 for whole recordings (default: 30)")
    add_hr_band_option(output)
    output.add_argument("--out", type=Path, default=Path("codephys_codebook"),
                        help="bundle to write: a directory, or a single file if it ends in .safetensors "
                             "(default: codephys_codebook)")
    return parser


@dataclasses.dataclass
class PreparedData:
    train: list[PreparedRecording]
    val: list[PreparedRecording]
    skipped: list[str]
    repaired: list[str] = dataclasses.field(default_factory=list)


def check_options(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Refuse contradictory or invalid options before anything is read or trained."""
    if args.val and not args.inputs:
        parser.error("--val needs training inputs: without inputs the run trains and validates on synthetic PPG; "
                     "name the training files, or drop --val")
    try:
        args.hr_band = checked_hr_band(args.hr_band, args.target_fs)
        args.band = checked_filter_band(args.band, args.target_fs)
        if args.hr_window > 0:
            check_hr_window(round(args.hr_window * args.target_fs), args.target_fs, args.hr_band[0],
                            name=f"--hr-window {args.hr_window:g}")
        check_bundle_target(args.out)
        check_writable(args.out.absolute().parent, "--out")
    except ValueError as error:
        parser.error(str(error))
    if args.resume and not checkpoint_path(args.out).is_file():
        parser.error(f"--resume: there is no checkpoint {checkpoint_path(args.out)} to continue from")


def checked_filter_band(values: list[float] | None, fs: float) -> tuple[float, float]:
    """`--band` as ``(low, high)`` with ``low < high < fs/2``; an edge above the filter's cap is lowered
    to it by `WindowConfig`, which stores the band applied."""
    if values is None:
        return DEFAULT_BAND
    try:
        low, high = check_band(values[0], values[1], fs)
    except ValueError as error:
        raise ValueError(f"--band: {error} (--target-fs {fs:g})") from None
    if low >= MAX_HIGH_FRACTION * fs:
        raise ValueError(f"--band: the low edge {low:g} Hz must be below {MAX_HIGH_FRACTION}·fs = "
                         f"{MAX_HIGH_FRACTION * fs:g} Hz at --target-fs {fs:g}")
    return low, high


def read_options(args: argparse.Namespace, file_format: str) -> ReadOptions:
    csv = CsvOptions(column=args.column, time_column=args.time_column, time_unit=args.time_unit)
    return ReadOptions(format=file_format, csv=csv, fs=args.fs, npz_key=args.npz_key, toolbox_form=args.toolbox_labels)


def prepare_inputs(
    inputs: list[str], file_format: str, args: argparse.Namespace, config: WindowConfig, data: PreparedData
) -> list[PreparedRecording]:
    """Read and prepare recordings one at a time; bad ones stop the run or, with --skip-bad, are
    counted in `data.skipped`; repaired ones are listed in `data.repaired`."""
    prepared = []
    for source in iter_sources(inputs, read_options(args, file_format)):
        try:
            recording = prepare_recording(source(), config, args.label_form)
        except RecordingError as error:
            if not args.skip_bad:
                raise
            warnings.warn(f"skipping {error}", stacklevel=1)
            data.skipped.append(str(error))
            continue
        if recording.merged_repeats:
            repair = f"{recording.name}: {recording.merged_repeats} repeated timestamp(s), their samples averaged"
            warnings.warn(repair, stacklevel=1)
            data.repaired.append(repair)
        prepared.append(recording)
    return prepared


def split_by_group(recordings: list[PreparedRecording], fraction: float, seed: int) -> tuple[list, list]:
    """Hold out about `fraction` of the groups (subjects); a group never straddles the split."""
    groups = sorted({r.group for r in recordings})
    if len(groups) < 2:
        raise RecordingError("inputs", f"need at least two recordings (or subjects) to split by recording, got {len(groups)}; "
                                       "pass --val")
    held_out = held_out_groups(groups, max(1, round(fraction * len(groups))), seed)
    return [r for r in recordings if r.group not in held_out], [r for r in recordings if r.group in held_out]


def load_data(args: argparse.Namespace, config: WindowConfig) -> PreparedData:
    if not args.inputs:
        return synthetic_data(args, config)
    data = PreparedData([], [], [])
    data.train = prepare_inputs(args.inputs, args.format, args, config, data)
    if args.val:
        data.val = prepare_inputs(args.val, args.val_format, args, config, data)
    else:
        data.train, data.val = split_by_group(data.train, args.val_fraction, args.seed)
    if not data.train or not data.val:
        raise RecordingError(
            "inputs", f"{len(data.train)} training and {len(data.val)} validation recordings remain; need both"
        )
    return data


def synthetic_data(args: argparse.Namespace, config: WindowConfig) -> PreparedData:
    synthetic = SyntheticPPGConfig(fs=config.fs, duration_s=args.duration, noise_std=args.noise)
    recordings = synthesize_recordings(args.train_recordings + args.val_recordings, synthetic, seed=args.seed)
    prepared = []
    for i, recording in enumerate(recordings):
        segment = to_label_form(filter_recording(recording.signal, config, f"synthetic recording {i}"), args.label_form)
        prepared.append(PreparedRecording(f"synthetic_{i:03d}", f"synthetic_{i:03d}", [segment], 0))
    return PreparedData(prepared[: args.train_recordings], prepared[args.train_recordings :], [])


def build_model(args: argparse.Namespace) -> AutoencoderConfig:
    return AutoencoderConfig(
        coder=SignalCoderConfig(dim=args.dim),
        codebook=CodebookConfig(num_codes=args.num_codes, dim=args.dim, update=args.update,
                                kmeans_init=args.kmeans_init, dead_code_steps=args.dead_code_steps),
    )


def report_paths(bundle: Path) -> tuple[Path, Path]:
    """Inside a directory bundle, or beside a single-file one."""
    json_name, png_name = REPORT_FILES
    if bundle.is_dir():
        return bundle / json_name, bundle / png_name
    return bundle.with_suffix(f".{json_name}"), bundle.with_suffix(f".{png_name}")


def checkpoint_path(out: Path) -> Path:
    return out.with_name(out.name + ".checkpoint.pt")


def run(args: argparse.Namespace, context: DistributedContext) -> int:
    torch.manual_seed(args.seed)
    windows = WindowConfig(fs=args.target_fs, window=args.window, hop=args.hop, band_hz=args.band)
    data = load_data(args, windows)
    train_windows = torch.as_tensor(np.concatenate([r.windows(windows) for r in data.train]), dtype=torch.float32)
    bundle_config = BundleConfig(autoencoder=build_model(args), windows=windows, label_form=args.label_form)
    model = SignalAutoencoder(bundle_config.autoencoder)
    training = Stage1TrainingConfig(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, seed=args.seed,
                                    checkpoint=checkpoint_path(args.out), progress=not args.no_progress)
    say = print if context.is_main else (lambda *a, **k: None)
    say(f"Stage I: {len(data.train)} train / {len(data.val)} held-out recordings, {train_windows.shape[0]} windows "
        f"of T={args.window} at {args.target_fs:g} Hz, codebook {args.num_codes}x{args.dim}, {context.world_size} process(es)")

    def log(summary: EpochSummary) -> None:
        say(f"  epoch {summary.epoch:2d}/{training.epochs}  L_code {summary.loss:.4f}  "
            f"L_rec {summary.reconstruction:.4f}  L_feat {summary.feature:.4f}", flush=True)

    started = time.perf_counter()
    resume = training.checkpoint if args.resume else None
    train_stage1(model, train_windows, training, context=context, resume_from=resume, on_epoch=log)
    say(f"trained in {time.perf_counter() - started:.1f} s")
    if not context.is_main:
        return 0
    report, examples = evaluate_reconstruction(
        model, [(r.name, r.segments) for r in data.val], windows, label_form=args.label_form,
        hr_window_s=args.hr_window, hr_band_hz=args.hr_band, skipped=data.skipped, repaired=data.repaired,
        pulseless_windows=sum(r.pulseless_windows for r in data.train + data.val),
    )
    say(format_report(report))
    bundle = save_bundle(args.out, model.cpu(), bundle_config)
    json_path, png_path = report_paths(bundle)
    json_path.write_text(report.to_json())
    plot_reconstructions(examples, windows, png_path)
    say(f"bundle written to {bundle}; report in {json_path} and {png_path}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    check_options(parser, args)
    return run_in_process_group("codephys-pretrain", lambda context: run(args, context), (RecordingError, ResumeError))


if __name__ == "__main__":
    sys.exit(main())
