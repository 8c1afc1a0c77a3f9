"""Stage II diagnostics: code accuracy against the label's own codes, perplexities, and the decoder's ceiling."""

import math

import pytest
import torch

from codephys_plugin.code_query_head import to_label_form
from codephys_plugin.training.code_diagnostics import CodeTally


def test_code_tally_counts_hits_top5_and_both_perplexities():
    tally = CodeTally(num_codes=8)
    target = torch.tensor([[0, 1, 2, 3]])
    logits = torch.full((1, 4, 8), -10.0)
    logits[0, 0, 0] = 0.0  # right
    logits[0, 1, 5] = 0.0  # wrong, the right code second
    logits[0, 1, 1] = -1.0
    logits[0, 2] = torch.tensor([-1.0, -2.0, -20.0, -3.0, -4.0, -5.0, 0.0, -6.0])  # wrong, the right code last
    logits[0, 3, 3] = 0.0  # right
    tally.add(logits, logits.argmax(-1), target)
    summary = tally.summary()
    assert summary["code_accuracy"] == 0.5 and summary["code_top5_accuracy"] == 0.75
    assert summary["chance"] == 1 / 8
    assert summary["label_perplexity"] == pytest.approx(4.0)
    assert summary["predicted_perplexity"] == pytest.approx(4.0), "four different codes predicted once each"
    tally.add(torch.zeros(1, 4, 8), torch.zeros(1, 4, dtype=torch.long), target)
    collapsed = tally.summary()
    assert collapsed["predicted_perplexity"] < collapsed["label_perplexity"] == pytest.approx(4.0)


def test_an_empty_tally_reports_undefined_figures():
    summary = CodeTally(num_codes=4).summary()
    assert math.isnan(summary["code_accuracy"]) and summary["chance"] == 0.25


def test_loss_and_gradient_shares_add_up_and_follow_the_weights():
    from codephys_plugin.adapters import PhysNet
    from codephys_plugin.code_query_head import CodeQueryHead
    from codephys_plugin.training.loss_shares import TERMS, loss_shares
    from tests.test_code_query_head import STEPS, raw_frames, small_bundle

    torch.manual_seed(0)
    head = CodeQueryHead(PhysNet(frames=STEPS), codebook=small_bundle()).train()
    inputs, label = head.adapter.prepare(raw_frames(32)), torch.sin(torch.linspace(0, 12, STEPS)).expand(2, -1)
    before = {name: value.clone() for name, value in head.state_dict().items()}
    shares = loss_shares(head, inputs, label, label_form="waveform", alpha=2.0, beta=0.1)
    assert head.training, "the head's mode is restored"
    assert all(torch.equal(value, before[name]) for name, value in head.state_dict().items()), "no statistics change"
    assert sum(shares[f"loss_share_{term}"] for term in TERMS) == pytest.approx(1.0)
    assert sum(shares[f"gradient_share_{term}"] for term in TERMS) == pytest.approx(1.0)
    assert shares["gradient_share_code_ppg"] == 0.0, "L_code'^ppg runs on E_ppg's features, not the backbone's"
    assert shares["gradient_share_physiological"] > 0 and shares["gradient_share_distill"] > 0
    without_codes = loss_shares(head, inputs, label, label_form="waveform", alpha=2.0, beta=0.0)
    assert without_codes["loss_share_code"] == without_codes["gradient_share_code"] == 0.0
    frozen = CodeQueryHead(PhysNet(frames=STEPS), codebook=small_bundle(), freeze_backbone=True)
    frozen_shares = loss_shares(frozen, inputs, label, label_form="waveform", alpha=2.0, beta=0.1)
    assert sum(frozen_shares[f"loss_share_{term}"] for term in TERMS) == pytest.approx(1.0)
    assert not any(key.startswith("gradient_share") for key in frozen_shares), "no gradient reaches a frozen backbone"


def _toy_batch(count: int, steps: int) -> tuple[torch.Tensor, torch.Tensor]:
    """'Videos' that show their own label: a pulse of random rate and phase over a 4×4 map, plus noise."""
    time = torch.arange(steps) / 30.0
    rate, phase = 0.8 + 2.0 * torch.rand(count, 1), 2 * math.pi * torch.rand(count, 1)
    label = torch.sin(2 * math.pi * rate * time + phase)
    clips = label[:, None, :, None, None].expand(count, 3, steps, 4, 4)
    return clips + 0.1 * torch.randn_like(clips), label


def _code_accuracy(head, clips, label) -> float:
    tally = CodeTally(head.codebook.num_codes)
    with torch.no_grad():
        output = head.eval()(clips)
        tally.add(output.logits, output.indices, head.label_codes(to_label_form(label, "waveform", "waveform")))
    head.train()
    return tally.summary()["code_accuracy"]


def test_code_accuracy_rises_far_above_chance_when_the_codes_can_be_read_off_the_features():
    """A learnable toy: the label's codes are a function of what the backbone sees, so the code-query terms
    of Eq. 16 must teach the query to pick them, and the diagnostics must show it. α = 0: with α = 2 the
    straight-through gradient of L_phy drags the tokens off the codebook in this toy (their norm grows
    from 0.7 to 15-20 in 250 steps and the code accuracy falls back to 0.1), which the accuracy also shows."""
    from codephys_plugin.adapters import SignalAdapter
    from codephys_plugin.code_query_head import CodeQueryHead
    from tests.test_code_query_head import STEPS, PerFrameNet, small_bundle

    torch.manual_seed(0)
    head = CodeQueryHead(SignalAdapter(PerFrameNet()), codebook=small_bundle())
    test = _toy_batch(128, STEPS)
    codes = head.label_codes(test[1])
    majority = float(torch.bincount(codes.flatten()).max()) / codes.numel()
    before = _code_accuracy(head, *test)
    optimizer = torch.optim.Adam([p for p in head.parameters() if p.requires_grad], lr=3e-3)
    for _ in range(100):
        clips, label = _toy_batch(16, STEPS)
        loss = head.loss(head(clips), label, alpha=0.0).total
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    after = _code_accuracy(head, *test)
    assert before < majority < 0.45, "untrained, the query does no better than always naming the commonest code"
    assert after > max(8 / head.codebook.num_codes, majority + 0.1), (before, majority, after)


def _train_on_toy(head, steps: int, alpha: float) -> float:
    """Trains `head` on toy batches; returns the mean token norm of the last step."""
    optimizer = torch.optim.Adam([p for p in head.parameters() if p.requires_grad], lr=3e-3)
    for _ in range(steps):
        clips, label = _toy_batch(16, head.config.window)
        output = head(clips)
        loss = head.loss(output, label, alpha=alpha).total
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return float(output.tokens.detach().norm(dim=-1).mean())


def test_the_soft_code_gradient_keeps_the_tokens_on_the_codebook_where_straight_through_drags_them_off():
    """Eq. 16 at α = 2 on the toy: the straight-through copy of L_phy's gradient moves the tokens away from
    every code, the gradient through the softmax mix of the codes does not, and the codes stay predictable."""
    from codephys_plugin.adapters import SignalAdapter
    from codephys_plugin.code_query_head import CodeQueryHead
    from tests.test_code_query_head import STEPS, PerFrameNet, small_bundle

    test, norms, accuracy = _toy_batch(128, STEPS), {}, {}
    for rule in ("nearest", "soft"):
        torch.manual_seed(0)
        head = CodeQueryHead(SignalAdapter(PerFrameNet()), codebook=small_bundle(), code_gradient=rule)
        norms[rule] = _train_on_toy(head, 100, alpha=2.0)
        accuracy[rule] = _code_accuracy(head, *test)
    assert norms["nearest"] > 10 * norms["soft"], norms
    assert accuracy["soft"] > accuracy["nearest"] + 0.1, (accuracy, norms)
