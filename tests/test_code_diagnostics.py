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
