"""CodeQueryHead: any adapted rPPG network gains CodePhys's code-query stage (Section III-B, Eqs. 7-16).

    video features (adapter) -> 1×1 projection to D -> SAM (Eq. 7) -> E_vf (Eq. 8) ─┐
                                                   └-> APB: pseudo-signal -> E_s' ──┴-> AdaIN + sum (Eqs. 9-10)
    -> nearest code of the frozen Stage I codebook -> frozen decoder D_s -> rPPG (Eq. 11)

Clips longer than the bundle's window are windowed after the backbone (`TimeWindows`): each window is
encoded, quantised and decoded on its own and the decoded windows are overlap-added.

The adapter's features have any width c, so a pointwise projection to the codebook's D comes first (in
CodePhys E_v's last conv already gives D). The codebook and D_s are frozen and stay in eval mode; the
bundle's E_s is kept frozen as the target encoder that gives the label's code indices (Q_gt).
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
from einops import rearrange, reduce
from torch import Tensor, nn

from codephys_plugin._checks import check_sampling_rate, check_tensor, weights_dtype
from codephys_plugin.adapters import Adapter, FeatureMap, adapter_for
from codephys_plugin.autoencoder import SignalAutoencoder
from codephys_plugin.bundle import Bundle, load_bundle
from codephys_plugin.encoder.prior_branch import AuxiliaryPriorBranch, fuse, zscore
from codephys_plugin.encoder.signal_encoder import TOKEN_STRIDE
from codephys_plugin.encoder.time_windows import TimeWindows
from codephys_plugin.encoder.video_encoder import VideoEncoder, VideoEncoderConfig
from codephys_plugin.features.spatial_attention import SpatialAttention
from codephys_plugin.heart_rate.estimate import hr_fft, prepare_for_hr
from codephys_plugin.rppg.filters import detrend, integrate
from codephys_plugin.losses.stage2 import (
    CODE_WEIGHT,
    PHYSIOLOGICAL_WEIGHT,
    code_query_loss,
    overall_loss,
    physiological_loss,
    soft_feature_distillation,
)
from codephys_plugin.query.code_gradient import CodeGradient, check_code_gradient, with_code_gradient

LabelForm = str  # "waveform" or "derivative", as in the bundle's config
PAPER_CODE_TEMPERATURE = 1.0
"""τ of −‖z − c‖²/τ as Eqs. 14-15 are written (no temperature)."""


@dataclass(frozen=True)
class Ablation:
    """The switches of the paper's Table V; all on is CodePhys.

    code_query: off decodes the tokens directly (no quantisation, and no code-level losses).
    prior_branch: off uses E_vf's tokens alone (no APB, no AdaIN).
    feature_distillation: off drops E_ppg, L_distill and L_code'^ppg.
    spatial_attention: off feeds the projected features to E_vf unweighted.
    stage1: off replaces the bundle's weights by a random initialisation of the same shapes (still frozen).
    """

    code_query: bool = True
    prior_branch: bool = True
    feature_distillation: bool = True
    spatial_attention: bool = True
    stage1: bool = True


@dataclass
class CodeQueryOutput:
    """rppg 'b t' (in the bundle's label form), indices 'b m', logits 'b m n', tokens and quantized 'b m d',
    features (the adapter's FeatureMap), video_features 'b d t h w' or 'b d t' (F_v^sa), attention 'b h w'.
    A clip longer than the bundle's window has m = k · window/4 tokens: its k windows' tokens in time order."""

    rppg: Tensor
    indices: Tensor
    logits: Tensor
    tokens: Tensor
    quantized: Tensor
    features: FeatureMap
    video_features: Tensor
    attention: Tensor | None


class Stage2Loss(NamedTuple):
    total: Tensor
    physiological: Tensor
    code: Tensor
    code_ppg: Tensor
    distill: Tensor


class Prediction(NamedTuple):
    """waveform 'b t' (band-passed pulse waveform at the bundle's rate) and heart rate per clip in bpm;
    a clip whose HR cannot be measured (too short, no pulse) has NaN there and the reason in `hr_problems`."""

    waveform: np.ndarray
    hr_bpm: np.ndarray
    hr_problems: tuple[str | None, ...]


def _measured_hr(waveform: np.ndarray, fs: float, still: bool) -> tuple[float, str | None]:
    """A clip's HR, or NaN and why: frames that never change carry no pulse, whatever the network outputs."""
    if still:
        return math.nan, "the frames do not change over the clip, so there is no pulse to measure"
    try:
        return hr_fft(waveform, fs), None
    except ValueError as problem:
        return math.nan, str(problem)


@torch.no_grad()
def to_label_form(ppg: Tensor, source: LabelForm, target: LabelForm) -> Tensor:
    """'b t' labels from `source` to `target` form, z-scored per clip as Stage I's windows were.

    Derivative (DiffNormalized) labels are integrated and detrended as the toolbox evaluates them
    (cumulative sum, smoothness-priors detrend λ=100); waveforms are differenced with a trailing zero,
    as the toolbox's DiffNormalized labels are. Labels carry no gradient.
    """
    for form in (source, target):
        if form not in ("waveform", "derivative"):
            raise ValueError(f"label form: expected 'waveform' or 'derivative', got {form!r}")
    if source == "derivative" and target == "waveform":
        waveform = detrend(integrate(ppg.detach().double().cpu().numpy()))
        ppg = torch.as_tensor(waveform, dtype=ppg.dtype, device=ppg.device)
    elif source == "waveform" and target == "derivative":
        ppg = torch.nn.functional.pad(torch.diff(ppg, dim=-1), (0, 1))
    return zscore(ppg)


class CodeQueryHead(nn.Module):
    """`CodeQueryHead(backbone, codebook=bundle)`: backbone features -> query tokens -> codes -> rPPG.

    backbone: a network `adapter_for` knows, or an `Adapter` (HookAdapter, SignalAdapter, ...).
    codebook: a Stage I bundle (`Bundle` or a path to one).
    freeze_backbone: keep the backbone's weights fixed (and in eval mode) instead of fine-tuning them.
        The backbone's own head never runs here, so its weights are frozen either way (an optimiser
        or DDP would otherwise wait for gradients that never come).
    grid: E_vf averages feature maps down to at most grid × grid positions (None: the full map); SAM
        and SFD see the full map.
    code_temperature: τ of the code logits −‖z − c‖²/τ in L_code' (Eqs. 14-15); None keeps the bundle's
        (1, the paper's). A larger τ softens the cross-entropy, which is 100-300 at τ = 1, but PhysNet from
        scratch learned later with τ = 64 than with τ = 1 (README, "Does a wrapped network learn?").
    code_gradient: how L_phy's gradient reaches the tokens through the nearest-code lookup: "nearest"
        (the paper's straight-through copy) or "soft" (through the softmax mix of the codes; see
        `query.code_gradient` for why).
    window_hop: clips longer than the bundle's window are cut into windows this many samples apart
        (a multiple of 4; default: half the window, rounded down to one) whose decoded outputs are overlap-added.
    """

    def __init__(
        self,
        backbone: nn.Module,
        *,
        codebook: Bundle | str | Path,
        ablation: Ablation = Ablation(),
        freeze_backbone: bool = False,
        grid: int | None = VideoEncoderConfig.grid,
        code_temperature: float | None = None,
        window_hop: int | None = None,
        code_gradient: CodeGradient = "nearest",
    ) -> None:
        super().__init__()
        bundle = codebook if isinstance(codebook, Bundle) else load_bundle(codebook)
        self.config, self.ablation, self.freeze_backbone = bundle.config, ablation, freeze_backbone
        if code_temperature is not None and not code_temperature > 0:
            raise ValueError(f"CodeQueryHead: code_temperature must be positive, got {code_temperature}")
        self.code_temperature = code_temperature
        self.code_gradient = check_code_gradient(code_gradient)
        window = bundle.config.window
        self.windows = TimeWindows(window=window, hop=window_hop) if window_hop else TimeWindows.half_overlapping(window)
        self.adapter: Adapter = adapter_for(backbone)
        self.windows.check_steps_multiple(self.adapter.steps_multiple, type(self.adapter.model).__name__)
        prior = bundle.model if ablation.stage1 else SignalAutoencoder(bundle.config.autoencoder)
        dim = prior.config.coder.dim
        channels, spatial = self.adapter.feature_channels, self.adapter.has_spatial
        reduction = self._time_reduction()
        self.project = (nn.Conv3d if spatial else nn.Conv1d)(channels, dim, kernel_size=1)
        self.attention = SpatialAttention(dim) if spatial and ablation.spatial_attention else None
        self.video_encoder = VideoEncoder(VideoEncoderConfig(channels=dim, dim=dim, time_reduction=reduction, grid=grid,
                                                             spatial=spatial))
        self.prior_branch = (
            AuxiliaryPriorBranch(dim, prior.encoder, time_reduction=reduction) if ablation.prior_branch else None
        )
        self.ppg_features = copy.deepcopy(prior.encoder.features) if ablation.feature_distillation else None
        self.codebook = copy.deepcopy(prior.codebook).freeze().requires_grad_(False)
        self.decoder = copy.deepcopy(prior.decoder).requires_grad_(False)
        self.target_encoder = copy.deepcopy(prior.encoder).requires_grad_(False)
        if freeze_backbone:
            self.adapter.requires_grad_(False)
        for name in self.adapter.head_modules:
            self.adapter.model.get_submodule(name).requires_grad_(False)
        self.train()

    def _time_reduction(self) -> int:
        stride = self.adapter.time_stride
        if TOKEN_STRIDE % stride:
            raise ValueError(f"CodeQueryHead: features every {stride} frames cannot give one token per {TOKEN_STRIDE}")
        return TOKEN_STRIDE // stride

    def train(self, mode: bool = True) -> CodeQueryHead:
        """The frozen Stage I parts (and a frozen backbone) stay in eval mode whatever `mode` is."""
        super().train(mode)
        for frozen in (self.codebook, self.decoder, self.target_encoder):
            frozen.eval()
        if self.freeze_backbone:
            self.adapter.eval()
        return self

    @property
    def label_form(self) -> LabelForm:
        return self.config.label_form

    def encode(self, video_features: Tensor) -> Tensor:
        """E_vf, then (with the APB) AdaIN towards and sum with the prior branch: 'b d t (h w)' -> 'b m d'."""
        tokens = self.video_encoder(video_features)
        if self.prior_branch is not None:
            tokens = fuse(tokens, self.prior_branch(video_features)[0])
        return rearrange(tokens, "b d m -> b m d")

    def query(self, tokens: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """(quantized 'b m d', the nearest codes with `code_gradient`'s gradients, indices 'b m', logits 'b m n')."""
        logits = self.codebook.logits(tokens, temperature=self.code_temperature)
        if not self.ablation.code_query:
            return tokens, logits.argmax(dim=-1), logits
        nearest = self.codebook(tokens)
        quantized = with_code_gradient(tokens, nearest.quantized, logits, self.codebook.codes, self.code_gradient)
        return quantized, nearest.indices, logits

    def forward(self, inputs: Tensor) -> CodeQueryOutput:
        """`inputs` in the adapter's `input_layout` (see `adapter.prepare`) -> CodeQueryOutput; floating
        inputs of another dtype (float64 from numpy) are cast to the weights' dtype."""
        if inputs.is_floating_point():
            inputs = inputs.to(weights_dtype(self))
        features = self.adapter(inputs)
        source = features.spatial if features.spatial is not None else features.temporal
        video_features = self.project(source)
        attention = None
        if self.attention is not None:
            video_features, attention = self.attention(video_features)
        length = self._clip_samples(video_features)
        self._check_length(length)
        tokens = self._encode_windows(video_features, length)
        quantized, indices, logits = self.query(tokens)
        return CodeQueryOutput(
            rppg=self.decode(quantized, length),
            indices=indices,
            logits=logits,
            tokens=tokens,
            quantized=quantized,
            features=features,
            video_features=video_features,
            attention=attention,
        )

    def _check_length(self, samples: int) -> None:
        """The codes describe windows of the bundle's length; a shorter clip cannot hold one."""
        if samples < self.config.window:
            raise ValueError(
                f"CodeQueryHead: the codebook bundle was learned on {self.config.window}-sample windows at "
                f"{self.config.fs} Hz, but these clips give {samples} samples; use clips of at least "
                f"{self.config.window} frames (longer ones are windowed) or pretrain a bundle with a matching window"
            )

    def _clip_samples(self, features: Tensor) -> int:
        """Samples of the clip that features 'b c t ...' at the adapter's time stride cover."""
        return features.shape[2] * self.adapter.time_stride

    def _encode_windows(self, features: Tensor, length: int) -> Tensor:
        """`encode` on each window of the features of clips of `length` samples -> 'b (k m) d'."""
        return self.windows.to_clips(self.encode(self.windows.split(features, length)), length)

    def decode(self, tokens: Tensor, length: int) -> Tensor:
        """Codes (or unquantised tokens) 'b m d' of clips of `length` samples -> their rPPG 'b t', the
        windows decoded one by one and overlap-added."""
        return self.windows.join(self.decoder(self.windows.to_windows(tokens, length)), length)

    def label_codes(self, label: Tensor) -> Tensor:
        """Q_gt's indices 'b m' for labels 'b t' in the bundle's form: E_s and the nearest code per window,
        each window z-scored as Stage I's were."""
        length = label.shape[1]
        windows = zscore(self.windows.split(label[:, None], length)[:, 0])
        return self.windows.to_clips(self.codebook(self.target_encoder(windows)).indices, length)

    def _check_label(self, output: CodeQueryOutput, ppg: Tensor, label_form: LabelForm | None) -> Tensor:
        check_tensor(ppg, "ppg label", "b t", sizes={"b": output.rppg.shape[0], "t": output.rppg.shape[1]})
        precision = torch.promote_types(output.rppg.dtype, torch.float32)  # fp32 at least; fp64 for an fp64 head
        return to_label_form(ppg.to(precision), label_form or self.label_form, self.label_form)

    def _ppg_features(self, label: Tensor) -> Tensor:
        """E_ppg's features 'b d t' at the adapter's time stride: the SFD target (Eq. 12)."""
        ppg_features = self.ppg_features(label)
        stride = self.adapter.time_stride
        return reduce(ppg_features, "b d (t s) -> b d t", "mean", s=stride) if stride > 1 else ppg_features

    def _ppg_code_loss(self, ppg_features: Tensor, video_features: Tensor, target_indices: Tensor) -> Tensor:
        """L_code'^ppg (Eq. 15): E_ppg's features, spread over the video features' grid, through E_vf and the APB."""
        if video_features.dim() == 5:
            ppg_features = ppg_features[..., None, None].expand(-1, -1, -1, *video_features.shape[3:])
        tokens = self._encode_windows(ppg_features, self._clip_samples(ppg_features))
        quantized, _, logits = self.query(tokens)
        return code_query_loss(logits, target_indices, tokens, quantized)

    def loss(
        self,
        output: CodeQueryOutput,
        ppg: Tensor,
        *,
        label_form: LabelForm | None = None,
        alpha: float = PHYSIOLOGICAL_WEIGHT,
        beta: float = CODE_WEIGHT,
    ) -> Stage2Loss:
        """Eq. 16 for labels 'b t' (in `label_form`, by default the bundle's; converted if they differ).

        Without the code query there are no code-level terms; without SFD there is no E_ppg branch.
        """
        label = self._check_label(output, ppg, label_form)
        physiological = physiological_loss(output.rppg, label, self.config.fs)
        code = code_ppg = distill = physiological.new_zeros(())
        if self.ablation.code_query:
            with torch.no_grad():
                target_indices = self.label_codes(label)
            code = code_query_loss(output.logits, target_indices, output.tokens, output.quantized)
        if self.ppg_features is not None:
            ppg_features = self._ppg_features(label)
            distill = soft_feature_distillation(output.video_features, ppg_features)
            if self.ablation.code_query:
                code_ppg = self._ppg_code_loss(ppg_features, output.video_features, target_indices)
        total = overall_loss(physiological, code, code_ppg, distill, alpha=alpha, beta=beta)
        return Stage2Loss(total, physiological, code, code_ppg, distill)

    @torch.no_grad()
    def predict(self, frames: Tensor, fs: float) -> Prediction:
        """'b (t+1) 3 h w' raw RGB frames at `fs` Hz -> the pulse waveform and each clip's HR (FFT, 0.6-3.3 Hz),
        after the toolbox's post-processing (integration of derivative outputs, detrend, band-pass)."""
        fs = check_sampling_rate(fs)
        if abs(fs - self.config.fs) > 1e-6:
            raise ValueError(
                f"predict: frames at {fs} Hz, but the codebook was learned at {self.config.fs} Hz; "
                "resample the video to the codebook's rate"
            )
        was_training = self.training
        self.eval()
        try:
            rppg = self(self.adapter.prepare(frames)).rppg.double().cpu().numpy()
        finally:
            self.train(was_training)
        derivative = self.label_form == "derivative"
        waveforms = np.stack([prepare_for_hr(clip, fs, diff_normalized=derivative) for clip in rppg])
        still = (frames == frames[:, :1]).flatten(1).all(dim=1).tolist()
        rates, problems = zip(*(_measured_hr(clip, fs, frozen) for clip, frozen in zip(waveforms, still)))
        return Prediction(waveforms, np.array(rates), problems)
