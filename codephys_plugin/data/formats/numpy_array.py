"""Plain ``.npy`` / ``.npz`` arrays of PPG samples; the sampling rate must be given."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from codephys_plugin.data.recording import Recording, RecordingError


NPY_MAGIC = b"\x93NUMPY"
NPZ_MAGIC = b"PK\x03\x04"
PICKLE_OPCODE = b"\x80"


def open_numpy(path: Path) -> np.ndarray | np.lib.npyio.NpzFile:
    """`np.load` without ever unpickling; a file it cannot read becomes a RecordingError naming it."""
    check_magic(path)
    try:
        return np.load(path, allow_pickle=False)
    except ValueError as error:
        if "allow_pickle" in str(error):
            raise RecordingError(path, "cannot read array: it holds pickled Python objects; refusing to unpickle") from None
        raise RecordingError(path, f"cannot read array ({error})") from None
    except (OSError, EOFError) as error:
        raise RecordingError(path, f"cannot read array; truncated or not a numpy file ({error})") from None


def check_magic(path: Path) -> None:
    """np.load treats any file that is neither .npy nor .npz as a pickle; say what the file really is."""
    try:
        with path.open("rb") as stream:
            head = stream.read(len(NPY_MAGIC))
    except OSError as error:
        raise RecordingError(path, f"cannot read the file ({error})") from None
    if not head:
        raise RecordingError(path, "the file is empty")
    if head.startswith(PICKLE_OPCODE):
        raise RecordingError(path, "holds a pickled Python object, not a numpy array; refusing to unpickle it "
                                   "(save the array with np.save)")
    if not (head == NPY_MAGIC or head.startswith(NPZ_MAGIC)):
        raise RecordingError(path, f"not a numpy file: .npy files start with {NPY_MAGIC!r} and .npz archives "
                                   f"with {NPZ_MAGIC!r}; this one starts with {head!r}")


def load_array(path: Path, key: str | None = None) -> np.ndarray:
    """Load a 1-D float64 array without unpickling (object arrays are refused)."""
    return read_array(path, key).astype(np.float64)


def read_array(path: Path, key: str | None = None) -> np.ndarray:
    """A 1-D real-valued array in its stored dtype, without unpickling; complex and object arrays are refused."""
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
    if squeezed.dtype.kind not in "iuf":
        raise RecordingError(path, f"expected real numbers, got dtype {squeezed.dtype}"
                             + (" (complex: save the real signal, e.g. np.real or np.abs)" if squeezed.dtype.kind == "c" else ""))
    return squeezed


def read_numpy_recording(path: Path, *, fs: float | None, key: str | None = None) -> Recording:
    if fs is None:
        raise RecordingError(path, "a .npy/.npz array has no sampling rate: pass --fs")
    return Recording(name=path.name, source=path, values=load_array(path, key), fs=fs)
