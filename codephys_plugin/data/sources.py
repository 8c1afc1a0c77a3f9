"""Turn the files, folders and globs a user names into recordings, detecting each file's format.

An input may end in ``@COLUMN`` to pick a CSV column for that input alone, e.g.
``'data/*.csv@PPG Ear'``. Files are read one at a time, when iterated, so a large dataset is never
held in memory at once.
"""

from __future__ import annotations

import glob
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Iterator, Literal

from codephys_plugin.data.formats.csv_table import CsvOptions, read_csv_recording
from codephys_plugin.data.formats.numpy_array import read_numpy_recording
from codephys_plugin.data.formats.pure import read_pure_json
from codephys_plugin.data.formats.toolbox_cache import group_label_chunks, is_label_chunk, read_toolbox_video
from codephys_plugin.data.formats.ubfc import read_ubfc1_gtdump, read_ubfc2_ground_truth
from codephys_plugin.data.recording import Recording, RecordingError, SignalForm

Format = Literal["auto", "ubfc2", "ubfc1", "pure", "toolbox", "csv", "numpy"]
FORMATS: tuple[str, ...] = ("auto", "ubfc2", "ubfc1", "pure", "toolbox", "csv", "numpy")


@dataclass(frozen=True)
class ReadOptions:
    format: Format = "auto"
    csv: CsvOptions = field(default_factory=CsvOptions)
    fs: float | None = None
    npz_key: str | None = None
    toolbox_form: SignalForm = "derivative"
    """The toolbox's usual LABEL_TYPE is DiffNormalized; say "waveform" for Standardized/Raw caches."""


Source = Callable[[], Recording]
"""One recording to be read: calling it parses the file (raising `RecordingError` on bad input)."""


def detect_format(path: Path) -> str | None:
    """The format a file's name implies, or None for files that are not PPG labels."""
    name = path.name.lower()
    if name == "ground_truth.txt":
        return "ubfc2"
    if name == "gtdump.xmp":
        return "ubfc1"
    if name.endswith(".json"):
        return "pure"
    if is_label_chunk(path):
        return "toolbox"
    if name.endswith(".csv"):
        return "csv"
    if name.endswith((".npy", ".npz")):
        return "numpy"
    return None


def iter_sources(inputs: list[str], options: ReadOptions) -> Iterator[Source]:
    """Sources for every input, in a stable order; unknown or missing inputs raise `RecordingError`."""
    for spec in inputs:
        pattern, column = _split_column(spec)
        local = options if column is None else replace(options, csv=replace(options.csv, column=column))
        files = _expand(pattern, local.format)
        yield from _sources_for(files, local)


def _split_column(spec: str) -> tuple[str, str | None]:
    if "@" in spec and not Path(spec).exists():
        pattern, column = spec.rsplit("@", 1)
        return pattern, column
    return spec, None


def _expand(pattern: str, forced: str) -> list[Path]:
    matches = sorted(Path(p) for p in glob.glob(pattern, recursive=True)) or [Path(pattern)]
    files: list[Path] = []
    for path in matches:
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and _wanted_in_folder(p, forced))
            if not found:
                wanted = "PPG label files of a known format" if forced == "auto" else f"{forced} files (format forced)"
                raise RecordingError(path, f"folder contains no {wanted}")
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            raise RecordingError(path, "no such file, folder or glob match")
    return files


def _wanted_in_folder(path: Path, forced: str) -> bool:
    detected = detect_format(path)
    if forced != "auto":
        return detected == forced or (forced == "numpy" and detected == "toolbox")
    return detected is not None and detected != "numpy"


def _sources_for(files: list[Path], options: ReadOptions) -> Iterator[Source]:
    chunks = [f for f in files if _format_of(f, options) == "toolbox"]
    for (_, video), video_chunks in group_label_chunks(chunks).items():
        yield lambda c=video_chunks, v=video: read_toolbox_video(v, c, fs=options.fs, form=options.toolbox_form)
    for path in files:
        kind = _format_of(path, options)
        if kind != "toolbox":
            yield lambda p=path, k=kind: _read_one(p, k, options)


def _format_of(path: Path, options: ReadOptions) -> str:
    if options.format != "auto":
        return options.format
    kind = detect_format(path)
    if kind is None:
        raise RecordingError(path, "cannot tell the format from the file name: pass --format")
    return kind


def _read_one(path: Path, kind: str, options: ReadOptions) -> Recording:
    try:
        if kind == "ubfc2":
            recording = read_ubfc2_ground_truth(path)
        elif kind == "ubfc1":
            recording = read_ubfc1_gtdump(path)
        elif kind == "pure":
            recording = read_pure_json(path)
        elif kind == "csv":
            recording = read_csv_recording(path, options.csv, fs=options.fs)
        else:
            return read_numpy_recording(path, fs=options.fs, key=options.npz_key)
    except UnicodeDecodeError:
        raise RecordingError(path, f"not a text file, cannot read it as {kind}") from None
    return recording
