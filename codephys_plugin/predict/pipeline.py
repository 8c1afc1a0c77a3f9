"""From a video file to pulse waveforms and heart rates: face track, crops, model rate, readers, HR track."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from codephys_plugin.data.resample import resample_segment
from codephys_plugin.heart_rate import hr_fft, min_hr_samples, prepare_for_hr
from codephys_plugin.predict.faces import Box, Detector, FaceTrack, TrackingConfig, crop_face, fixed_track, track_face
from codephys_plugin.heart_rate.track import HRTrack, hr_track
from codephys_plugin.predict.readers import Reader, read_video
from codephys_plugin.predict.video_file import VideoInfo, read_frames, video_info
from codephys_plugin.rppg.filters import DEFAULT_HIGH_HZ, DEFAULT_LOW_HZ

RATE_TOLERANCE = 1e-3
"""Relative difference between the video's clock and the model's rate below which frames are used as they are."""
Progress = Callable[..., Iterable]


@dataclass(frozen=True)
class PredictConfig:
    fs: float
    """The model's frame rate; the video is brought to it."""
    size: int
    """Face-crop height and width the network takes."""
    tracking: TrackingConfig = TrackingConfig()
    roi: Box | None = None
    """A fixed face box instead of the detector (not enlarged)."""
    hop: int | None = None
    """Frames between model windows (default: half the longest window)."""
    hr_window_s: float = 10.0
    hr_step_s: float = 1.0
    band_hz: tuple[float, float] = (DEFAULT_LOW_HZ, DEFAULT_HIGH_HZ)
    batch_size: int = 4


@dataclass(frozen=True)
class ReaderResult:
    name: str
    rppg: np.ndarray
    """'(n − 1)' the model's output, windows overlap-added, in its label form."""
    waveform: np.ndarray
    """The same after the toolbox's post-processing (integration of a derivative, detrend, band-pass)."""
    hr_bpm: float
    """Of the whole video (interpolated spectral peak)."""
    track: HRTrack
    seconds: float


@dataclass(frozen=True)
class VideoPrediction:
    info: VideoInfo
    track: FaceTrack
    first_frame: np.ndarray
    """'h w 3' the video's first frame, for the figure."""
    frames_read: int
    video_seconds: float
    resampled: str | None
    """How the frames were brought to the model's rate, or None when the video was at it."""
    fs: float
    readers: tuple[ReaderResult, ...]
    timing_s: dict[str, float] = field(default_factory=dict)


def predict_video(path: str | Path, readers: list[Reader], config: PredictConfig, *, detector: Detector | None,
                  progress: Progress = lambda items, **_: items) -> VideoPrediction:
    source = Path(path)
    info, timing = video_info(source), {}
    started = time.perf_counter()
    track = _face_track(source, info, config, detector, progress)
    timing["face detection"] = time.perf_counter() - started
    started = time.perf_counter()
    crops, times, first_frame = _crops(source, info, track, config, progress)
    crops, resampled = _at_model_rate(crops, times, config.fs, info)
    timing["crops"] = time.perf_counter() - started
    _check_length(source, len(crops), readers, config)
    hop = config.hop or max(1, max(reader.window for reader in readers) // 2)
    results = [_read(reader, crops, hop, config, progress) for reader in readers]
    duration = float(times[-1] - times[0]) + 1 / info.fps
    return VideoPrediction(info, track, first_frame, len(times), duration, resampled, config.fs, tuple(results),
                           {**timing, **{f"model {r.name}": r.seconds for r in results}})


def _face_track(source: Path, info: VideoInfo, config: PredictConfig, detector: Detector | None,
                progress: Progress) -> FaceTrack:
    if config.roi is not None:
        return fixed_track(info.frames or 0, config.roi)
    if detector is None:
        raise ValueError("predict_video: give a face detector or a fixed roi")
    frames = (frame for _, frame in progress(read_frames(source), total=info.frames, desc="finding the face"))
    return track_face(frames, info.fps, config.tracking, detector, source)


def _crops(source: Path, info: VideoInfo, track: FaceTrack, config: PredictConfig,
           progress: Progress) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    enlarge = 1.0 if config.roi is not None else config.tracking.enlarge
    crops, times, first = [], [], None
    for index, (stamp, frame) in enumerate(progress(read_frames(source), total=info.frames, desc="cropping")):
        first = frame if first is None else first
        crops.append(crop_face(frame, track.box(index), config.size, enlarge))
        times.append(stamp)
    if not crops:
        raise ValueError(f"{source}: the video stream holds no frame")
    return np.stack(crops), np.array(times), first


def _at_model_rate(crops: np.ndarray, times: np.ndarray, fs: float, info: VideoInfo) -> tuple[np.ndarray, str | None]:
    """Frames on the video's clock that is not the model's are resampled on their time stamps: linear
    interpolation between the two nearest frames, after a zero-phase low-pass at 0.45 fs when the video is
    faster (the pulse, < 4 Hz, is far below either rate's Nyquist)."""
    if len(times) < 2:
        return crops, None
    clock = (len(times) - 1) / (times[-1] - times[0])
    steps = np.diff(times)
    uniform = np.ptp(steps) <= 0.1 / clock
    if uniform and abs(clock - fs) <= RATE_TOLERANCE * fs:
        return crops, None
    how = (f"{len(times)} frames at {info.fps:g} fps{'' if uniform else ' (variable rate)'} resampled to {fs:g} Hz "
           "by linear interpolation on their time stamps" + (", low-passed first" if clock > fs else ""))
    return resample_segment(times, crops, fs).astype(np.float32), how


def _check_length(source: Path, frames: int, readers: list[Reader], config: PredictConfig) -> None:
    window = max(reader.window + 1 for reader in readers)
    heart_rate = min_hr_samples(config.fs, config.band_hz[0]) + 1
    if frames < max(window, heart_rate):
        raise ValueError(f"{source}: {frames} frames ({frames / config.fs:.2f} s at {config.fs:g} Hz) are too short; "
                         f"one model window takes {window} frames and a heart rate down to {config.band_hz[0]:g} Hz "
                         f"{heart_rate} ({max(window, heart_rate) / config.fs:.2f} s)")


def _read(reader: Reader, crops: np.ndarray, hop: int, config: PredictConfig, progress: Progress) -> ReaderResult:
    started = time.perf_counter()
    rppg = read_video(reader, crops, hop=hop, batch_size=config.batch_size,
                      progress=lambda batches: progress(batches, desc=f"model ({reader.name})"))
    low, high = config.band_hz
    waveform = prepare_for_hr(rppg, config.fs, diff_normalized=reader.derivative, low=low, high=high)
    track = hr_track(waveform, config.fs, window_s=config.hr_window_s, step_s=config.hr_step_s, low=low, high=high)
    rate = hr_fft(waveform, config.fs, low=low, high=high, interpolate=True)
    return ReaderResult(reader.name, rppg, waveform, rate, track, time.perf_counter() - started)
