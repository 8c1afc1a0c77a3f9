"""The one rule by which every training run keeps an epoch."""

from __future__ import annotations

import math

import pytest

from codephys_plugin.training.selection import selection_key


def test_the_mae_decides_then_the_loss_and_nothing_unmeasurable_wins():
    assert selection_key(0.9, {"mae": 0.0}) < selection_key(0.1, {"mae": 0.5})
    assert selection_key(0.3, {"mae": 0.0}) < selection_key(0.4, {"mae": 0.0})
    assert selection_key(5.0, {"mae": 9.0}) < selection_key(0.0, {"mae": math.nan}) == (math.inf, 0.0)
    assert selection_key(math.nan, {"mae": 0.0}) == (0.0, math.inf)
    assert selection_key(0.2, {}, "loss") < selection_key(0.3, {"mae": 0.0}, "loss")


def test_an_unknown_rule_is_refused():
    with pytest.raises(ValueError, match="select_by: expected one of \\['loss', 'mae'\\], got 'rmse'"):
        selection_key(0.1, {"mae": 0.0}, "rmse")
