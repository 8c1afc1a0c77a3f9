"""Video files in and out through PyAV, whose wheel brings its own FFmpeg and codecs (libx264 included).

Frames are read at the file's own rate with the time stamp of each, so a variable-rate file is placed on
its true clock (`frame_rate.to_model_rate`); they are returned one by one, so a long video is never held
in memory whole.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Iterator

import av
import numpy as np

from codephys_plugin._atomic import write_atomically


@dataclass(frozen=True)
class VideoInfo:
    path: Path
    fps: float
    """The stream's average frame rate."""
    frames: int | None
    """The frame count the container states (None when it does not)."""
    width: int
    height: int


def video_info(path: str | Path) -> VideoInfo:
    """The first video stream's rate and size; a clear error for a missing, unreadable or video-less file."""
    source = Path(path)
    with _open(source) as container:
        stream = _video_stream(container, source)
        rate = stream.average_rate or stream.guessed_rate
        if not rate or float(rate) <= 0:
            raise ValueError(f"{source}: the video stream states no frame rate")
        return VideoInfo(source, float(rate), stream.frames or None, stream.codec_context.width,
                         stream.codec_context.height)


def read_frames(path: str | Path) -> Iterator[tuple[float, np.ndarray]]:
    """Yield (time in s from the first frame, 'h w 3' uint8 RGB) for every frame of the first video stream."""
    source = Path(path)
    with _open(source) as container:
        stream = _video_stream(container, source)
        first = None
        try:
            for frame in container.decode(stream):
                stamp = frame.time if frame.time is not None else 0.0
                first = stamp if first is None else first
                yield stamp - first, frame.to_ndarray(format="rgb24")
        except av.error.FFmpegError as error:
            raise ValueError(f"{source}: the video cannot be decoded ({error})") from None


def write_video(path: str | Path, frames: np.ndarray, fps: float, *, lossless: bool = False,
                crf: int | None = None) -> Path:
    """'t h w 3' uint8 RGB -> an H.264 .mp4 (yuv420p at `crf`, default 18; `lossless`: RGB H.264, libx264rgb
    at qp 0), written atomically. Even width and height are needed for yuv420p."""
    target = Path(path)
    video = np.asarray(frames)
    if video.ndim != 4 or video.shape[-1] != 3 or video.dtype != np.uint8 or not len(video):
        raise ValueError(f"write_video {target}: expected 't h w 3' uint8 RGB frames, got {video.dtype} {video.shape}")
    if not lossless and (video.shape[1] % 2 or video.shape[2] % 2):
        raise ValueError(f"write_video {target}: yuv420p needs an even width and height, got {video.shape[1:3]}")

    def write(stream) -> None:
        with av.open(stream, mode="w", format="mp4") as container:
            encoder = container.add_stream("libx264rgb" if lossless else "libx264", rate=_rational(fps))
            encoder.width, encoder.height = video.shape[2], video.shape[1]
            encoder.pix_fmt = "rgb24" if lossless else "yuv420p"
            encoder.options = {"qp": "0"} if lossless else {"crf": str(18 if crf is None else crf)}
            for image in video:
                container.mux(encoder.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
            container.mux(encoder.encode())

    write_atomically(target, write)
    return target


def _rational(fps: float) -> Fraction:
    if not (np.isfinite(fps) and fps > 0):
        raise ValueError(f"write_video: fps must be a positive frame rate, got {fps}")
    return Fraction(fps).limit_denominator(1001)


def _open(source: Path):
    if not source.is_file():
        raise FileNotFoundError(f"{source}: no such video file")
    try:
        return av.open(str(source))
    except av.error.FFmpegError as error:
        raise ValueError(f"{source}: not a readable video file ({error})") from None


def _video_stream(container, source: Path):
    if not container.streams.video:
        raise ValueError(f"{source}: the file holds no video stream")
    return container.streams.video[0]
