"""Seeded hold-out of whole groups (subjects, videos), the same draw for Stage I recordings and Stage II clips."""

from __future__ import annotations

from typing import Iterable

import numpy as np


def held_out_groups(groups: Iterable[str], count: int, seed: int) -> set[str]:
    """`count` of the distinct `groups`, the first of a seeded permutation of their sorted names."""
    names = sorted(set(groups))
    order = np.random.default_rng(seed).permutation(len(names))
    return {names[i] for i in order[:count]}
