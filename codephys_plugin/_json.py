"""Reports as strict JSON: NaN and ±Inf are not JSON, so they are written as null."""

from __future__ import annotations

import json
import math


def finite_or_none(value: object) -> object:
    """`value` with every non-finite float, however deeply nested, replaced by None."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: finite_or_none(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite_or_none(item) for item in value]
    return value


def strict_json(value: object, **options: object) -> str:
    """`json.dumps` that any parser accepts; a value that is undefined (a Pearson r of constant
    heart rates, an SNR of a flat signal) becomes null, and the text report says why."""
    return json.dumps(finite_or_none(value), allow_nan=False, **options)


def format_undefined(value: float, spec: str, reason: str) -> str:
    """A number for a text report, or 'undefined (reason)' where it is NaN or infinite."""
    return format(value, spec) if math.isfinite(value) else f"undefined ({reason})"
