"""Set up the project's virtual environment (once) and run one of its jobs.

    python3 tasks.py demo            # codebook → PhysNet bare and + CodeQueryHead → degraded held-out table
    python3 tasks.py test            # run the test suite
    python3 tasks.py test --latest   # the same, against the newest releases instead of the lock
    python3 tasks.py lock            # refresh requirements-lock.txt (needs the network)

Only Python and pip are needed. `demo` and `test` install the exact versions of
`requirements-lock.txt` into `.venv` (or `$CODEPHYS_VENV`), so every machine runs the stack the
README's figures were taken with; they reinstall only when `pyproject.toml`, the lock or the
Python changes, so a second call starts at once. `--latest` uses a venv of its own
(`.venv-latest`, or `$CODEPHYS_LATEST_VENV`), ignores the lock and upgrades on every call.
Jobs run with `THP_MEM_ALLOC_ENABLE=1` unless the environment sets it: torch then asks Linux for
transparent huge pages for its large CPU tensors, which spares a CPU training step most of its page
faults (elsewhere torch ignores it).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
LOCK = ROOT / "requirements-lock.txt"
LOCK_PINS = ROOT / "requirements-lock.in"
STAMP_NAME = ".codephys-install-stamp"

JOB_ENVIRONMENT_DEFAULTS = {"THP_MEM_ALLOC_ENABLE": "1"}

JOBS = {
    "demo": ["-m", "codephys_plugin.benchmark.demo"],
    "test": ["-m", "pytest"],
}


def _venv_python(env: Path) -> Path:
    return env / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def _create(env: Path) -> Path:
    python = _venv_python(env)
    if not python.exists():
        print(f"[tasks] creating virtual environment in {env}", flush=True)
        venv.EnvBuilder(with_pip=True).create(env)
    return python


def _pip(python: Path) -> list[str]:
    return [str(python), "-m", "pip", "install", "--disable-pip-version-check", "-q"]


def _install_fingerprint() -> str:
    """What decides whether the locked venv is current: the project, the lock and the interpreter."""
    digest = hashlib.sha256()
    for path in (ROOT / "pyproject.toml", LOCK):
        digest.update(path.read_bytes())
    digest.update(sys.version.encode())
    digest.update(str(ROOT).encode())
    return digest.hexdigest()


def locked_environment() -> Path:
    """The venv with exactly the lock's versions and the package installed editable."""
    env = Path(os.environ.get("CODEPHYS_VENV", ROOT / ".venv"))
    python = _create(env)
    stamp = env / STAMP_NAME
    fingerprint = _install_fingerprint()
    if stamp.exists() and stamp.read_text() == fingerprint:
        return python
    print(f"[tasks] installing the locked dependencies ({LOCK.name}); the first run takes a few minutes", flush=True)
    stamp.unlink(missing_ok=True)
    pip = _pip(python)
    subprocess.run([*pip, "--upgrade", "pip"], check=True)
    subprocess.run([*pip, "-r", str(LOCK)], check=True)
    subprocess.run([*pip, "--no-deps", "-e", f"{ROOT}[dev]"], check=True)
    # The lock must satisfy pyproject's ranges: a dependency added there but not locked fails here.
    subprocess.run([str(python), "-m", "pip", "check"], check=True)
    stamp.write_text(fingerprint)
    return python


def latest_environment() -> Path:
    """A separate venv upgraded to the newest releases pyproject admits, to find breakage early."""
    env = Path(os.environ.get("CODEPHYS_LATEST_VENV", ROOT / ".venv-latest"))
    python = _create(env)
    print("[tasks] upgrading to the newest releases (the lock is ignored)", flush=True)
    pip = _pip(python)
    subprocess.run([*pip, "--upgrade", "pip"], check=True)
    subprocess.run([*pip, "--upgrade", "--upgrade-strategy", "eager", "-e", f"{ROOT}[dev]"], check=True)
    _print_versions(python)
    return python


def _print_versions(python: Path) -> None:
    names = "torch torchvision triton numpy scipy timm einops safetensors hypothesis pytest"
    script = (
        "import importlib.metadata as m\n"
        f"for name in {names.split()!r}:\n"
        "    try: print(f'[tasks]   {name} {m.version(name)}')\n"
        "    except m.PackageNotFoundError: print(f'[tasks]   {name} not installed')\n"
    )
    subprocess.run([str(python), "-c", script], check=True)


def refresh_lock() -> int:
    """Re-resolve the lock for every platform with uv, keeping the pins of requirements-lock.in."""
    tools = _create(ROOT / ".venv-lock")
    subprocess.run([*_pip(tools), "--upgrade", "uv"], check=True)
    command = [
        str(tools), "-m", "uv", "pip", "compile", "pyproject.toml", "--extra", "dev",
        "--universal", "--python-version", "3.10", "--constraint", LOCK_PINS.name,
        "--upgrade", "--output-file", LOCK.name,
    ]
    return subprocess.run(command, cwd=ROOT).returncode


def job_environment(parent: dict[str, str]) -> dict[str, str]:
    """The job's environment: the caller's, with the defaults it does not set itself."""
    return {**JOB_ENVIRONMENT_DEFAULTS, **parent}


def main(argv: list[str]) -> int:
    if argv[:1] == ["lock"]:
        return refresh_lock()
    if not argv or argv[0] not in JOBS:
        print(__doc__, file=sys.stderr)
        return 2
    job, rest = argv[0], argv[1:]
    latest = "--latest" in rest
    rest = [arg for arg in rest if arg != "--latest"]
    python = latest_environment() if latest else locked_environment()
    command = [str(python), *JOBS[job], *rest]
    return subprocess.run(command, cwd=ROOT, env=job_environment(dict(os.environ))).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
