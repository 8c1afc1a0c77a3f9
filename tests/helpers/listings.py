"""Read the state_dict listings copied from shared/reference/backbones.md (tests/fixtures/state_dict_listings)."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

LISTINGS = Path(__file__).resolve().parents[1] / "fixtures" / "state_dict_listings"


def _expand(pattern: str) -> list[str]:
    """'a{1,2}.b{0,1}' -> ['a1.b0', 'a1.b1', 'a2.b0', 'a2.b1'] (the listings' brace notation)."""
    parts = re.split(r"\{([^}]*)\}", pattern)
    choices = [[part] if i % 2 == 0 else part.split(",") for i, part in enumerate(parts)]
    return ["".join(combo) for combo in itertools.product(*choices)]


def read_listing(name: str) -> dict[str, tuple[int, ...]]:
    shapes: dict[str, tuple[int, ...]] = {}
    for line in (LISTINGS / f"{name}.txt").read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        pattern, shape = line.split(maxsplit=1)
        dims = tuple(int(d) for d in re.findall(r"\d+", shape))
        shapes.update({key: dims for key in _expand(pattern)})
    return shapes


def read_counts(name: str) -> tuple[int, int]:
    """(state_dict entries, parameters) as stated in the listing's header."""
    header = (LISTINGS / f"{name}.txt").read_text().splitlines()[1]
    entries, params = re.match(r"# (\d+) state_dict entries, ([\d,]+) parameters", header).groups()
    return int(entries), int(params.replace(",", ""))
