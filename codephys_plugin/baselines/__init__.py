"""Classic training-free rPPG methods: a reference row for every benchmark, and a check of synthetic videos.

From a clip's RGB trace (the per-frame mean over the skin or face region, ``t 3``) to a pulse waveform
``t``: GREEN (Verkruysse et al. 2008), CHROM (de Haan & Jeanne 2013) and POS (Wang et al. 2017).
Written from the papers' formulas; heart rates then come from `codephys_plugin.heart_rate`.
"""

from codephys_plugin.baselines.chrom import chrom
from codephys_plugin.baselines.green import green
from codephys_plugin.baselines.pos import pos
from codephys_plugin.baselines.traces import rgb_trace

BASELINES = {"green": green, "chrom": chrom, "pos": pos}
"""Name -> method(trace 't 3', fs) -> pulse 't'."""

__all__ = ["BASELINES", "chrom", "green", "pos", "rgb_trace"]
