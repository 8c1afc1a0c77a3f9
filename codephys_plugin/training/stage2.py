"""Stage II training loop: CodeQueryHead on video clips, validated every epoch with the toolbox's protocol."""

from __future__ import annotations

import math
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, NamedTuple

import torch
import torch.distributed as dist
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader

from codephys_plugin._atomic import write_atomically
from codephys_plugin._json import strict_json
from codephys_plugin.code_query_head import CodeQueryHead, Stage2Loss, to_label_form
from codephys_plugin.data.clip_sets import ClipSet, collate, network_inputs
from codephys_plugin.heart_rate.estimate import check_hr_window
from codephys_plugin.heart_rate.videos import Chunk, VideoReport, evaluate_videos
from codephys_plugin.losses.stage2 import CODE_WEIGHT, PHYSIOLOGICAL_WEIGHT
from codephys_plugin.rppg.filters import DEFAULT_HIGH_HZ, DEFAULT_LOW_HZ
from codephys_plugin.training.batches import epoch_batches, progress
from codephys_plugin.training.code_diagnostics import CodeTally, ValidationDiagnostics
from codephys_plugin.training.checkpoint import (
    load_checkpoint,
    restore_training_state,
    save_checkpoint,
    training_state,
)
from codephys_plugin.training.distributed import DistributedContext
from codephys_plugin.training.fingerprint import structure_digest, tensors_digest
from codephys_plugin.training.head_weights import save_head_weights
from codephys_plugin.training.loss_shares import loss_shares
from codephys_plugin.training.optimization import Schedule, clip_gradients, parameter_groups, set_rates
from codephys_plugin.training.selection import SELECTION_RULES, SelectBy, beats_best, best_epoch

LOSS_TERMS = ("loss", "physiological", "code", "code_ppg", "distill")


@dataclass(frozen=True)
class Stage2TrainingConfig:
    """The paper's Stage II: Adam with lr 1e-4 and weight decay 5e-5, batch 4, 20 epochs, α = 2 and β = 0.1
    in Eq. 16. Under DDP `batch_size` is per process. The best epoch is the one with the lowest validation
    HR MAE (ties and unmeasurable epochs go by validation loss), or the lowest loss with select_by="loss"."""

    epochs: int = 20
    batch_size: int = 4
    lr: float = 1e-4
    weight_decay: float = 5e-5
    alpha: float = PHYSIOLOGICAL_WEIGHT
    beta: float = CODE_WEIGHT
    seed: int = 0
    select_by: SelectBy = "mae"
    checkpoint: Path | None = None
    """Resumable training state, written after every epoch."""
    best: Path | None = None
    """The best epoch's head weights (safetensors), rewritten whenever an epoch beats it."""
    history: Path | None = None
    """Every epoch's summary so far (strict JSON), rewritten atomically after every epoch."""
    progress: bool = False
    workers: int = 0
    """DataLoader worker processes reading or synthesising clips."""
    hr_band_hz: tuple[float, float] = (DEFAULT_LOW_HZ, DEFAULT_HIGH_HZ)
    """Validation looks for each video's HR in this band (the toolbox's post-processing band-passes it)."""
    backbone_lr: float | None = None
    warmup_steps: int = 0
    frozen_backbone_epochs: int = 0
    grad_clip: float | None = None
    one_cycle: bool = False
    """See `Schedule`: the backbone's own rate, a linear warm-up, a frozen-backbone warm start, clipping,
    the one-cycle shape."""

    @property
    def schedule(self) -> Schedule:
        return Schedule(lr=self.lr, backbone_lr=self.backbone_lr, warmup_steps=self.warmup_steps,
                        frozen_backbone_epochs=self.frozen_backbone_epochs, grad_clip=self.grad_clip,
                        one_cycle=self.one_cycle)

    def __post_init__(self) -> None:
        self.schedule
        if self.epochs < 1 or self.batch_size < 1 or self.lr <= 0 or self.weight_decay < 0 or self.workers < 0:
            raise ValueError(f"invalid Stage II training config: {self}")
        low, high = self.hr_band_hz
        if not (math.isfinite(low) and math.isfinite(high) and 0 < low < high):
            raise ValueError(f"hr_band_hz: expected 0 < low < high in Hz, got {self.hr_band_hz}")
        if self.select_by not in SELECTION_RULES:
            raise ValueError(f"select_by: expected one of {sorted(SELECTION_RULES)}, got {self.select_by!r}")


@dataclass(frozen=True)
class Stage2EpochSummary:
    """Mean training losses (Eq. 16 and its terms), the validation loss and the per-video validation metrics."""

    epoch: int
    loss: float
    physiological: float
    code: float
    code_ppg: float
    distill: float
    val_loss: float
    val: dict[str, float] = field(default_factory=dict)
    diagnostics: dict[str, float] = field(default_factory=dict)
    """Code accuracy, perplexities and the decoder's ceiling on the validation clips (see code_diagnostics)."""
    seconds: float = 0.0
    best: bool = False
    hr_band_hz: tuple[float, float] = (DEFAULT_LOW_HZ, DEFAULT_HIGH_HZ)
    """The band the validation HRs were looked for in."""


class TrainingStep(nn.Module):
    """The head's forward and its Eq. 16 loss in one call, so DistributedDataParallel sees every use of the
    weights (the E_ppg branch runs inside the loss)."""

    def __init__(self, head: CodeQueryHead, *, label_form: str, alpha: float, beta: float) -> None:
        super().__init__()
        self.head, self.label_form, self.alpha, self.beta = head, label_form, alpha, beta

    def forward(self, inputs: Tensor, ppg: Tensor) -> Stage2Loss:
        output = self.head(inputs)
        return self.head.loss(output, ppg, label_form=self.label_form, alpha=self.alpha, beta=self.beta)


class Validation(NamedTuple):
    loss: float
    """Mean Eq. 16 loss."""
    report: VideoReport
    diagnostics: dict[str, float]


@torch.no_grad()
def validate(head: CodeQueryHead, clips: ClipSet, config: Stage2TrainingConfig, device: torch.device) -> Validation:
    """Mean Eq. 16 loss over `clips`, the toolbox's per-video evaluation of the head's rPPG, and the code diagnostics.

    Predictions stay in the bundle's label form and labels are brought to it, so a DiffNormalized bundle
    is evaluated as the toolbox evaluates DiffNormalized outputs (integrated before the FFT)."""
    was_training = head.training
    head.eval()
    loader = DataLoader(clips.dataset, batch_size=config.batch_size, collate_fn=collate, num_workers=config.workers)
    diagnostics = ValidationDiagnostics(CodeTally(head.codebook.num_codes))
    chunks, total, start, first_batch = [], 0.0, 0, None
    for frames, ppg in loader:
        inputs, ppg = network_inputs(head.adapter, frames.to(device), clips.prepared), ppg.to(device)
        if first_batch is None:
            first_batch = inputs, ppg
        output = head(inputs)
        losses = head.loss(output, ppg, label_form=clips.label_form, alpha=config.alpha, beta=config.beta)
        total += float(losses.total) * ppg.shape[0]
        labels = to_label_form(ppg.float(), clips.label_form, head.label_form)
        videos, indices = clips.videos[start:start + ppg.shape[0]], clips.chunks[start:start + ppg.shape[0]]
        diagnostics.add(head, output, labels, list(videos), list(indices))
        chunks += [Chunk(video, index, prediction, label) for video, index, prediction, label
                   in zip(videos, indices, output.rppg.cpu().numpy(), labels.cpu().numpy())]
        start += ppg.shape[0]
    head.train(was_training)
    derivative = head.label_form == "derivative"
    low, high = config.hr_band_hz
    report = evaluate_videos(chunks, clips.fs, diff_normalized=derivative, low=low, high=high)
    values = diagnostics.summary(clips.fs, diff_normalized=derivative, band=config.hr_band_hz)
    values.update(loss_shares(head, *first_batch, label_form=clips.label_form, alpha=config.alpha, beta=config.beta))
    return Validation(total / len(clips), report, values)


def check_clip_length(head: CodeQueryHead, clips: ClipSet, name: str) -> None:
    """Every clip must span at least the bundle's window (longer ones are windowed inside the head);
    checked on the first item before any training."""
    length = clips.clip_length()
    if length < head.config.window:
        raise ValueError(
            f"{name} clips have {length} samples but the codebook bundle was learned on {head.config.window}-sample "
            f"windows; cut clips of at least {head.config.window} frames (toolbox CHUNK_LENGTH) or pretrain a "
            "matching bundle"
        )
    if abs(clips.fs - head.config.fs) > 1e-6:
        raise ValueError(f"{name} clips are at {clips.fs} Hz but the codebook bundle was learned at {head.config.fs} Hz")


def check_measurable_videos(val: ClipSet, config: Stage2TrainingConfig) -> None:
    """Choosing the best epoch by HR MAE needs validation videos long enough for an FFT heart rate."""
    if config.select_by != "mae":
        return
    chunks_per_video = Counter(val.videos)
    video, chunks = min(chunks_per_video.items(), key=lambda item: item[1])
    try:
        check_hr_window(chunks * val.clip_length(), val.fs, config.hr_band_hz[0], name=f"validation video {video}")
    except ValueError as error:
        raise ValueError(f"--select-by mae: {error}; validate on longer clips or videos, or choose the best epoch "
                         "with --select-by loss") from None


def train_stage2(
    head: CodeQueryHead,
    train: ClipSet,
    val: ClipSet | None,
    config: Stage2TrainingConfig = Stage2TrainingConfig(),
    *,
    context: DistributedContext | None = None,
    resume_from: Path | None = None,
    on_epoch: Callable[[Stage2EpochSummary], None] | None = None,
) -> list[Stage2EpochSummary]:
    """Train `head` on `train`, validate on `val` after every epoch (main process), keep the best epoch.
    Without `val` nothing is validated and the best epoch is the one with the lowest training loss.

    Every rank passes the same clips and takes its own slice of each global batch. A run resumed from
    its checkpoint continues with the same data order and random draws as an uninterrupted one. Without a
    `context` it is one process on the head's own device (a head moved to CUDA trains there).
    """
    if context is None:
        context = DistributedContext.alone_with(head)
    check_clip_length(head, train, "training")
    if val is not None:
        check_clip_length(head, val, "validation")
        check_measurable_videos(val, config)
    head.to(context.device)
    step = TrainingStep(head, label_form=train.label_form, alpha=config.alpha, beta=config.beta)
    network = _distributed(step, context) if context.active else step
    schedule = config.schedule
    optimizer = torch.optim.Adam(parameter_groups(head), lr=config.lr, weight_decay=config.weight_decay)
    trainable = [p for p in head.parameters() if p.requires_grad]
    order_rng = torch.Generator().manual_seed(config.seed)
    history: list[Stage2EpochSummary] = []
    settings = _settings(config, head, train, val)
    if resume_from is not None and Path(resume_from).exists():
        saved = restore_training_state(load_checkpoint(resume_from), model=head, optimizer=optimizer,
                                       order_rng=order_rng, settings=settings)
        history = [Stage2EpochSummary(**summary) for summary in saved]
    for epoch in range(len(history), config.epochs):
        started = time.perf_counter()
        head.train()
        if schedule.backbone_frozen(epoch):
            head.adapter.eval()
        batches = epoch_batches(len(train), config.batch_size, context, order_rng)
        loader = DataLoader(train.dataset, batch_sampler=[b.tolist() for b in batches], collate_fn=collate,
                            num_workers=config.workers)
        bar = progress(loader, enabled=config.progress and context.is_main, total=len(batches),
                       description=f"epoch {epoch + 1}/{config.epochs}")
        totals = torch.zeros(len(LOSS_TERMS))
        for index, (frames, ppg) in enumerate(bar):
            frames, ppg = frames.to(context.device), ppg.to(context.device)
            set_rates(optimizer, schedule.rates(epoch * len(batches) + index, epoch, config.epochs * len(batches)))
            losses = network(network_inputs(head.adapter, frames, train.prepared), ppg)
            optimizer.zero_grad(set_to_none=True)
            losses.total.backward()
            clip_gradients(trainable, schedule.grad_clip)
            optimizer.step()
            totals += torch.stack([loss.detach().float().cpu() for loss in losses])
        if context.active:
            _broadcast_buffers(head)
        if context.is_main:
            summary = _summarise(epoch + 1, totals / len(batches), head, val, config, history, started)
            history.append(summary)
            if summary.best and config.best is not None:
                save_head_weights(config.best, head, _best_metadata(summary, config))
            if config.checkpoint is not None:
                state = training_state(model=head, optimizer=optimizer, order_rng=order_rng, history=history,
                                       settings=settings)
                save_checkpoint(config.checkpoint, state)
            if config.history is not None:
                write_history(config.history, history)
            if on_epoch is not None:
                on_epoch(summary)
        else:
            history.append(Stage2EpochSummary(epoch + 1, *(totals / len(batches)).tolist(), val_loss=math.nan))
        if context.active:
            dist.barrier()
    head.eval()
    return history


def write_history(path: Path, history: list) -> None:
    """Epoch summaries (dataclasses) as strict JSON, atomically."""
    payload = strict_json([asdict(summary) for summary in history], indent=2).encode()
    write_atomically(path, lambda stream: stream.write(payload))


def _distributed(step: TrainingStep, context: DistributedContext) -> DistributedDataParallel:
    """find_unused_parameters: a hooked layer's successors (HookAdapter) get no gradient and must not be awaited."""
    device_ids = [context.device.index] if context.device.type == "cuda" else None
    return DistributedDataParallel(step, device_ids=device_ids, find_unused_parameters=True)


def _broadcast_buffers(head: CodeQueryHead) -> None:
    """DDP shares rank 0's buffers at the start of each forward; the last step's batch-norm statistics
    still differ per rank, so share them once more: every rank then holds the model rank 0 validates."""
    for buffer in head.buffers():
        dist.broadcast(buffer, src=0)


def _summarise(epoch, means, head, val, config, history, started) -> Stage2EpochSummary:
    if val is None:
        previous = best_epoch(history)
        is_best = previous is None or float(means[0]) < previous.loss
        return Stage2EpochSummary(epoch, *means.tolist(), val_loss=math.nan, seconds=time.perf_counter() - started,
                                  best=is_best, hr_band_hz=config.hr_band_hz)
    val_loss, report, diagnostics = validate(head, val, config, next(head.parameters()).device)
    values = report.summary()
    is_best = beats_best(val_loss, values, history, config.select_by)
    return Stage2EpochSummary(epoch, *means.tolist(), val_loss=val_loss, val=values, diagnostics=diagnostics,
                              seconds=time.perf_counter() - started, best=is_best, hr_band_hz=config.hr_band_hz)


def _best_metadata(summary: Stage2EpochSummary, config: Stage2TrainingConfig) -> dict[str, str]:
    return {"codephys_stage2_epoch": str(summary.epoch), "codephys_stage2_summary": strict_json(asdict(summary)),
            "codephys_stage2_select_by": config.select_by}


def _settings(config: Stage2TrainingConfig, head: CodeQueryHead, train: ClipSet, val: ClipSet | None) -> dict:
    """The settings a checkpoint must share with the run that resumes it: the schedule, the head's
    structure (backbone, codebook size, ablations), its code query (τ, gradient rule, windows), the frozen
    Stage I codes and decoder, and digests of the training and validation clips."""
    return {"epochs": config.epochs, "batch_size": config.batch_size, "lr": config.lr,
            "weight_decay": config.weight_decay, "alpha": config.alpha, "beta": config.beta, "seed": config.seed,
            "select_by": config.select_by, "hr_band_hz": list(config.hr_band_hz),
            "backbone_lr": config.backbone_lr, "warmup_steps": config.warmup_steps,
            "frozen_backbone_epochs": config.frozen_backbone_epochs, "grad_clip": config.grad_clip,
            "one_cycle": config.one_cycle,
            "head structure": f"{type(head.adapter).__name__} {structure_digest(head)}",
            "code query": f"τ {head.code_temperature}, {head.code_gradient} gradient, windows of "
                          f"{head.windows.window} every {head.windows.hop}",
            "codebook": tensors_digest([*head.codebook.state_dict().values(), *head.decoder.state_dict().values()]),
            "training clips": f"{len(train)} clips, {train.fingerprint()}",
            "validation clips": "none" if val is None else f"{len(val)} clips, {val.fingerprint()}"}
