"""CodeQueryHead on every adapter: forward/backward, frozen Stage I parts, ablations, labels, errors."""

from __future__ import annotations

import re
from dataclasses import replace

import numpy as np
import pytest
import torch
from torch import nn

from codephys_plugin.adapters import SSPD, DeepPhys, EfficientPhys, HookAdapter, PhysFormer, PhysNet, SignalAdapter
from codephys_plugin.autoencoder import AutoencoderConfig, SignalAutoencoder
from codephys_plugin.bundle import Bundle, BundleConfig
from codephys_plugin.code_query_head import Ablation, CodeQueryHead, to_label_form
from codephys_plugin.encoder.prior_branch import zscore
from codephys_plugin.rppg.stitch import stitch_windows
from codephys_plugin.encoder import SignalCoderConfig
from codephys_plugin.query import CodebookConfig
from codephys_plugin.training.windows import WindowConfig

STEPS = 20


def small_bundle(dim: int = 8, codes: int = 16, window: int = STEPS, label_form: str = "waveform") -> Bundle:
    autoencoder = AutoencoderConfig(coder=SignalCoderConfig(dim=dim), codebook=CodebookConfig(num_codes=codes, dim=dim))
    config = BundleConfig(autoencoder=autoencoder, windows=WindowConfig(fs=30.0, window=window, hop=window // 2))
    config = replace(config, label_form=label_form)
    return Bundle(SignalAutoencoder(autoencoder).eval(), config)


class TinyVideoNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv3d(3, 6, 3, padding=1), nn.Tanh())
        self.head = nn.Conv3d(6, 1, 1)

    def forward(self, x):
        return self.head(self.body(x)).mean(dim=(1, 3, 4))


def raw_frames(size: int, batch: int = 2) -> torch.Tensor:
    return 100 + 50 * torch.rand(batch, STEPS + 1, 3, size, size)


BACKBONES = {
    "deepphys": (lambda: DeepPhys(img_size=72), lambda head: head.adapter.prepare(raw_frames(72))),
    "efficientphys": (
        lambda: EfficientPhys(img_size=72, frame_depth=10), lambda head: head.adapter.prepare(raw_frames(72))
    ),
    "physformer": (lambda: PhysFormer(image_size=(STEPS, 128, 128)), lambda head: head.adapter.prepare(raw_frames(128, 1))),
    "physnet": (lambda: PhysNet(frames=STEPS), lambda head: head.adapter.prepare(raw_frames(32))),
    "sspd": (SSPD, lambda head: head.adapter.prepare(raw_frames(128, 1))),
    "hook": (lambda: HookAdapter(TinyVideoNet(), layer="body"), lambda head: torch.randn(2, 3, STEPS, 8, 8)),
    "signal": (lambda: SignalAdapter(TinyVideoNet()), lambda head: torch.randn(2, 3, STEPS, 8, 8)),
}


@pytest.mark.parametrize("name", sorted(BACKBONES))
def test_every_adapter_runs_forward_and_backward(name):
    build, inputs_for = BACKBONES[name]
    head = CodeQueryHead(build(), codebook=small_bundle())
    output = head(inputs_for(head))
    batch = output.rppg.shape[0]
    assert output.rppg.shape == (batch, STEPS)
    assert output.indices.shape == (batch, STEPS // 4) and output.logits.shape == (batch, STEPS // 4, 16)
    assert (output.attention is None) == (name == "signal")
    losses = head.loss(output, torch.randn(batch, STEPS))
    assert all(torch.isfinite(value) for value in losses)
    losses.total.backward()
    assert head.video_encoder.embed[0].time_mix.weight.grad is not None
    backbone_grads = [p.grad for p in head.adapter.parameters() if p.requires_grad]
    assert any(g is not None and g.abs().sum() > 0 for g in backbone_grads)
    trainable_without_gradient = [
        n for n, p in head.named_parameters() if p.requires_grad and (p.grad is None or not p.grad.abs().sum() > 0)
    ]
    skipped_by_the_hook = ("adapter.model.head.",) if name == "hook" else ()
    motion_filters = re.compile(r"video_encoder\.stages\.\d\.deform\.motion\.")  # zero until offsets leave zero
    unexplained = [n for n in trainable_without_gradient if not (motion_filters.match(n) or n.startswith(skipped_by_the_hook))]
    assert not unexplained
    own_head = [p for n in head.adapter.head_modules for p in head.adapter.model.get_submodule(n).parameters()]
    assert all(not p.requires_grad for p in own_head)


def test_quantized_tokens_are_always_codebook_rows():
    head = CodeQueryHead(PhysNet(frames=STEPS), codebook=small_bundle())
    output = head(torch.randn(3, 3, STEPS, 32, 32))
    torch.testing.assert_close(output.quantized, head.codebook.codes[output.indices])


def test_a_training_step_changes_the_encoder_but_not_the_codebook_or_decoder():
    head = CodeQueryHead(PhysNet(frames=STEPS), codebook=small_bundle())
    frozen = {k: v.clone() for k, v in head.state_dict().items() if k.split(".")[0] in ("codebook", "decoder", "target_encoder")}
    encoder_before = [p.clone() for p in head.video_encoder.parameters()]
    optimizer = torch.optim.Adam([p for p in head.parameters() if p.requires_grad], lr=1e-2)
    output = head(torch.randn(2, 3, STEPS, 32, 32))
    head.loss(output, torch.randn(2, STEPS)).total.backward()
    optimizer.step()
    for key, value in frozen.items():
        assert torch.equal(head.state_dict()[key], value), key
    assert any(not torch.equal(a, b) for a, b in zip(encoder_before, head.video_encoder.parameters()))
    assert not any(p.requires_grad for p in head.codebook.parameters())
    assert not head.decoder.training and not head.codebook.training


def test_ablation_switches_change_exactly_what_they_say():
    bundle = small_bundle()
    torch.manual_seed(0)
    full = CodeQueryHead(PhysNet(frames=STEPS), codebook=bundle)
    inputs, label = torch.randn(2, 3, STEPS, 32, 32), torch.randn(2, STEPS)

    no_cqp = CodeQueryHead(PhysNet(frames=STEPS), codebook=bundle, ablation=Ablation(code_query=False))
    output = no_cqp(inputs)
    torch.testing.assert_close(output.quantized, output.tokens)
    assert no_cqp.loss(output, label).code == 0

    no_apb = CodeQueryHead(PhysNet(frames=STEPS), codebook=bundle, ablation=Ablation(prior_branch=False))
    assert no_apb.prior_branch is None and full.prior_branch is not None

    no_sfd = CodeQueryHead(PhysNet(frames=STEPS), codebook=bundle, ablation=Ablation(feature_distillation=False))
    losses = no_sfd.loss(no_sfd(inputs), label)
    assert no_sfd.ppg_features is None and losses.distill == 0 and losses.code_ppg == 0

    no_sam = CodeQueryHead(PhysNet(frames=STEPS), codebook=bundle, ablation=Ablation(spatial_attention=False))
    assert no_sam(inputs).attention is None and full(inputs).attention is not None

    no_stage1 = CodeQueryHead(PhysNet(frames=STEPS), codebook=bundle, ablation=Ablation(stage1=False))
    assert not torch.equal(no_stage1.codebook.codes, bundle.model.codebook.codes)
    torch.testing.assert_close(full.codebook.codes, bundle.model.codebook.codes)


def test_losses_are_finite_for_constant_labels():
    head = CodeQueryHead(PhysNet(frames=STEPS), codebook=small_bundle())
    output = head(torch.randn(2, 3, STEPS, 32, 32))
    losses = head.loss(output, torch.full((2, STEPS), 3.0))
    assert all(torch.isfinite(value) for value in losses)
    losses.total.backward()


def test_derivative_labels_are_converted_to_the_bundles_form():
    time = torch.arange(160) / 30.0
    wave = torch.sin(2 * torch.pi * 1.2 * time)[None]
    derivative = torch.nn.functional.pad(torch.diff(wave), (0, 1))
    recovered = to_label_form(derivative, "derivative", "waveform")
    # DiffNormalized sample j is x[j+1] - x[j], so the integral at j is the waveform at j+1; the toolbox's
    # detrend (λ=100) bends the clip's edges a little, hence not 1.0.
    assert torch.corrcoef(torch.stack([recovered[0, :-1], wave[0, 1:]]))[0, 1] > 0.98
    torch.testing.assert_close(to_label_form(wave, "waveform", "derivative"), to_label_form(derivative, "derivative", "derivative"))
    with pytest.raises(ValueError, match="label form"):
        to_label_form(wave, "diffnormalized", "waveform")


def test_clips_shorter_than_the_bundles_window_are_named():
    head = CodeQueryHead(PhysNet(frames=STEPS), codebook=small_bundle(window=24))
    with pytest.raises(ValueError, match="learned on 24-sample windows.*20 samples; use clips of at least 24"):
        head(torch.randn(1, 3, STEPS, 32, 32))


class PerFrameNet(nn.Module):
    """No temporal mixing before its head: the features of a window are the window of the features."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv3d(3, 6, (1, 3, 3), padding=(0, 1, 1)), nn.Tanh())

    def forward(self, x):
        return self.body(x).mean(dim=(1, 3, 4))


@pytest.mark.parametrize("adapter", ["spatial", "temporal"])
def test_long_clips_are_windowed_inside_the_head_and_equal_the_windows_overlap_added(adapter):
    """36 samples against a 20-sample bundle, hop 8: windows at 0, 8 and 16 (the last flush with the end)."""
    torch.manual_seed(0)
    backbone = (HookAdapter(PerFrameNet(), layer="body") if adapter == "spatial" else SignalAdapter(PerFrameNet()))
    head = CodeQueryHead(backbone, codebook=small_bundle(), window_hop=8,
                         ablation=Ablation(spatial_attention=False)).eval()
    clip = torch.randn(2, 3, 36, 8, 8)
    starts = [0, 8, 16]
    with torch.no_grad():
        whole = head(clip)
        windows = [head(clip[:, :, start:start + STEPS]) for start in starts]
    expected = np.stack([stitch_windows(starts, [w.rppg[i].numpy() for w in windows]) for i in range(2)])
    np.testing.assert_allclose(whole.rppg.numpy(), expected, rtol=1e-5, atol=1e-6)
    assert torch.equal(whole.indices, torch.cat([w.indices for w in windows], dim=1))
    label = torch.randn(2, 36)
    losses = head.train().loss(head(clip), label)
    assert all(torch.isfinite(value) for value in losses)
    losses.total.backward()
    label_windows = torch.cat([label[:, start:start + STEPS] for start in starts])
    per_window = head.codebook(head.target_encoder(zscore(label_windows))).indices
    assert torch.equal(head.label_codes(label), torch.cat(per_window.split(2), dim=1))


def test_efficientphys_with_a_window_its_frame_depth_does_not_divide_is_refused_up_front():
    """frame_depth 10 and a 32-sample window: no clip of one window exists; the error says the valid windows."""
    with pytest.raises(ValueError, match=r"EfficientPhys takes clips of a multiple of 10 steps, but the codebook's "
                                         r"window is 32 samples.*\(20, 40, 60, …\).*--window 40.*1, 2, 4, 8, 16, 32"):
        CodeQueryHead(EfficientPhys(img_size=72, frame_depth=10), codebook=small_bundle(window=32))
    assert CodeQueryHead(EfficientPhys(img_size=72, frame_depth=4), codebook=small_bundle(window=32))


def test_window_hops_that_break_the_token_grid_are_refused():
    with pytest.raises(ValueError, match="hop must be a multiple of 4"):
        CodeQueryHead(SignalAdapter(PerFrameNet()), codebook=small_bundle(), window_hop=6)


def test_a_label_of_the_wrong_length_is_named():
    head = CodeQueryHead(PhysNet(frames=STEPS), codebook=small_bundle())
    output = head(torch.randn(1, 3, STEPS, 32, 32))
    with pytest.raises(ValueError, match="ppg label.*t=20"):
        head.loss(output, torch.randn(1, 24))


def test_clips_of_any_length_from_the_window_up_are_decoded_sample_for_sample():
    """22 frames (no multiple of 4) against a 20-sample bundle: windows at 0 and 2, every sample once."""
    head = CodeQueryHead(HookAdapter(TinyVideoNet(), layer="body"), codebook=small_bundle()).eval()
    with torch.no_grad():
        output = head(torch.randn(1, 3, 22, 8, 8))
    assert output.rppg.shape == (1, 22) and output.indices.shape == (1, 2 * STEPS // 4)


def test_eval_needs_no_label_and_predict_gives_heart_rates():
    head = CodeQueryHead(PhysNet(frames=128), codebook=small_bundle(window=128)).eval()
    with torch.no_grad():
        assert head(torch.randn(1, 3, 128, 32, 32)).rppg.shape == (1, 128)
    frames = 100 + 50 * torch.rand(2, 129, 3, 32, 32)
    prediction = head.predict(frames, fs=30.0)
    assert prediction.waveform.shape == (2, 128) and prediction.hr_bpm.shape == (2,)
    assert ((prediction.hr_bpm >= 36) & (prediction.hr_bpm <= 198)).all()
    assert prediction.hr_problems == (None, None)
    with pytest.raises(ValueError, match="resample the video"):
        head.predict(frames, fs=25.0)


def test_predict_gives_no_number_for_clips_without_a_measurable_pulse():
    """32 frames at 30 Hz are 1.07 s: FFT bins 56 bpm apart, so any number would be a bin, not a rate."""
    short = CodeQueryHead(PhysNet(frames=32), codebook=small_bundle(window=32)).eval()
    prediction = short.predict(100 + 50 * torch.rand(2, 33, 3, 32, 32), fs=30.0)
    assert np.isnan(prediction.hr_bpm).all()
    assert all("32 samples (1.07 s at 30 Hz) are too short" in problem and "at least 100 samples" in problem
               for problem in prediction.hr_problems)
    head = CodeQueryHead(PhysNet(frames=128), codebook=small_bundle(window=128)).eval()
    frames = 100 + 50 * torch.rand(2, 129, 3, 32, 32)
    frames[1] = 120.0
    prediction = head.predict(frames, fs=30.0)
    assert np.isfinite(prediction.hr_bpm[0]) and prediction.hr_problems[0] is None
    assert np.isnan(prediction.hr_bpm[1]) and "frames do not change" in prediction.hr_problems[1]


def test_code_temperature_softens_the_logits_and_nothing_else():
    bundle = small_bundle()
    torch.manual_seed(0)
    sharp = CodeQueryHead(HookAdapter(TinyVideoNet(), layer="body"), codebook=bundle).eval()
    soft = CodeQueryHead(HookAdapter(TinyVideoNet(), layer="body"), codebook=bundle, code_temperature=8.0).eval()
    soft.load_state_dict(sharp.state_dict())
    inputs = torch.randn(2, 3, STEPS, 8, 8)
    with torch.no_grad():
        a, b = sharp(inputs), soft(inputs)
    torch.testing.assert_close(b.logits, a.logits / 8.0)
    assert torch.equal(a.indices, b.indices) and torch.equal(a.rppg, b.rppg)
    with pytest.raises(ValueError, match="code_temperature must be positive"):
        CodeQueryHead(HookAdapter(TinyVideoNet(), layer="body"), codebook=bundle, code_temperature=0.0)


@pytest.mark.parametrize("code_query", [True, False])
def test_the_waveform_loss_alone_reaches_the_backbone_through_the_code_query(code_query):
    """L_phy is computed on the decoder's output; the straight-through code query must pass its gradient
    on to the query tokens, the encoder and the backbone (and not to the frozen codebook and decoder)."""
    torch.manual_seed(0)
    head = CodeQueryHead(PhysNet(frames=STEPS), codebook=small_bundle(), ablation=Ablation(code_query=code_query))
    output = head(head.adapter.prepare(raw_frames(32)))
    output.tokens.retain_grad()
    label = torch.sin(torch.linspace(0, 12, STEPS)).expand(2, -1)
    losses = head.loss(output, label, alpha=1.0, beta=0.0)
    losses.physiological.backward()
    assert output.tokens.grad is not None and output.tokens.grad.abs().sum() > 0
    backbone = [p.grad for name, p in head.adapter.model.named_parameters()
                if p.requires_grad and name.startswith("ConvBlock1.")]
    assert backbone and all(grad is not None and grad.abs().sum() > 0 for grad in backbone)
    assert all(p.grad is None for p in [*head.codebook.parameters(), *head.decoder.parameters()])


def test_features_without_space_never_run_the_deformable_convolution(monkeypatch):
    """A SignalAdapter's 'b c t' features get temporal stages; a spatial map still gets the deformable branch."""
    from codephys_plugin.encoder import deformable

    calls = []
    real = deformable.deform_conv2d
    monkeypatch.setattr(deformable, "deform_conv2d", lambda *args, **kwargs: calls.append(1) or real(*args, **kwargs))
    label = torch.sin(torch.linspace(0, 12, STEPS)).expand(2, -1)
    for name, expect_calls in (("signal", False), ("hook", True)):
        calls.clear()
        build, inputs_for = BACKBONES[name]
        head = CodeQueryHead(build(), codebook=small_bundle())
        output = head(inputs_for(head))
        head.loss(output, label).total.backward()
        assert bool(calls) == expect_calls, name
    with pytest.raises(ValueError, match=r"VideoEncoder features: expected shape \(b c t h w\) with h=1"):
        CodeQueryHead(SignalAdapter(TinyVideoNet()), codebook=small_bundle()).video_encoder(torch.randn(2, 8, STEPS, 2, 2))


def test_code_gradients_share_the_forward_value_and_differ_only_in_the_tokens_gradient():
    from codephys_plugin.query.code_gradient import with_code_gradient

    torch.manual_seed(0)
    codes, tokens = torch.randn(5, 3), torch.randn(2, 4, 3, requires_grad=True)
    logits = -torch.cdist(tokens, codes[None].expand(2, -1, -1)).pow(2)
    nearest = codes[logits.argmax(dim=-1)]
    weights = torch.randn(2, 4, 3)
    gradients = {}
    for rule in ("nearest", "soft"):
        value = with_code_gradient(tokens, nearest, logits, codes, rule)
        torch.testing.assert_close(value, nearest)
        (gradients[rule],) = torch.autograd.grad((value * weights).sum(), tokens, retain_graph=True)
    torch.testing.assert_close(gradients["nearest"], weights), "straight through: the gradient is copied"
    (expected,) = torch.autograd.grad(((torch.softmax(logits, -1) @ codes) * weights).sum(), tokens)
    torch.testing.assert_close(gradients["soft"], expected)
    with pytest.raises(ValueError, match="code_gradient: expected one of nearest, soft"):
        CodeQueryHead(SignalAdapter(PerFrameNet()), codebook=small_bundle(), code_gradient="gumbel")
