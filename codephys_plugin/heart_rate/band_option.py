"""The `--hr-band` option both CLIs share: where heart rates are looked for, checked before any work."""

from __future__ import annotations

import argparse

from codephys_plugin._checks import check_band
from codephys_plugin.rppg.filters import DEFAULT_HIGH_HZ, DEFAULT_LOW_HZ


def add_hr_band_option(group: argparse._ArgumentGroup) -> None:
    group.add_argument(
        "--hr-band", type=float, nargs=2, default=[DEFAULT_LOW_HZ, DEFAULT_HIGH_HZ], metavar=("LOW", "HIGH"),
        help=f"Hz where heart rates are looked for, also the post-processing band-pass (default: {DEFAULT_LOW_HZ:g} "
             f"{DEFAULT_HIGH_HZ:g}, the current rPPG-Toolbox; its paper used 0.75 2.5)",
    )


def checked_hr_band(values: list[float], fs: float) -> tuple[float, float]:
    """`--hr-band` as ``(low, high)``, or a ValueError naming the option (0 < low < high < fs/2)."""
    try:
        return check_band(values[0], values[1], fs)
    except ValueError as error:
        raise ValueError(f"--hr-band: {error}") from None
