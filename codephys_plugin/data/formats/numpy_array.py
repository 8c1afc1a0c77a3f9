"""Plain ``.npy`` / ``.npz`` arrays of PPG samples; the sampling rate must be given."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from codephys_plugin.data.recording import Recording, RecordingError


def open_numpy(path: Path) -> np.ndarray | np.lib.npyio.NpzFile:
    """`np.load` without ever unpickling; a file it cannot read becomes a RecordingError naming it."""
    try:
        return np.load(path, allow_pickle=False)
    except ValueError as error:
        if "allow_pickle" in str(error):
            raise RecordingError(path, "cannot read array: it holds pickled Python objects; refusing to unpickle") from None
        raise RecordingError(path, f"cannot read array ({error})") from None
    except (OSError, EOFError) as error:
        raise RecordingError(path, f"cannot read array; truncated or not a numpy file ({error})") from None


def load_array(path: Path, key: str | None = None) -> np.ndarray:
    """Load a 1-D float array without unpickling (object arrays are refused)."""
    loaded = open_numpy(path)
    if isinstance(loaded, np.lib.npyio.NpzFile):
        with loaded:
            names = list(loaded.files)
            if key is None and len(names) != 1:
                raise RecordingError(path, f"archive holds {names}: choose one with --npz-key")
            chosen = key or names[0]
            if chosen not in names:
                raise RecordingError(path, f"archive has no array {chosen!r}; it holds {names}")
            loaded = loaded[chosen]
    array = np.asarray(loaded)
    squeezed = array.squeeze()
    if squeezed.ndim != 1:
        raise RecordingError(path, f"expected a 1-D signal (t), got an array of shape {array.shape}")
    if not np.issubdtype(squeezed.dtype, np.number):
        raise RecordingError(path, f"expected numbers, got dtype {squeezed.dtype}")
    return squeezed.astype(np.float64)


def read_numpy_recording(path: Path, *, fs: float | None, key: str | None = None) -> Recording:
    if fs is None:
        raise RecordingError(path, "a .npy/.npz array has no sampling rate: pass --fs")
    return Recording(name=path.name, source=path, values=load_array(path, key), fs=fs)
