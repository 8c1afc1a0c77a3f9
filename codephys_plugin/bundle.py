"""Stage I bundles: the codebook, encoder and decoder with the configuration that produced them.

A bundle is either one ``.safetensors`` file or a directory holding ``weights.safetensors`` and a
human-readable ``config.json``. The configuration travels inside the safetensors metadata too, so
the single file is self-describing; loading never unpickles anything. Writes are atomic: a reader
sees the old bundle or the new one, never half of one.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args

import safetensors
import safetensors.torch
import torch

from codephys_plugin._atomic import write_atomically
from codephys_plugin._state_dicts import compare_state_dicts
from codephys_plugin._version import __version__
from codephys_plugin.autoencoder import AutoencoderConfig, SignalAutoencoder
from codephys_plugin.encoder.signal_encoder import SignalCoderConfig
from codephys_plugin.query.codebook import CodebookConfig
from codephys_plugin.training.windows import WindowConfig

FORMAT_NAME = "codephys-bundle"
FORMAT_VERSION = 1
WEIGHTS_FILE = "weights.safetensors"
CONFIG_FILE = "config.json"
REPORT_FILES = ("report.json", "report.png")
"""What codephys-pretrain writes into a directory bundle beside it (``BUNDLE.report.*`` beside a file)."""
OWN_FILES = frozenset({WEIGHTS_FILE, CONFIG_FILE, *REPORT_FILES})

LabelForm = Literal["waveform", "derivative"]
LABEL_FORMS: tuple[LabelForm, ...] = get_args(LabelForm)


class BundleError(ValueError):
    """A file or directory that is not a valid codephys bundle; the message says why."""


@dataclass(frozen=True)
class BundleConfig:
    """Everything needed to use the codes the way they were learned."""

    autoencoder: AutoencoderConfig = field(default_factory=AutoencoderConfig)
    windows: WindowConfig = field(default_factory=WindowConfig)
    label_form: LabelForm = "waveform"
    """``"derivative"``: codes were learned on first differences (DiffNormalized labels)."""
    normalisation: str = "per-window z-score"
    library_version: str = __version__

    def __post_init__(self) -> None:
        if self.label_form not in LABEL_FORMS:
            raise ValueError(f"label_form must be one of {', '.join(LABEL_FORMS)}, got {self.label_form!r}")

    @property
    def num_codes(self) -> int:
        return self.autoencoder.codebook.num_codes

    @property
    def dim(self) -> int:
        return self.autoencoder.codebook.dim

    @property
    def window(self) -> int:
        return self.windows.window

    @property
    def fs(self) -> float:
        return self.windows.fs

    def to_json(self) -> str:
        return json.dumps({"format": FORMAT_NAME, "format_version": FORMAT_VERSION, **asdict(self)}, indent=2)

    @classmethod
    def from_json(cls, text: str, source: str) -> BundleConfig:
        try:
            raw = json.loads(text)
        except json.JSONDecodeError as error:
            raise BundleError(f"{source}: bundle config is not valid JSON ({error})") from None
        if not isinstance(raw, dict) or raw.get("format") != FORMAT_NAME:
            raise BundleError(f"{source}: not a codephys bundle (no '\"format\": \"{FORMAT_NAME}\"' in its config)")
        if raw.get("format_version") != FORMAT_VERSION:
            raise BundleError(
                f"{source}: bundle format version {raw.get('format_version')!r} is not supported "
                f"(this library reads version {FORMAT_VERSION})"
            )
        try:
            coder = raw["autoencoder"]["coder"]
            windows = dict(raw["windows"])
            windows["band_hz"] = tuple(windows["band_hz"])
            return cls(
                autoencoder=AutoencoderConfig(
                    coder=SignalCoderConfig(**coder), codebook=CodebookConfig(**raw["autoencoder"]["codebook"])
                ),
                windows=WindowConfig(**windows),
                label_form=raw["label_form"],
                normalisation=raw["normalisation"],
                library_version=raw["library_version"],
            )
        except (KeyError, TypeError, ValueError) as error:
            raise BundleError(f"{source}: bundle config is incomplete or invalid ({error!r})") from None


@dataclass
class Bundle:
    model: SignalAutoencoder
    config: BundleConfig


def save_bundle(path: str | os.PathLike, model: SignalAutoencoder, config: BundleConfig) -> Path:
    """Write `model` and `config` atomically; a path ending in ``.safetensors`` gives one file,
    anything else a directory. Returns the path written."""
    if model.config != config.autoencoder:
        raise ValueError("save_bundle: the model's configuration differs from config.autoencoder")
    target = Path(path)
    check_bundle_target(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tensors = {name: tensor.detach().cpu().contiguous() for name, tensor in model.state_dict().items()}
    metadata = {"codephys_config": config.to_json()}
    if target.suffix == ".safetensors":
        payload = safetensors.torch.save(tensors, metadata=metadata)
        write_atomically(target, lambda stream: stream.write(payload))
    else:
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
        safetensors.torch.save_file(tensors, staging / WEIGHTS_FILE, metadata=metadata)
        (staging / CONFIG_FILE).write_text(config.to_json())
        _replace_directory(staging, target)
    return target


def check_bundle_target(path: str | os.PathLike) -> None:
    """Refuse a bundle path whose writing would destroy something other than an earlier bundle.

    Writing replaces what is at `path`: that is safe for nothing, an earlier bundle file, or a
    directory holding only a bundle's own files (`OWN_FILES`); anything else raises `BundleError`.
    """
    target = Path(path)
    if Path.cwd().resolve().is_relative_to(target.resolve()):
        raise BundleError(f"{target}: is the current folder or one above it; a bundle needs a name of its own "
                          "(e.g. --out my_codebook)")
    if not target.exists():
        if target.parent.exists() and not target.parent.is_dir():
            raise BundleError(f"{target}: {target.parent} is a file, not a folder")
        return
    if target.suffix == ".safetensors":
        if target.is_dir():
            raise BundleError(f"{target}: is a folder; a bundle named .safetensors is a single file")
        try:
            is_bundle = "codephys_config" in _read_metadata(target)
        except BundleError:
            is_bundle = False
        if not is_bundle:
            raise BundleError(f"{target}: exists and is not a codephys bundle; refusing to overwrite it "
                              "(choose another --out, or remove the file)")
        return
    if not target.is_dir():
        raise BundleError(f"{target}: exists and is a file, not a bundle folder; refusing to overwrite it "
                          "(choose another --out, or name a .safetensors file)")
    foreign = sorted(entry.name for entry in target.iterdir() if entry.name not in OWN_FILES)
    if foreign:
        shown = ", ".join(foreign[:5]) + (f" and {len(foreign) - 5} more" if len(foreign) > 5 else "")
        raise BundleError(f"{target}: folder holds files that are not a codephys bundle's ({shown}); "
                          "refusing to replace it (choose another --out)")


def load_bundle(path: str | os.PathLike, *, map_location: str | torch.device = "cpu") -> Bundle:
    """Load and validate a bundle; raises `BundleError` naming the file and the problem."""
    source = Path(path)
    if not source.exists():
        raise BundleError(f"{source}: no such bundle file or directory")
    weights_path = source / WEIGHTS_FILE if source.is_dir() else source
    if not weights_path.is_file():
        raise BundleError(f"{source}: a bundle directory must contain {WEIGHTS_FILE}")
    metadata = _read_metadata(weights_path)
    if "codephys_config" not in metadata:
        raise BundleError(f"{weights_path}: safetensors file has no codephys config; not a codephys bundle")
    config = BundleConfig.from_json(metadata["codephys_config"], str(weights_path))
    if source.is_dir():
        _check_directory_config(source / CONFIG_FILE, config)
    model = SignalAutoencoder(config.autoencoder)
    tensors = safetensors.torch.load_file(weights_path, device=str(map_location))
    _load_state(model, tensors, weights_path)
    return Bundle(model.eval(), config)


def _read_metadata(path: Path) -> dict[str, Any]:
    try:
        with safetensors.safe_open(str(path), framework="pt") as handle:
            return handle.metadata() or {}
    except Exception as error:  # safetensors raises its own error types for corrupt files
        raise BundleError(f"{path}: not a readable safetensors file ({error})") from None


def _check_directory_config(path: Path, config: BundleConfig) -> None:
    if not path.is_file():
        raise BundleError(f"{path.parent}: a bundle directory must contain {CONFIG_FILE}")
    if BundleConfig.from_json(path.read_text(), str(path)) != config:
        raise BundleError(f"{path}: disagrees with the config stored in {WEIGHTS_FILE}; the bundle was edited")


def _load_state(model: SignalAutoencoder, tensors: dict[str, torch.Tensor], source: Path) -> None:
    mismatch = compare_state_dicts(model.state_dict(), tensors)
    if mismatch.missing or mismatch.unexpected:
        raise BundleError(
            f"{source}: tensors do not match the config: missing {mismatch.missing}, unexpected {mismatch.unexpected}"
        )
    wrong = [f"{key} {given} != {expected}" for key, given, expected in mismatch.wrong_shape]
    if wrong:
        raise BundleError(f"{source}: tensor shapes do not match the config: {wrong}")
    non_finite = [k for k, t in tensors.items() if t.is_floating_point() and not bool(torch.isfinite(t).all())]
    if non_finite:
        raise BundleError(f"{source}: tensors contain NaN or Inf: {non_finite}")
    model.load_state_dict(tensors, strict=True)


def _replace_directory(staging: Path, target: Path) -> None:
    """Swap a fully written staging directory into place; the old bundle is removed only afterwards."""
    if not target.exists():
        os.replace(staging, target)
        return
    if not target.is_dir():
        shutil.rmtree(staging)
        raise ValueError(f"save_bundle: {target} exists and is not a directory")
    retired = Path(tempfile.mkdtemp(prefix=f".{target.name}.old.", dir=target.parent))
    os.replace(target, retired / target.name)
    os.replace(staging, target)
    shutil.rmtree(retired)
