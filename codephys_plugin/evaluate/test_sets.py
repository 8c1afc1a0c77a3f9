"""The test sets `codephys-evaluate` reads: an rPPG-Toolbox cache folder, or a `codephys-synth` dataset (the
same cache with a manifest that states its frame rate, layout and label form)."""

from __future__ import annotations

import json
from pathlib import Path

from codephys_plugin.data.clip_sets import ClipSet, LabelForm, toolbox_clips
from codephys_plugin.data.toolbox_clips import Layout
from codephys_plugin.video_lab.lab_dataset import MANIFEST


def open_test_set(folder: Path, *, layout: Layout | None, labels: LabelForm | None, fs: float | None) -> ClipSet:
    """A codephys-synth folder answers what a bare toolbox cache needs to be told (--fs, --layout, --labels);
    an option that contradicts its manifest is refused."""
    manifest = folder / MANIFEST
    if not manifest.is_file():
        if fs is None:
            raise ValueError(f"{folder}: an rPPG-Toolbox cache does not record its frame rate; pass --fs (e.g. --fs 30)")
        return toolbox_clips(folder, layout=layout or "NDHWC", label_form=labels or "derivative", fs=fs)
    stated = json.loads(manifest.read_text())
    if not stated.get("complete"):
        raise ValueError(f"{manifest}: the dataset is incomplete (its codephys-synth run did not finish)")
    given = {"fs": fs, "layout": layout, "labels": labels}
    for name, value in given.items():
        if value is not None and value != stated[name]:
            raise ValueError(f"--{name} {value}: {manifest} states {name} {stated[name]}")
    return toolbox_clips(folder, layout=stated["layout"], label_form=stated["labels"], fs=float(stated["fs"]))
