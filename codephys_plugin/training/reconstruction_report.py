"""How faithfully a Stage I model reconstructs held-out recordings (the paper's Table VII)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import scipy.signal
import torch

from codephys_plugin._json import format_undefined, strict_json
from codephys_plugin.autoencoder import SignalAutoencoder
from codephys_plugin.data.recording import SignalForm
from codephys_plugin.heart_rate.estimate import hr_fft, prepare_for_hr
from codephys_plugin.heart_rate.metrics import HRMetrics, hr_metrics
from codephys_plugin.losses.pearson import pearson_r
from codephys_plugin.query.codebook import usage_from_counts
from codephys_plugin.rppg.filters import DEFAULT_HIGH_HZ, DEFAULT_LOW_HZ
from codephys_plugin.training.windows import WindowConfig, cut_windows


DEFAULT_HR_WINDOW_S = 30.0


@dataclass(frozen=True)
class RecordingResult:
    name: str
    windows: int
    waveform_r: float
    hr_original_bpm: list[float]
    """FFT HR of the original, one per HR window."""
    hr_reconstructed_bpm: list[float]


@dataclass(frozen=True)
class ReconstructionReport:
    waveform_r: float
    """Mean Pearson r between reconstructed and original windows."""
    hr: HRMetrics | None
    """FFT HR of the continuous reconstruction vs that of the original, per HR window (None when no
    HR window could be measured; see `unmeasured`)."""
    hr_band_hz: tuple[float, float]
    """Where HR was looked for (and the toolbox's post-processing band-passed)."""
    num_windows: int
    perplexity: float
    dead_codes: int
    """Codes that no held-out window used."""
    recordings: list[RecordingResult] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    """Recordings left out by --skip-bad, with the reason."""
    repaired: list[str] = field(default_factory=list)
    """Recordings read with a repair (merged repeated timestamps), with what was done."""
    unmeasured: list[str] = field(default_factory=list)
    """HR windows left out of `hr` because their HR could not be measured, with the reason."""
    pulseless_windows: int = 0
    """Windows of the inputs left out of training and validation for holding no pulse above the
    noise floor (see `data.quality.pulse_stretches`)."""

    def to_json(self) -> str:
        """Strict JSON: an undefined value (e.g. the HR Pearson r of constant HRs) is null."""
        return strict_json(asdict(self), indent=2)


@dataclass(frozen=True)
class Reconstructed:
    """Windows of one recording and their reconstructions, kept for plotting."""

    name: str
    original: np.ndarray
    reconstruction: np.ndarray


@torch.no_grad()
def evaluate_reconstruction(
    model: SignalAutoencoder,
    recordings: list[tuple[str, list[np.ndarray]]],
    config: WindowConfig,
    *,
    label_form: SignalForm = "waveform",
    hr_window_s: float = DEFAULT_HR_WINDOW_S,
    hr_band_hz: tuple[float, float] = (DEFAULT_LOW_HZ, DEFAULT_HIGH_HZ),
    skipped: list[str] | None = None,
    repaired: list[str] | None = None,
    pulseless_windows: int = 0,
) -> tuple[ReconstructionReport, list[Reconstructed]]:
    """Compare held-out ``(name, filtered segments)`` recordings with their reconstructions.

    Waveform r is measured per non-overlapping window, as the codebook sees it. Heart rates are
    measured as the toolbox does (detrend, band-pass, FFT peak) on the *continuous* reconstruction,
    stitched from half-overlapping windows, over consecutive `hr_window_s` windows (0: the whole
    segment), so that window seams never enter the spectrum.
    """
    if not recordings:
        raise ValueError("evaluate_reconstruction: no validation recordings")
    model.eval()
    counts = torch.zeros(model.codebook.num_codes, dtype=torch.int64)
    results, examples, all_r, unmeasured = [], [], [], []
    diff = label_form == "derivative"
    low, high = hr_band_hz

    def heart_rate(signal: np.ndarray) -> float:
        return hr_fft(prepare_for_hr(signal, config.fs, diff_normalized=diff, low=low, high=high), config.fs,
                      low=low, high=high)

    for name, segments in recordings:
        windows = np.concatenate([cut_windows(s, config, hop=config.window) for s in segments])
        rebuilt, indices = _reconstruct_windows(model, windows)
        counts += torch.bincount(indices.reshape(-1), minlength=counts.numel())
        correlations = pearson_r(torch.as_tensor(rebuilt), torch.as_tensor(windows)).double()
        all_r.append(correlations)
        hr_original, hr_rebuilt = [], []
        for segment in segments:
            continuous = reconstruct_continuous(model, segment, config)
            for part in _hr_windows(segment.size, config.fs, hr_window_s):
                try:
                    pair = heart_rate(segment[part]), heart_rate(continuous[part])
                except ValueError as problem:
                    unmeasured.append(f"{name} samples {part.start}-{part.stop}: {problem}")
                    continue
                hr_original.append(pair[0])
                hr_rebuilt.append(pair[1])
        results.append(RecordingResult(name, len(windows), float(correlations.mean()), hr_original, hr_rebuilt))
        examples.append(Reconstructed(name, windows, rebuilt))
    usage = usage_from_counts(counts)
    every_r = torch.cat(all_r)
    hr_rebuilt = [hr for r in results for hr in r.hr_reconstructed_bpm]
    report = ReconstructionReport(
        waveform_r=float(every_r.mean()),
        hr=hr_metrics(hr_rebuilt, [hr for r in results for hr in r.hr_original_bpm]) if hr_rebuilt else None,
        hr_band_hz=(float(low), float(high)),
        num_windows=int(every_r.numel()),
        perplexity=usage.perplexity,
        dead_codes=usage.dead_codes,
        recordings=results,
        skipped=list(skipped or []),
        repaired=list(repaired or []),
        unmeasured=unmeasured,
        pulseless_windows=pulseless_windows,
    )
    return report, examples


def _reconstruct_windows(model: SignalAutoencoder, windows: np.ndarray) -> tuple[np.ndarray, torch.Tensor]:
    device = next(model.parameters()).device
    output = model(torch.as_tensor(windows, dtype=torch.float32, device=device))
    return output.reconstruction.double().cpu().numpy(), output.quantized.indices.cpu()


@torch.no_grad()
def reconstruct_continuous(model: SignalAutoencoder, segment: np.ndarray, config: WindowConfig) -> np.ndarray:
    """Reconstruct a whole ``(t)`` segment: half-overlapping windows are standardised, passed through
    the model, given back their mean and scale, and cross-faded with a Hann taper."""
    length = config.window
    if segment.size < length:
        raise ValueError(f"segment of {segment.size} samples is shorter than one window ({length})")
    starts = sorted(set(range(0, segment.size - length + 1, length // 2)) | {segment.size - length})
    windows = np.stack([segment[s : s + length] for s in starts])
    mean = windows.mean(axis=1, keepdims=True)
    scale = windows.std(axis=1, keepdims=True)
    scale[scale == 0] = 1.0
    rebuilt, _ = _reconstruct_windows(model, (windows - mean) / scale)
    taper = scipy.signal.windows.hann(length + 2)[1:-1]
    total, weight = np.zeros(segment.size), np.zeros(segment.size)
    for start, window in zip(starts, rebuilt * scale + mean):
        total[start : start + length] += taper * window
        weight[start : start + length] += taper
    return total / weight


def _hr_windows(length: int, fs: float, seconds: float) -> list[slice]:
    """Consecutive windows of `seconds` (the last one absorbs the remainder); one if 0 or too short."""
    size = int(round(seconds * fs))
    if size <= 0 or length < 2 * size:
        return [slice(0, length)]
    edges = list(range(0, length - size + 1, size))
    return [slice(a, b) for a, b in zip(edges, edges[1:] + [length])]


def format_report(report: ReconstructionReport) -> str:
    hr = report.hr
    low, high = report.hr_band_hz
    lines = [
        f"held-out reconstruction over {len(report.recordings)} recordings / {report.num_windows} windows "
        f"(HR from {hr.n if hr else 0} HR windows, FFT peak in {low:g}-{high:g} Hz):",
        f"  waveform Pearson r       {report.waveform_r:.4f}",
    ]
    if hr is None:
        lines.append("  HR                       not measured: no HR window could be (see 'unmeasured' in the JSON)")
    else:
        lines += [
            f"  HR MAE / RMSE / SD (bpm) {hr.mae:.3f} / {hr.rmse:.3f} / {hr.sd:.3f}",
            f"  HR Pearson r             {format_undefined(hr.pearson, '.4f', 'the HRs are constant or too few')}",
        ]
    lines.append(f"  codebook perplexity      {report.perplexity:.1f}, dead codes {report.dead_codes}")
    if report.unmeasured:
        lines.append(f"  unmeasured HR windows    {len(report.unmeasured)} (see the JSON report)")
    if report.pulseless_windows:
        lines.append(f"  pulse-less windows       {report.pulseless_windows} left out (no pulse above the noise floor)")
    if report.skipped:
        lines.append(f"  skipped recordings       {len(report.skipped)} (see the JSON report)")
    if report.repaired:
        lines.append(f"  repaired recordings      {len(report.repaired)} (repeated timestamps merged; see the JSON report)")
    return "\n".join(lines)


def plot_reconstructions(examples: list[Reconstructed], config: WindowConfig, path: Path, *, rows: int = 4) -> None:
    """A few windows (reconstruction over original) and their spectra, one row per recording."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    chosen = examples[:: max(1, len(examples) // rows)][:rows]
    figure, axes = plt.subplots(len(chosen), 2, figsize=(12, 2.6 * len(chosen)), squeeze=False)
    t = np.arange(config.window) / config.fs
    for (wave_ax, spectrum_ax), example in zip(axes, chosen):
        index = len(example.original) // 2
        original, rebuilt = example.original[index], example.reconstruction[index]
        wave_ax.plot(t, original, label="original", color="black", linewidth=1.2)
        wave_ax.plot(t, rebuilt, label="reconstruction", color="tab:red", linewidth=1.0, linestyle="--")
        wave_ax.set_title(example.name, fontsize=9)
        wave_ax.set_xlabel("s")
        freqs = np.fft.rfftfreq(1024, 1 / config.fs)
        for signal, style in ((original, dict(color="black")), (rebuilt, dict(color="tab:red", linestyle="--"))):
            spectrum_ax.plot(freqs * 60, np.abs(np.fft.rfft(signal - signal.mean(), 1024)) ** 2, **style)
        spectrum_ax.set_xlim(0, 480)
        spectrum_ax.set_xlabel("bpm")
        spectrum_ax.set_yticks([])
    axes[0, 0].legend(loc="upper right", fontsize=8)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)
