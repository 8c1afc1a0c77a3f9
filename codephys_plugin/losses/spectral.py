"""Frequency-domain loss of Eq. 13: cross-entropy between predicted and label power spectra."""

from __future__ import annotations

import torch

from codephys_plugin._checks import check_band, check_sampling_rate, check_tensor

DEFAULT_BAND_HZ = (0.6, 3.3)
MIN_FFT_POINTS = 512
SPECTRUM_FLOOR = 1e-8


def band_power_spectrum(
    signal: torch.Tensor, fs: float, *, band: tuple[float, float] = DEFAULT_BAND_HZ, nfft: int | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Periodogram of ``(b t)`` signals restricted to `band` (Hz).

    Signals are mean-centred and zero-padded to `nfft` points (default: the next power of two of at
    least ``max(t, 512)``, ~3.5 bpm bins at 30 Hz). Returns ``freqs (f)`` in Hz and ``power (b f)``.
    """
    check_tensor(signal, "signal", "b t")
    fs = check_sampling_rate(fs)
    low, high = check_band(*band, fs)
    length = signal.shape[-1]
    if nfft is None:
        nfft = 1 << (max(length, MIN_FFT_POINTS) - 1).bit_length()
    if nfft < length:
        raise ValueError(f"nfft={nfft} is shorter than the signal length t={length}")
    centred = signal.float() - signal.float().mean(dim=-1, keepdim=True)
    power = torch.fft.rfft(centred, n=nfft).abs().pow(2)
    freqs = torch.fft.rfftfreq(nfft, d=1.0 / fs).to(signal.device)
    keep = (freqs >= low) & (freqs <= high)
    if not bool(keep.any()):
        raise ValueError(f"band ({low}, {high}) Hz contains no frequency bin at nfft={nfft}, fs={fs}")
    return freqs[keep], power[:, keep]


def psd_cross_entropy(
    pred: torch.Tensor,
    target: torch.Tensor,
    fs: float,
    *,
    band: tuple[float, float] = DEFAULT_BAND_HZ,
    nfft: int | None = None,
) -> torch.Tensor:
    """``mean_b −Σ_f q(f) log p(f)`` with p, q the in-band spectra of `pred` and `target` (``b t``)
    normalised to sum to one. Normalising makes the loss blind to amplitude, as the label's scale
    says nothing about the video's; a small floor keeps flat signals finite (a uniform spectrum)."""
    check_tensor(target, "target", "b t", sizes={"b": pred.shape[0], "t": pred.shape[-1]})
    _, pred_power = band_power_spectrum(pred, fs, band=band, nfft=nfft)
    _, target_power = band_power_spectrum(target, fs, band=band, nfft=nfft)
    pred_dist = _normalise(pred_power)
    target_dist = _normalise(target_power)
    return -(target_dist * torch.log(pred_dist)).sum(dim=-1).mean()


def _normalise(power: torch.Tensor) -> torch.Tensor:
    scale = power.sum(dim=-1, keepdim=True).detach()
    floored = power + SPECTRUM_FLOOR * (scale + 1.0)
    return floored / floored.sum(dim=-1, keepdim=True)
