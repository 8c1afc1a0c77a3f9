"""codephys-pretrain: Stage I, learn a codebook of noise-free PPG features.

With no input files it trains on the embedded synthetic PPG and reports how well held-out synthetic
recordings are reconstructed through the codebook.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass

import numpy as np
import torch

from codephys_plugin.autoencoder import AutoencoderConfig, SignalAutoencoder
from codephys_plugin.data.synthetic_ppg import SyntheticPPGConfig, synthesize_recordings
from codephys_plugin.encoder.signal_encoder import SignalCoderConfig
from codephys_plugin.query.codebook import CodebookConfig
from codephys_plugin.training.reconstruction_report import ReconstructionReport, evaluate_reconstruction
from codephys_plugin.training.stage1 import EpochSummary, Stage1TrainingConfig, train_stage1
from codephys_plugin.training.windows import WindowConfig, cut_windows, filter_recording


@dataclass(frozen=True)
class SyntheticSplit:
    train_recordings: int = 48
    val_recordings: int = 16
    duration_s: float = 30.0
    noise_std: float = 0.0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="codephys-pretrain",
        description="Stage I of CodePhys: pretrain a codebook of PPG features (synthetic PPG by default).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    model = parser.add_argument_group("codebook and autoencoder")
    model.add_argument("--num-codes", type=int, default=64, help="codebook size N")
    model.add_argument("--dim", type=int, default=64, help="code dimension D")
    model.add_argument("--update", choices=["gradient", "ema"], default="ema",
                       help="how codes are learned: EMA reconstructed held-out PPG better than gradient (GLO) here")
    model.add_argument("--kmeans-init", action=argparse.BooleanOptionalAction, default=True,
                       help="initialise the codes by k-means on the first batch of tokens")
    model.add_argument("--dead-code-steps", type=int, default=50,
                       help="re-seed codes unused for this many steps (0 disables)")
    data = parser.add_argument_group("windows")
    data.add_argument("--fs", type=float, default=30.0, help="sampling rate the model works at (Hz)")
    data.add_argument("--window", type=int, default=160, help="window length T in samples (multiple of 4)")
    data.add_argument("--hop", type=int, default=40, help="hop between training windows in samples")
    synthetic = parser.add_argument_group("synthetic data")
    synthetic.add_argument("--train-recordings", type=int, default=SyntheticSplit.train_recordings)
    synthetic.add_argument("--val-recordings", type=int, default=SyntheticSplit.val_recordings)
    synthetic.add_argument("--duration", type=float, default=SyntheticSplit.duration_s, help="seconds per recording")
    synthetic.add_argument("--noise", type=float, default=SyntheticSplit.noise_std, help="white-noise std")
    train = parser.add_argument_group("training")
    train.add_argument("--epochs", type=int, default=Stage1TrainingConfig.epochs)
    train.add_argument("--batch-size", type=int, default=Stage1TrainingConfig.batch_size)
    train.add_argument("--lr", type=float, default=Stage1TrainingConfig.lr)
    train.add_argument("--seed", type=int, default=0)
    return parser


def synthetic_recordings(args: argparse.Namespace, windows: WindowConfig) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Disjoint train and validation recordings (split by recording, never by window)."""
    config = SyntheticPPGConfig(fs=windows.fs, duration_s=args.duration, noise_std=args.noise)
    recordings = synthesize_recordings(args.train_recordings + args.val_recordings, config, seed=args.seed)
    filtered = [filter_recording(r.signal, windows, f"synthetic recording {i}") for i, r in enumerate(recordings)]
    return filtered[: args.train_recordings], filtered[args.train_recordings :]


def print_report(report: ReconstructionReport) -> None:
    hr = report.hr
    print(f"held-out reconstruction over {hr.n} recordings / {report.num_windows} windows:")
    print(f"  waveform Pearson r       {report.waveform_r:.4f}")
    print(f"  HR MAE / RMSE / SD (bpm) {hr.mae:.3f} / {hr.rmse:.3f} / {hr.sd:.3f}")
    print(f"  HR Pearson r             {hr.pearson:.4f}")
    print(f"  codebook perplexity      {report.perplexity:.1f}, dead codes {report.dead_codes}")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    torch.manual_seed(args.seed)
    windows = WindowConfig(fs=args.fs, window=args.window, hop=args.hop)
    train_recordings, val_recordings = synthetic_recordings(args, windows)
    train_windows = torch.as_tensor(np.concatenate([cut_windows(r, windows) for r in train_recordings]),
                                    dtype=torch.float32)
    model = SignalAutoencoder(
        AutoencoderConfig(
            coder=SignalCoderConfig(dim=args.dim),
            codebook=CodebookConfig(
                num_codes=args.num_codes,
                dim=args.dim,
                update=args.update,
                kmeans_init=args.kmeans_init,
                dead_code_steps=args.dead_code_steps,
            ),
        )
    )
    training = Stage1TrainingConfig(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, seed=args.seed)
    print(f"Stage I on synthetic PPG: {len(train_recordings)} train / {len(val_recordings)} held-out recordings, "
          f"{train_windows.shape[0]} windows of T={args.window} at {args.fs:g} Hz, codebook {args.num_codes}x{args.dim}")
    started = time.perf_counter()

    def log(summary: EpochSummary) -> None:
        print(f"  epoch {summary.epoch:2d}/{training.epochs}  L_code {summary.loss:.4f}  "
              f"L_rec {summary.reconstruction:.4f}  L_feat {summary.feature:.4f}", flush=True)

    train_stage1(model, train_windows, training, on_epoch=log)
    print(f"trained in {time.perf_counter() - started:.1f} s")
    print_report(evaluate_reconstruction(model, val_recordings, windows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
