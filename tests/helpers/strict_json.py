"""Read reports as a strict JSON parser would (NaN and Infinity are not JSON)."""

from __future__ import annotations

import json
from pathlib import Path


def _refuse(constant: str) -> None:
    raise ValueError(f"not strict JSON: {constant}")


def strict_loads(text: str) -> object:
    return json.loads(text, parse_constant=_refuse)


def read_strict_json(path: Path) -> object:
    return strict_loads(Path(path).read_text())
