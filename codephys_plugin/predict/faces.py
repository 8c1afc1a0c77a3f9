"""Find the face in a video and crop it the rPPG-Toolbox's way.

The detector is dlib's HOG frontal-face detector, whose model is compiled into the `dlib-bin` wheel (no
download at run time); it is run every `detect_every` frames on the whole frame (upsampled once where it
finds nothing, for small faces), the largest face is kept, the boxes are smoothed by a running median over
`smoothing` detections and interpolated linearly to the frames between. A stretch longer than `max_gap_s`
without a face is an error naming its frames: never a silent fall-back to the whole frame (the toolbox's
habit, its issue #268). Crops are the box enlarged `enlarge` times about its centre (1.5, the toolbox's
LARGE_BOX_COEF), clipped to the frame and area-averaged to the network's size.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

import numpy as np
import scipy.ndimage
from PIL import Image

Box = tuple[float, float, float, float]
"""x, y, width, height in pixels of the frame."""
Detector = Callable[[np.ndarray], list[Box]]


@dataclass(frozen=True)
class TrackingConfig:
    detect_every: int = 30
    """Frames between detections (the toolbox's DYNAMIC_DETECTION_FREQUENCY)."""
    smoothing: int = 3
    """Detections in the running median of the box."""
    max_gap_s: float = 2.0
    """The longest stretch without a detected face that is bridged by interpolation."""
    enlarge: float = 1.5

    def __post_init__(self) -> None:
        if self.detect_every < 1 or self.smoothing < 1 or not self.max_gap_s >= 0 or not self.enlarge >= 1:
            raise ValueError(f"face tracking: expected detect_every ≥ 1, smoothing ≥ 1, max_gap_s ≥ 0 and "
                             f"enlarge ≥ 1, got {self}")


def hog_detector() -> Detector:
    """dlib's HOG + linear SVM frontal-face detector: every face found, as boxes."""
    import dlib

    detect = dlib.get_frontal_face_detector()

    def faces(frame: np.ndarray) -> list[Box]:
        found = detect(frame, 0) or detect(frame, 1)
        return [(float(r.left()), float(r.top()), float(r.width()), float(r.height())) for r in found]

    return faces


@dataclass(frozen=True)
class FaceTrack:
    """The face box of every frame of a video, from the detections at some of them."""

    frames: int
    detected_at: np.ndarray
    """``(k)`` frame indices where a face was found."""
    boxes: np.ndarray
    """``(k 4)`` their smoothed boxes."""
    missed_at: np.ndarray
    """Frame indices where the detector ran and found no face."""

    def box(self, index: int) -> Box:
        return tuple(float(np.interp(index, self.detected_at, self.boxes[:, j])) for j in range(4))


def fixed_track(frames: int, roi: Box) -> FaceTrack:
    """A track that holds `roi` (a box given by the user) in every frame."""
    return FaceTrack(frames, np.array([0]), np.array([roi], dtype=np.float64), np.array([], dtype=int))


def track_face(frames: Iterable[np.ndarray], fps: float, config: TrackingConfig, detector: Detector,
               source: Path) -> FaceTrack:
    """Run `detector` every `config.detect_every` frames; refuse stretches of more than `max_gap_s` without a face."""
    hits, boxes, misses, count = [], [], [], 0
    for index, frame in enumerate(frames):
        count = index + 1
        if index % config.detect_every:
            continue
        found = detector(frame)
        if found:
            hits.append(index)
            boxes.append(max(found, key=lambda box: box[2] * box[3]))
        else:
            misses.append(index)
    _check_coverage(np.array(hits, dtype=int), count, fps, config.max_gap_s, source)
    smoothed = scipy.ndimage.median_filter(np.array(boxes, dtype=np.float64), size=(config.smoothing, 1),
                                           mode="nearest")
    return FaceTrack(count, np.array(hits), smoothed, np.array(misses, dtype=int))


def _check_coverage(hits: np.ndarray, count: int, fps: float, max_gap_s: float, source: Path) -> None:
    if not hits.size:
        raise ValueError(f"{source}: no face found in any of its {count} frames (the detector ran on every "
                         f"detection frame); give the face box with --roi x,y,w,h")
    edges = np.concatenate([[-1], hits, [count]])
    for before, after in zip(edges[:-1], edges[1:]):
        first, last = before + 1, after - 1
        if last >= first and (after - before) / fps > max_gap_s:
            raise ValueError(
                f"{source}: no face found in frames {first}-{last} ({first / fps:.2f}-{last / fps:.2f} s), "
                f"longer than the {max_gap_s:g} s bridged by interpolation; give the face box with --roi x,y,w,h "
                "or cut the video")


def crop_face(frame: np.ndarray, box: Box, size: int, enlarge: float = 1.0) -> np.ndarray:
    """'h w 3' uint8 -> 'size size 3' float32: `box` enlarged about its centre, clipped to the frame, area-averaged."""
    x, y, width, height = box
    centre_x, centre_y = x + width / 2, y + height / 2
    width, height = width * enlarge, height * enlarge
    left, top = max(0, int(round(centre_x - width / 2))), max(0, int(round(centre_y - height / 2)))
    right = min(frame.shape[1], int(round(centre_x + width / 2)))
    bottom = min(frame.shape[0], int(round(centre_y + height / 2)))
    if right - left < 1 or bottom - top < 1:
        raise ValueError(f"crop_face: the box {box} lies outside the {frame.shape[1]}x{frame.shape[0]} frame")
    region = frame[top:bottom, left:right].astype(np.float32)
    return np.stack([np.asarray(Image.fromarray(np.ascontiguousarray(region[..., c])).resize((size, size), Image.BOX))
                     for c in range(3)], axis=-1)
