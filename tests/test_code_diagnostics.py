"""Stage II diagnostics: code accuracy against the label's own codes, perplexities, and the decoder's ceiling."""

import math

import pytest
import torch

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
