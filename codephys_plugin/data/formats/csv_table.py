"""CSV files with a chosen PPG column and, optionally, a timestamp column (e.g. PhysioKit)."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from codephys_plugin.data.recording import Recording, RecordingError

TIME_UNITS = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "ns": 1e-9}


@dataclass(frozen=True)
class CsvOptions:
    column: str | None = None
    """Column name, or a 0-based index for files without a header. Default: the only numeric column
    other than the time column, if there is exactly one."""
    time_column: str | None = None
    time_unit: str = "ms"

    def __post_init__(self) -> None:
        if self.time_unit not in TIME_UNITS:
            raise ValueError(f"time unit must be one of {sorted(TIME_UNITS)}, got {self.time_unit!r}")


def read_csv_recording(path: Path, options: CsvOptions, *, fs: float | None = None) -> Recording:
    """One CSV column; resampled on `options.time_column` when given, else at `fs` (which is then
    not applied: --fs is the rate of inputs without timestamps)."""
    rows = _read_rows(path)
    header, body = _split_header(rows)
    column = _column_index(path, header, options.column, "PPG column", default=_default_column(path, header, body, options))
    values = _numeric_column(path, body, column, header)
    times = None
    if options.time_column is not None:
        time_index = _column_index(path, header, options.time_column, "time column")
        times = _numeric_column(path, body, time_index, header) * TIME_UNITS[options.time_unit]
    label = header[column] if header else str(column)
    return Recording(
        name=f"{path.name}[{label}]", source=path, values=values, timestamps_s=times, fs=None if times is not None else fs
    )


def _read_rows(path: Path) -> list[list[str]]:
    text = path.read_text(errors="strict")
    rows = [row for row in csv.reader(text.splitlines()) if any(cell.strip() for cell in row)]
    if not rows:
        raise RecordingError(path, "empty file")
    return rows


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _split_header(rows: list[list[str]]) -> tuple[list[str] | None, list[list[str]]]:
    first = rows[0]
    if any(cell.strip() and not _is_number(cell) for cell in first):
        return [cell.strip() for cell in first], rows[1:]
    return None, rows


def _column_index(path: Path, header: list[str] | None, wanted: str | None, what: str, default: int | None = None) -> int:
    if wanted is None:
        if default is None:
            raise RecordingError(path, f"no {what} given")
        return default
    if header is not None and wanted in header:
        return header.index(wanted)
    if wanted.isdigit():
        return int(wanted)
    available = ", ".join(repr(h) for h in header) if header else "none (no header; use a 0-based index)"
    raise RecordingError(path, f"unknown {what} {wanted!r}; columns: {available}")


def _default_column(path: Path, header: list[str] | None, body: list[list[str]], options: CsvOptions) -> int | None:
    if options.column is not None or not body:
        return None
    numeric = [i for i, cell in enumerate(body[0]) if _is_number(cell)]
    if options.time_column is not None and header and options.time_column in header:
        numeric = [i for i in numeric if i != header.index(options.time_column)]
    if len(numeric) != 1:
        names = [header[i] if header else str(i) for i in numeric]
        raise RecordingError(path, f"several numeric columns {names}: choose one with --column")
    return numeric[0]


def _numeric_column(path: Path, body: list[list[str]], index: int, header: list[str] | None) -> np.ndarray:
    if not body:
        raise RecordingError(path, "no data rows")
    width = len(header) if header else len(body[0])
    if index >= width:
        raise RecordingError(path, f"column index {index} is out of range; the file has {width} columns")
    values = np.empty(len(body))
    first_data_line = 2 if header else 1
    for row_number, row in enumerate(body):
        line = first_data_line + row_number
        if len(row) < width:
            raise RecordingError(path, f"line {line} has {len(row)} fields, expected {width} (truncated file?)")
        cell = row[index].strip()
        try:
            values[row_number] = float(cell) if cell else np.nan
        except ValueError:
            raise RecordingError(path, f"line {line}: {cell!r} in column {index} is not a number") from None
    return values
