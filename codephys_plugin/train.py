"""codephys-train: Stage II, give an rPPG network CodePhys's code-query stage and train it on video clips.

    codephys-train --backbone physnet --backbone-arg frames=160 --codebook ubfc_codebook/ \\
        --cache PreprocessedData/UBFC_SizeW72_..._DiffNormalized/ --fs 30 --out runs/physnet
    codephys-train --backbone my_lab.models:PhysNet_padding_Encoder_Decoder_MAX --backbone-arg frames=160 \\
        --checkpoint PURE_PhysNet_DiffNormalized.pth --codebook ubfc_codebook/ --cache TRAIN/ --val-cache VAL/ --fs 30
    codephys-train --backbone sspd --codebook ubfc_codebook/          # synthetic face clips, no dataset needed

--backbone is a name registered with timm (deepphys, efficientphys, physformer, physnet, sspd, sspdl3) or
`module:Class` for a class of your own (the toolbox's classes included); --checkpoint loads its
weights strictly. Clips must be as long as the bundle's window and at its frame rate. Every epoch is
validated with the rPPG-Toolbox's per-video protocol; the best epoch's head is kept. Under
``torchrun --nproc_per_node=K`` it trains with DistributedDataParallel.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

import torch

import codephys_plugin.adapters  # noqa: F401  (registers the networks with timm)
from codephys_plugin._atomic import check_writable
from codephys_plugin._cli_types import (
    nonnegative_float,
    nonnegative_int,
    open_fraction,
    positive_float,
    positive_int,
)
from codephys_plugin._json import format_undefined
from codephys_plugin.backbone_spec import add_backbone_options, load_backbone
from codephys_plugin.adapters.checkpoint import CheckpointError
from codephys_plugin.bundle import load_bundle
from codephys_plugin.code_query_head import PAPER_CODE_TEMPERATURE, Ablation, CodeQueryHead
from codephys_plugin.data.clip_sets import ClipSet, split_by_video, synthetic_clips, toolbox_clips
from codephys_plugin.data.synthetic_video import SyntheticVideoConfig
from codephys_plugin.data.toolbox_clips import AXES
from codephys_plugin.encoder.video_encoder import VideoEncoderConfig
from codephys_plugin.heart_rate.band_option import add_hr_band_option, checked_hr_band
from codephys_plugin.losses.stage2 import CODE_WEIGHT, PHYSIOLOGICAL_WEIGHT
from codephys_plugin.query.code_gradient import CODE_GRADIENTS
from codephys_plugin.training.distributed import DistributedContext, run_in_process_group
from codephys_plugin.training.loss_shares import TERMS as LOSS_SHARE_TERMS
from codephys_plugin.training.selection import best_epoch
from codephys_plugin.training.stage2 import Stage2EpochSummary, Stage2TrainingConfig, train_stage2

DEFAULT_FRAME_SIZE = 72
"""Synthetic frame size for networks that take any size (the toolbox's 72 px)."""
ABLATION_HELP = {
    "code_query": "decode the tokens directly: no quantisation, no code-level losses",
    "prior_branch": "no auxiliary prior branch (E_vf's tokens alone, no AdaIN)",
    "feature_distillation": "no E_ppg: no soft feature distillation and no L_code'^ppg",
    "spatial_attention": "no SAM: E_vf gets the projected features unweighted",
    "stage1": "a random codebook and decoder of the bundle's shapes instead of its weights (still frozen)",
}
"""One switch per field of `Ablation`."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="codephys-train",
        description=__doc__,
        formatter_class=lambda prog: argparse.RawDescriptionHelpFormatter(prog, max_help_position=34),
    )
    model = parser.add_argument_group("network and codebook")
    add_backbone_options(model)
    model.add_argument("--codebook", type=Path, required=True, help="Stage I bundle (codephys-pretrain's output)")
    model.add_argument("--freeze-backbone", action="store_true", help="keep the backbone fixed (default: fine-tune it)")
    model.add_argument("--grid", type=nonnegative_int, default=VideoEncoderConfig.grid,
                       help=f"E_vf pools feature maps to at most GRID x GRID; 0 keeps them (default: {VideoEncoderConfig.grid})")
    model.add_argument("--code-gradient", choices=CODE_GRADIENTS, default="nearest",
                       help="how L_phy reaches the query tokens through the nearest code: the paper's straight-through "
                            "copy, or through the softmax mix of the codes (default: nearest)")
    temperature = model.add_mutually_exclusive_group()
    temperature.add_argument("--code-temperature", type=positive_float,
                             help="τ of the code logits -||z-c||²/τ in L_code' (default: the bundle's, 1)")
    temperature.add_argument("--paper-loss", action="store_true",
                             help=f"the paper's literal Eq. 16: τ = {PAPER_CODE_TEMPERATURE:g}, α = {PHYSIOLOGICAL_WEIGHT:g}, "
                                  f"β = {CODE_WEIGHT:g} (so not with --alpha or --beta)")
    ablation = parser.add_argument_group("ablations (the paper's Table V)")
    for name, effect in ABLATION_HELP.items():
        ablation.add_argument(f"--no-{name.replace('_', '-')}", action="store_true", help=effect)
    data = parser.add_argument_group("rPPG-Toolbox caches (*_input<k>.npy with *_label<k>.npy)")
    data.add_argument("--cache", type=Path, help="training cache folder; without it, synthetic face clips are used")
    data.add_argument("--val-cache", type=Path, help="validation cache folder (default: hold out videos of --cache)")
    data.add_argument("--val-fraction", type=open_fraction, default=0.2, help="share of videos held out (default: 0.2)")
    data.add_argument("--layout", choices=sorted(AXES), default="NDHWC",
                      help="axis order of the input chunks; the toolbox writes NDHWC (default: NDHWC)")
    data.add_argument("--labels", choices=["derivative", "waveform"], default="derivative",
                      help="what the label chunks hold: DiffNormalized derivatives or waveforms (default: derivative)")
    data.add_argument("--fs", type=positive_float, help="frame rate of the cached videos in Hz (required with --cache)")
    synthetic = parser.add_argument_group("synthetic face clips (used without --cache)")
    synthetic.add_argument("--train-clips", type=positive_int, default=64, help="(default: 64)")
    synthetic.add_argument("--val-clips", type=positive_int, default=16, help="(default: 16)")
    synthetic.add_argument("--size", type=positive_int, help=f"frame size (default: the network's, else {DEFAULT_FRAME_SIZE})")
    synthetic.add_argument("--noise", type=nonnegative_float, default=2.0, help="pixel noise std in levels (default: 2)")
    synthetic.add_argument("--motion", type=nonnegative_float, default=0.0, help="peak face translation in pixels (default: 0)")
    synthetic.add_argument("--drift", type=nonnegative_float, default=0.0, help="peak relative illumination drift (default: 0)")
    train = parser.add_argument_group("training (the paper's Stage II)")
    train.add_argument("--epochs", type=positive_int, default=20, help="(default: 20)")
    train.add_argument("--batch-size", type=positive_int, default=4, help="per process (default: 4)")
    train.add_argument("--lr", type=positive_float, default=1e-4, help="Adam learning rate (default: 1e-4)")
    train.add_argument("--backbone-lr", type=nonnegative_float,
                       help="the backbone's own rate, e.g. lower when fine-tuning a trained network (default: --lr)")
    train.add_argument("--warmup-steps", type=nonnegative_int, default=0,
                       help="rates rise linearly over these first steps (default: 0)")
    train.add_argument("--frozen-backbone-epochs", type=nonnegative_int, default=0,
                       help="warm start: the backbone does not learn in these first epochs, then at --backbone-lr "
                            "(default: 0)")
    train.add_argument("--one-cycle", action="store_true",
                       help="rates follow torch's OneCycleLR shape over the run (the toolbox's), peaking at --lr "
                            "and --backbone-lr; not with --warmup-steps")
    train.add_argument("--grad-clip", type=positive_float, help="largest total gradient norm per step (default: none)")
    train.add_argument("--weight-decay", type=nonnegative_float, default=5e-5, help="(default: 5e-5)")
    train.add_argument("--alpha", type=nonnegative_float, default=PHYSIOLOGICAL_WEIGHT, help=f"weight of L_phy (default: {PHYSIOLOGICAL_WEIGHT:g})")
    train.add_argument("--beta", type=nonnegative_float, default=CODE_WEIGHT,
                       help=f"weight of L_code' + L_code'^ppg (default: {CODE_WEIGHT:g})")
    train.add_argument("--select-by", choices=["mae", "loss"], default="mae",
                       help="best epoch by validation HR MAE or validation loss (default: mae)")
    add_hr_band_option(train)
    train.add_argument("--seed", type=int, default=0, help="(default: 0)")
    train.add_argument("--workers", type=nonnegative_int, default=0, help="DataLoader workers (default: 0)")
    train.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.pt (which must exist)")
    train.add_argument("--overwrite", action="store_true",
                       help="start afresh in an OUT that holds an earlier run, replacing its files (default: refuse)")
    train.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--out", type=Path, default=Path("codephys_stage2"),
                        help="folder for checkpoint.pt, best.safetensors and history.json (default: codephys_stage2)")
    return parser


PEARSON_UNDEFINED = "constant HRs or fewer than 2 videos"
RUN_FILES = ("checkpoint.pt", "best.safetensors", "history.json")
"""What a run writes into --out; nothing else there is touched."""


def check_run_folder(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Before any work: --resume needs a checkpoint, and a fresh run must not silently replace an earlier one."""
    if args.out.exists() and not args.out.is_dir():
        parser.error(f"--out: {args.out} is a file; it must be a folder (new or of an earlier run)")
    try:
        check_writable(args.out, "--out")
    except ValueError as error:
        parser.error(str(error))
    if args.resume and args.overwrite:
        parser.error("--resume and --overwrite contradict each other: continue the run, or start it afresh")
    if args.resume:
        if not (args.out / RUN_FILES[0]).is_file():
            parser.error(f"--resume: there is no checkpoint {args.out / RUN_FILES[0]} to continue from")
        return
    earlier = [name for name in RUN_FILES if (args.out / name).exists()]
    if earlier and not args.overwrite:
        parser.error(f"--out: {args.out} holds an earlier run ({', '.join(earlier)}); pass --resume to continue it "
                     "or --overwrite to replace it")


def build_head(args: argparse.Namespace) -> CodeQueryHead:
    backbone = load_backbone(args)
    ablation = Ablation(**{name: not getattr(args, f"no_{name}") for name in ABLATION_HELP})
    return CodeQueryHead(backbone, codebook=load_bundle(args.codebook), ablation=ablation,
                         freeze_backbone=args.freeze_backbone, grid=args.grid or None,
                         code_temperature=PAPER_CODE_TEMPERATURE if args.paper_loss else args.code_temperature,
                         code_gradient=args.code_gradient)


def load_clips(args: argparse.Namespace, head: CodeQueryHead) -> tuple[ClipSet, ClipSet]:
    if args.cache is None:
        size = args.size or head.adapter.frame_size or DEFAULT_FRAME_SIZE
        config = SyntheticVideoConfig(frames=head.config.window, size=size, fs=head.config.fs, noise_std=args.noise,
                                      motion_px=args.motion, illumination_drift=args.drift, seed=args.seed)
        return (synthetic_clips(args.train_clips, config),
                synthetic_clips(args.val_clips, dataclasses.replace(config, seed=args.seed + 1)))
    if args.fs is None:
        raise ValueError("--cache: rPPG-Toolbox caches do not record their frame rate; pass --fs (e.g. --fs 30)")
    train = toolbox_clips(args.cache, layout=args.layout, label_form=args.labels, fs=args.fs)
    if args.val_cache is not None:
        return train, toolbox_clips(args.val_cache, layout=args.layout, label_form=args.labels, fs=args.fs)
    return split_by_video(train, args.val_fraction, args.seed)


def training_config(args: argparse.Namespace, fs: float) -> Stage2TrainingConfig:
    return Stage2TrainingConfig(
        epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, weight_decay=args.weight_decay, alpha=args.alpha,
        beta=args.beta, seed=args.seed, select_by=args.select_by, checkpoint=args.out / RUN_FILES[0],
        best=args.out / RUN_FILES[1], history=args.out / RUN_FILES[2], progress=not args.no_progress,
        workers=args.workers, hr_band_hz=checked_hr_band(args.hr_band, fs), backbone_lr=args.backbone_lr,
        warmup_steps=args.warmup_steps, frozen_backbone_epochs=args.frozen_backbone_epochs, grad_clip=args.grad_clip,
        one_cycle=args.one_cycle,
    )


def format_epoch(summary: Stage2EpochSummary, epochs: int) -> str:
    val = summary.val
    return (
        f"  epoch {summary.epoch:2d}/{epochs}  loss {summary.loss:.4f} (phy {summary.physiological:.3f} "
        f"code {summary.code:.3f} code_ppg {summary.code_ppg:.3f} distill {summary.distill:.3f})  "
        f"val loss {summary.val_loss:.4f}  HR MAE {val['mae']:.2f} RMSE {val['rmse']:.2f} "
        f"r {format_undefined(val['pearson'], '.3f', PEARSON_UNDEFINED)} "
        f"SNR {val['snr_db']:.1f} dB over {val['videos']} videos"
        + (f" ({val['failed']} unmeasurable)" if val["failed"] else "")
        + f"  {summary.seconds:.1f} s" + ("  *best*" if summary.best else "")
        + (f"\n{'':14s}{format_diagnostics(summary.diagnostics)}" if summary.diagnostics else "")
    )


def format_diagnostics(values: dict[str, float]) -> str:
    """The code query's hit rate and the decoder's ceiling, beside the head's own figures."""
    return (f"codes: accuracy {values['code_accuracy']:.3f} (chance {values['chance']:.3f}), top-5 "
            f"{values['code_top5_accuracy']:.3f}, perplexity {values['predicted_perplexity']:.1f} predicted vs "
            f"{values['label_perplexity']:.1f} label  ceiling: label codes decoded HR MAE {values['oracle_mae']:.2f} "
            f"r {values['oracle_r']:.3f}, unquantised queries HR MAE {values['continuous_mae']:.2f} "
            f"r {values['continuous_r']:.3f}  shares of loss / backbone gradient: "
            + ", ".join(f"{term} {values[f'loss_share_{term}']:.0%}/{values[f'gradient_share_{term}']:.0%}"
                        for term in LOSS_SHARE_TERMS))


def run(args: argparse.Namespace, context: DistributedContext) -> int:
    torch.manual_seed(args.seed)
    head = build_head(args)
    config = training_config(args, head.config.fs)
    train, val = load_clips(args, head)
    say = print if context.is_main else (lambda *a, **k: None)
    say(f"Stage II: {args.backbone} via {type(head.adapter).__name__}, {len(train)} training / {len(val)} validation "
        f"clips of T={head.config.window} at {head.config.fs:g} Hz, "
        f"{'frozen' if args.freeze_backbone else 'fine-tuned'} backbone, {context.world_size} process(es); "
        f"validation HR by FFT peak in {config.hr_band_hz[0]:g}-{config.hr_band_hz[1]:g} Hz")
    if args.overwrite and context.is_main:
        replaced = [name for name in RUN_FILES if (args.out / name).exists()]
        for name in replaced:
            (args.out / name).unlink()
        if replaced:
            say(f"--overwrite: removed the earlier run's {', '.join(replaced)} from {args.out}")
    history = train_stage2(
        head, train, val, config, context=context, resume_from=config.checkpoint if args.resume else None,
        on_epoch=lambda summary: say(format_epoch(summary, config.epochs), flush=True),
    )
    if not context.is_main:
        return 0
    best = best_epoch(history)
    low, high = config.hr_band_hz
    say(f"best epoch {best.epoch}: validation HR MAE {best.val['mae']:.2f} bpm, RMSE {best.val['rmse']:.2f}, "
        f"r {format_undefined(best.val['pearson'], '.3f', PEARSON_UNDEFINED)} (HR band {low:g}-{high:g} Hz); "
        f"head weights in {config.best}, history in {args.out / RUN_FILES[2]}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.paper_loss and (args.alpha, args.beta) != (PHYSIOLOGICAL_WEIGHT, CODE_WEIGHT):
        parser.error("--paper-loss fixes α and β at the paper's values; drop --alpha/--beta or --paper-loss")
    if args.one_cycle and args.warmup_steps:
        parser.error("--one-cycle warms up by itself; drop --warmup-steps or --one-cycle")
    check_run_folder(parser, args)
    return run_in_process_group("codephys-train", lambda context: run(args, context), (ValueError, FileNotFoundError, ImportError, CheckpointError))


if __name__ == "__main__":
    sys.exit(main())
