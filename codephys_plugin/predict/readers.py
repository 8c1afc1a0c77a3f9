"""A trained network, bare or wrapped with the code-query head, read over a whole video window by window.

Each window is T+1 face crops giving T steps (step j lies between frames j and j+1); windows start every
`hop` frames, the last one flush with the video's end, and their outputs are overlap-added
(`rppg.stitch`), so a video of any length gives one continuous signal of (frames − 1) samples in the
model's label form.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable

import numpy as np
import torch
from torch import nn

from codephys_plugin.adapters import Adapter, adapter_for
from codephys_plugin.code_query_head import CodeQueryHead
from codephys_plugin.rppg.stitch import stitch_windows


@dataclass(frozen=True)
class Reader:
    """What reads rPPG from windows of face crops: 'b (T+1) 3 h w' raw frames (on the CPU) -> 'b T'."""

    name: str
    run: Callable[[torch.Tensor], torch.Tensor]
    window: int
    """T, the steps per window."""
    derivative: bool
    """The output is a first difference (the toolbox's DiffNormalized form) and is integrated for HR."""


def bare_reader(backbone: nn.Module | Adapter, window: int, *, derivative: bool = True) -> Reader:
    """The network with its own head (`adapter.rppg`); toolbox networks predict DiffNormalized labels."""
    adapter = adapter_for(backbone).eval()
    device = next(adapter.parameters()).device
    return Reader("bare", lambda frames: adapter.rppg(adapter.prepare(frames.to(device))), window, derivative)


def head_reader(head: CodeQueryHead) -> Reader:
    """The code-query head at its bundle's window, in the bundle's label form."""
    head.eval()
    device = next(head.parameters()).device
    return Reader("head", lambda frames: head(head.adapter.prepare(frames.to(device))).rppg, head.config.window,
                  head.label_form == "derivative")


def window_starts(frames: int, window: int, hop: int) -> list[int]:
    """First frame of each window of `window` + 1 frames over a video of `frames` frames."""
    last = frames - window - 1
    if last < 0:
        raise ValueError(f"a video of {frames} frames is shorter than one model window of {window + 1} frames")
    starts = list(range(0, last + 1, hop))
    return starts if starts[-1] == last else [*starts, last]


def read_video(reader: Reader, crops: np.ndarray, *, hop: int, batch_size: int = 4,
               progress: Callable[[Iterable], Iterable] = lambda batches: batches) -> np.ndarray:
    """'n h w 3' face crops (pixel units, at the model's rate) -> '(n − 1)' rPPG, windows overlap-added."""
    starts = window_starts(len(crops), reader.window, hop)
    outputs = []
    batches = [starts[i:i + batch_size] for i in range(0, len(starts), batch_size)]
    with torch.no_grad():
        for batch in progress(batches):
            clips = np.stack([crops[start:start + reader.window + 1] for start in batch])
            frames = torch.from_numpy(clips).permute(0, 1, 4, 2, 3).float()
            outputs.extend(reader.run(frames).double().cpu().numpy())
    return stitch_windows(starts, outputs)
