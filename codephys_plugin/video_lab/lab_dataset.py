"""A generated dataset of lab videos written as an rPPG-Toolbox preprocessed cache, with a manifest.

Subject i is drawn from the seed and i alone, video j of subject i from the seed, i and j, so a dataset
can be grown or split into disjoint subject ranges (``first_subject``) and any one video regenerated.
Degradations are applied to the whole video before the toolbox's preprocessing, as a camera would.
The manifest (``manifest.json``) is rewritten after every video and says ``"complete": true`` only at
the end; it lists every file, so a rerun with ``overwrite`` removes exactly what an earlier run wrote.
"""

from __future__ import annotations

import dataclasses
import io
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator

import numpy as np

from codephys_plugin._atomic import write_atomically
from codephys_plugin._json import strict_json
from codephys_plugin._provenance import provenance
from codephys_plugin.data.degradations import DEGRADATIONS, Degradation, degrade
from codephys_plugin.data.face_video import (
    SKIN_TYPES,
    FaceClip,
    FaceVideoConfig,
    HeadMotion,
    draw_subject,
    render_face_video,
)
from codephys_plugin.data.formats.toolbox_cache import LABEL_CHUNK
from codephys_plugin.data.synthetic_ppg import HeartRateChange
from codephys_plugin.data.toolbox_clips import INPUT_CHUNK
from codephys_plugin.video_lab.toolbox_recipes import RECIPES, ToolboxRecipe, chunks, preprocess_video

MANIFEST = "manifest.json"
MANIFEST_FORMAT = "codephys-synth manifest 1"
_SUBJECT_STREAM, _VIDEO_STREAM = 0, 1
MIN_HR_BPM, MAX_HR_BPM = 35.0, 220.0


@dataclass(frozen=True)
class DegradationRange:
    """A degradation whose severity is drawn uniformly in [low, high] per video (low = high: fixed)."""

    name: str
    low: float
    high: float

    def __post_init__(self) -> None:
        if self.name not in DEGRADATIONS:
            raise ValueError(f"degradation {self.name!r}: expected one of {', '.join(DEGRADATIONS)}")
        if not 0 <= self.low <= self.high <= 1:
            raise ValueError(f"degradation {self.name}: severities must satisfy 0 ≤ low ≤ high ≤ 1, "
                             f"got {self.low}:{self.high}")

    def draw(self, rng: np.random.Generator) -> Degradation:
        return DEGRADATIONS[self.name](severity=float(rng.uniform(self.low, self.high)))


@dataclass(frozen=True)
class LabDatasetConfig:
    recipe: ToolboxRecipe = RECIPES["physnet"]
    subjects: int = 10
    first_subject: int = 0
    videos_per_subject: int = 1
    seconds: float = 30.0
    fs: float = 30.0
    hr_range_bpm: tuple[float, float] = (50.0, 150.0)
    hr_drift_bpm: float = 0.0
    """Largest drift of the rate over a video; each video draws one uniformly in ±this."""
    hr_step_bpm: tuple[float, float] | None = None
    """Each video steps its rate by a size drawn in this range, up or down, somewhere in its middle half."""
    motion: HeadMotion = HeadMotion()
    illumination_drift: float = 0.0
    sensor_noise: float = FaceVideoConfig.sensor_noise
    skin_types: tuple[int, ...] = SKIN_TYPES
    """Fitzpatrick types the subjects are drawn from."""
    degradations: tuple[DegradationRange, ...] = ()
    seed: int = 0

    def __post_init__(self) -> None:
        if min(self.subjects, self.videos_per_subject) < 1 or self.first_subject < 0 or self.seed < 0:
            raise ValueError("subjects and videos_per_subject must be ≥ 1, first_subject and seed ≥ 0")
        if self.frames < self.recipe.chunk_length:
            raise ValueError(f"seconds: {self.seconds} s at {self.fs} Hz gives {self.frames} frames, fewer than one "
                             f"chunk of {self.recipe.chunk_length}; make the videos longer")
        if self.hr_step_bpm is not None and not 0 < self.hr_step_bpm[0] <= self.hr_step_bpm[1]:
            raise ValueError(f"hr_step_bpm: expected 0 < low ≤ high, got {self.hr_step_bpm}")
        change = self.hr_drift_bpm + (0.0 if self.hr_step_bpm is None else self.hr_step_bpm[1])
        lowest, highest = self.hr_range_bpm[0] - change, self.hr_range_bpm[1] + change
        if lowest < MIN_HR_BPM or highest > min(MAX_HR_BPM, 60 * self.fs / 2):
            raise ValueError(f"heart rates: the range {self.hr_range_bpm} bpm with drift and step reaches "
                             f"{lowest:g}-{highest:g} bpm, outside {MIN_HR_BPM:g}-{min(MAX_HR_BPM, 30 * self.fs):g}; narrow "
                             "--hr-range or make --hr-step / --hr-drift smaller")
        self.video_config()
        draw_subject(np.random.default_rng(0), self.skin_types)

    @property
    def frames(self) -> int:
        return int(round(self.seconds * self.fs))

    @property
    def chunks_per_video(self) -> int:
        return self.frames // self.recipe.chunk_length

    def video_config(self, hr_change: HeartRateChange | None = None) -> FaceVideoConfig:
        return FaceVideoConfig(frames=self.frames, size=self.recipe.size, fs=self.fs, hr_range_bpm=self.hr_range_bpm,
                               motion=self.motion, hr_change=hr_change, illumination_drift=self.illumination_drift,
                               sensor_noise=self.sensor_noise)

    def bytes_needed(self) -> int:
        per_chunk = self.recipe.chunk_length * (self.recipe.size**2 * self.recipe.channels + 1) * 4 + 2 * 128
        return self.subjects * self.videos_per_subject * self.chunks_per_video * per_chunk


@dataclass(frozen=True)
class LabVideo:
    name: str
    subject: int
    index: int
    clip: FaceClip
    degradations: tuple[Degradation, ...]
    hr_change: HeartRateChange | None


def video_name(subject: int, index: int) -> str:
    return f"s{subject:03d}v{index:02d}"


def lab_videos(config: LabDatasetConfig) -> Iterator[LabVideo]:
    """Every video of the dataset, rendered and degraded, subject by subject."""
    for subject_index in range(config.first_subject, config.first_subject + config.subjects):
        subject = draw_subject(np.random.default_rng([config.seed, _SUBJECT_STREAM, subject_index]), config.skin_types)
        for index in range(config.videos_per_subject):
            rng = np.random.default_rng([config.seed, _VIDEO_STREAM, subject_index, index])
            change = _hr_change(config, rng)
            applied = tuple(spec.draw(rng) for spec in config.degradations)
            clip = render_face_video(config.video_config(change), subject, rng)
            if applied:
                clip = dataclasses.replace(clip, frames=degrade(clip.frames, applied, rng))
            yield LabVideo(video_name(subject_index, index), subject_index, index, clip, applied, change)


def _hr_change(config: LabDatasetConfig, rng: np.random.Generator) -> HeartRateChange | None:
    drift = float(rng.uniform(-config.hr_drift_bpm, config.hr_drift_bpm))
    step = 0.0
    if config.hr_step_bpm is not None:
        step = float(rng.uniform(*config.hr_step_bpm) * rng.choice([-1.0, 1.0]))
    if drift == 0 and step == 0:
        return None
    return HeartRateChange(drift_bpm=drift, step_bpm=step, step_at_s=float(rng.uniform(0.25, 0.75) * config.seconds))


def prepare_output(out: Path, *, overwrite: bool) -> None:
    """Refuse a folder that holds anything this tool did not write; with `overwrite`, remove what an
    earlier run wrote (as its manifest lists) and nothing else."""
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out: {out} is a file, not a folder")
    present = sorted(out.iterdir()) if out.is_dir() else []
    if not present:
        return
    manifest = out / MANIFEST
    if not manifest.is_file():
        raise ValueError(f"--out: {out} is not empty and holds no {MANIFEST} of codephys-synth; choose a new or empty folder")
    written = _written_files(manifest)
    foreign = [path.name for path in present if (INPUT_CHUNK.match(path.name) or LABEL_CHUNK.match(path.name))
               and path.name not in written]
    if foreign:
        raise ValueError(f"--out: {out} holds toolbox chunks its {MANIFEST} does not list (e.g. {foreign[0]}); "
                         "they would be read as part of the dataset: choose another folder")
    if not overwrite:
        raise ValueError(f"--out: {out} already holds a codephys-synth dataset; pass --overwrite to replace it")
    for name in sorted(written):
        (out / name).unlink(missing_ok=True)
    manifest.unlink()


def _written_files(manifest: Path) -> set[str]:
    try:
        videos = json.loads(manifest.read_text())["videos"]
        return {name for video in videos for chunk in video["chunks"] for name in (chunk["input"], chunk["label"])}
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ValueError(f"{manifest}: unreadable codephys-synth manifest ({error}); remove the folder's files "
                         "yourself or choose another folder") from None


def check_space(config: LabDatasetConfig, out: Path) -> None:
    existing = out if out.exists() else next(parent for parent in out.parents if parent.exists())
    free = shutil.disk_usage(existing).free
    if config.bytes_needed() > free:
        raise ValueError(f"--out: the dataset needs {config.bytes_needed() / 1e9:.2f} GB and {existing} has "
                         f"{free / 1e9:.2f} GB free; use fewer or shorter videos")


def holds_dataset(out: Path, config: LabDatasetConfig) -> bool:
    """Whether `out` holds a complete dataset written with exactly `config`, so it need not be written again
    (a folder of other settings, or of an interrupted run, does not count)."""
    manifest = Path(out) / MANIFEST
    if not manifest.is_file():
        return False
    saved = json.loads(manifest.read_text())
    return saved.get("complete") is True and saved.get("config") == json.loads(strict_json(dataclasses.asdict(config)))


def write_lab_dataset(config: LabDatasetConfig, out: Path, *, overwrite: bool = False,
                      progress: Callable[[Iterable[LabVideo], int], Iterable[LabVideo]] = lambda items, total: items,
                      command: list[str] | None = None) -> dict:
    """Write every video's chunks into `out` and return the manifest (also saved as ``out/manifest.json``)."""
    out = Path(out)
    prepare_output(out, overwrite=overwrite)
    check_space(config, out)
    out.mkdir(parents=True, exist_ok=True)
    manifest = _manifest_header(config, command)
    total = config.subjects * config.videos_per_subject
    for video in progress(lab_videos(config), total):
        manifest["videos"].append(_write_video(video, config, out))
        _save_manifest(manifest, out)
    manifest["complete"] = True
    _save_manifest(manifest, out)
    return manifest


def _write_video(video: LabVideo, config: LabDatasetConfig, out: Path) -> dict:
    inputs, labels = preprocess_video(video.clip.frames, video.clip.ppg, config.recipe)
    entries = []
    track = video.clip.hr_track_bpm
    for k, (chunk_inputs, chunk_labels) in enumerate(chunks(inputs, labels, config.recipe.chunk_length)):
        entry = {"index": k, "input": f"{video.name}_input{k}.npy", "label": f"{video.name}_label{k}.npy",
                 "hr_bpm": float(track[k * config.recipe.chunk_length:(k + 1) * config.recipe.chunk_length].mean())}
        _save_array(out / entry["input"], chunk_inputs)
        _save_array(out / entry["label"], chunk_labels)
        entries.append(entry)
    subject = video.clip.subject
    return {
        "video": video.name, "subject": video.subject, "index": video.index,
        "fitzpatrick": subject.fitzpatrick, "skin_rgb": list(subject.skin_rgb), "pulse_levels": subject.pulse_levels,
        "hr_bpm": video.clip.hr_bpm, "hr_track_range_bpm": [float(track.min()), float(track.max())],
        "hr_change": None if video.hr_change is None else dataclasses.asdict(video.hr_change),
        "degradations": [{"name": _degradation_name(applied), "severity": applied.severity} for applied in video.degradations],
        "chunks": entries,
    }


def _degradation_name(applied: Degradation) -> str:
    return next(name for name, kind in DEGRADATIONS.items() if isinstance(applied, kind))


def _manifest_header(config: LabDatasetConfig, command: list[str] | None) -> dict:
    return {
        "format": MANIFEST_FORMAT, "complete": False, "command": command,
        "config": dataclasses.asdict(config),
        "layout": "NDHWC", "labels": config.recipe.label_form, "fs": config.fs,
        **provenance(),
        "videos": [],
    }


def _save_array(path: Path, array: np.ndarray) -> None:
    def write(stream: io.BufferedIOBase) -> None:
        np.save(stream, np.ascontiguousarray(array, dtype=np.float32))

    write_atomically(path, write)


def _save_manifest(manifest: dict, out: Path) -> None:
    text = strict_json(manifest, indent=1) + "\n"
    write_atomically(out / MANIFEST, lambda stream: stream.write(text.encode()))
