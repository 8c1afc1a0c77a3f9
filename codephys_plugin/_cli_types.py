"""Argparse types for numeric options: a bad value is refused while parsing, before any work, with the
valid range in the message (argparse prints it as ``prog: error: argument --x: ...`` and exits 2)."""

from __future__ import annotations

import argparse
import math
from typing import Callable


def _bounded(kind: type, accepts: Callable[[float], bool], expected: str) -> Callable[[str], float | int]:
    def parse(text: str) -> float | int:
        try:
            value = kind(text)
        except ValueError:
            value = math.nan
        if not (math.isfinite(value) and accepts(value)):
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
        return value

    parse.__name__ = expected
    return parse


positive_int = _bounded(int, lambda v: v > 0, "an integer ≥ 1")
nonnegative_int = _bounded(int, lambda v: v >= 0, "an integer ≥ 0")
positive_float = _bounded(float, lambda v: v > 0, "a finite number > 0")
nonnegative_float = _bounded(float, lambda v: v >= 0, "a finite number ≥ 0")
open_fraction = _bounded(float, lambda v: 0 < v < 1, "a fraction strictly between 0 and 1")
window_length = _bounded(int, lambda v: v >= 4 and v % 4 == 0, "a multiple of 4 samples ≥ 4 (the T/4 query tokens)")
