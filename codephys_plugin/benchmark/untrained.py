"""The rows that train nothing: the classic methods (POS, CHROM, GREEN) on each whole video's mean colour, and the
no-pulse floor.

The floor reads every test video as one sinusoid at the training videos' median heart rate: what a row scores
that reads no pulse at all but has learnt where the rates lie. It goes through the evaluation every row goes
through (the toolbox's per-video FFT, so its rate is read to within half a bin, ≈ 0.9 bpm for 30-s videos), so a
row whose MAE under a condition is near or above the floor's reads no pulse there, whatever its ratio to another
row says.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from codephys_plugin.baselines import BASELINES, rgb_trace
from codephys_plugin.benchmark import datasets
from codephys_plugin.benchmark.protocol import NO_PULSE, Protocol
from codephys_plugin.data.clip_sets import ClipSet
from codephys_plugin.heart_rate.estimate import hr_fft, prepare_for_hr
from codephys_plugin.heart_rate.videos import Chunk, evaluate_videos


def untrained_metrics(method: str, protocol: Protocol, work: Path) -> dict[str, dict[str, float]]:
    """The row's per-video metrics on every test condition of the raw recipe's videos."""
    def tested(condition: str) -> ClipSet:
        return datasets.clips(work, protocol, datasets.RAW, "test", condition)

    if method == NO_PULSE:
        rate = median_rate(datasets.clips(work, protocol, datasets.RAW, "train"))
        return {condition: no_pulse_metrics(rate, tested(condition)) for condition in protocol.conditions()}
    return {condition: classic_metrics(method, tested(condition)) for condition in protocol.conditions()}


def whole_videos(clips: ClipSet) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """Each video of raw clips as (name, frames 't h w c' in pixel units, label 't'), its chunks joined in order."""
    by_video: dict[str, list[tuple[int, int]]] = {}
    for index, (video, chunk) in enumerate(zip(clips.videos, clips.chunks)):
        by_video.setdefault(video, []).append((chunk, index))
    joined = []
    for video, items in by_video.items():
        pairs = [clips.dataset[index] for _, index in sorted(items)]
        frames = np.concatenate([frames.permute(0, 2, 3, 1).double().numpy() for frames, _ in pairs])
        joined.append((video, frames, np.concatenate([np.asarray(label) for _, label in pairs])))
    return joined


def classic_metrics(method: str, clips: ClipSet) -> dict[str, float]:
    """The method on each whole video's spatial mean colour, as the toolbox runs its unsupervised methods, then
    the same per-video evaluation as the networks."""
    read = BASELINES[method]
    chunks = [Chunk(video, 0, read(rgb_trace(frames), clips.fs), label) for video, frames, label in whole_videos(clips)]
    return evaluate_videos(chunks, clips.fs, diff_normalized=False).summary()


def median_rate(clips: ClipSet) -> float:
    """The median heart rate (bpm) of the videos' PPG labels, each read as the evaluation reads a label."""
    derivative = clips.label_form == "derivative"
    rates = [hr_fft(prepare_for_hr(label, clips.fs, diff_normalized=derivative), clips.fs)
             for _, _, label in whole_videos(clips)]
    return float(np.median(rates))


def no_pulse_metrics(rate_bpm: float, clips: ClipSet) -> dict[str, float]:
    """Every video read as a sinusoid at `rate_bpm`, through the same per-video evaluation as the other rows."""
    chunks = []
    for video, _, label in whole_videos(clips):
        seconds = np.arange(label.size) / clips.fs
        chunks.append(Chunk(video, 0, np.sin(2 * np.pi * rate_bpm / 60 * seconds), label))
    return evaluate_videos(chunks, clips.fs, diff_normalized=clips.label_form == "derivative").summary()
