"""Set up the project's virtual environment (once) and run one of its jobs.

    python3 tasks.py demo   # pretrain a small codebook on synthetic PPG and print its metrics
    python3 tasks.py test   # run the test suite

Only Python and pip are needed. The environment lives in `.venv` (or `$CODEPHYS_VENV`) and is
reinstalled only when `pyproject.toml` changes, so a second call starts at once.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = Path(os.environ.get("CODEPHYS_VENV", ROOT / ".venv"))
STAMP = VENV / ".codephys-install-stamp"

JOBS = {
    "demo": ["-m", "codephys_plugin.pretrain"],
    "test": ["-m", "pytest"],
}


def _venv_python() -> Path:
    return VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def _install_fingerprint() -> str:
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes())
    digest.update(sys.version.encode())
    digest.update(str(ROOT).encode())
    return digest.hexdigest()


def ensure_environment() -> Path:
    """Create the venv and install the package with its dev extras unless already up to date."""
    python = _venv_python()
    if not python.exists():
        print(f"[tasks] creating virtual environment in {VENV}", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    fingerprint = _install_fingerprint()
    if STAMP.exists() and STAMP.read_text() == fingerprint:
        return python
    print("[tasks] installing codephys-plugin and its dependencies (first run takes a few minutes)", flush=True)
    pip = [str(python), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "--upgrade", "pip"], check=True)
    subprocess.run([*pip, "-e", f"{ROOT}[dev]"], check=True)
    STAMP.write_text(fingerprint)
    return python


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in JOBS:
        print(__doc__, file=sys.stderr)
        return 2
    python = ensure_environment()
    command = [str(python), *JOBS[argv[0]], *argv[1:]]
    return subprocess.run(command, cwd=ROOT).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
