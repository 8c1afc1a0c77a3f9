"""Each degradation is the identity at severity 0 and changes what it claims, and only that."""

import numpy as np
import pytest

from codephys_plugin.data.degradations import (
    DEGRADATIONS,
    Brightness,
    CameraNoise,
    Compression,
    Defocus,
    MotionBlur,
    Occlusion,
    degrade,
)
from codephys_plugin.data.face_video import FaceVideoConfig, draw_subject, render_face_video


@pytest.fixture(scope="module")
def face() -> np.ndarray:
    rng = np.random.default_rng(0)
    return render_face_video(FaceVideoConfig(frames=32), draw_subject(rng), rng).frames


def high_frequency_energy(video: np.ndarray) -> float:
    values = video.astype(np.float64)
    return float((np.diff(values, axis=1) ** 2).mean() + (np.diff(values, axis=2) ** 2).mean())


@pytest.mark.parametrize("name", sorted(DEGRADATIONS))
def test_severity_zero_is_the_identity_and_a_seed_is_reproducible(face, name):
    np.testing.assert_array_equal(DEGRADATIONS[name](severity=0.0)(face, np.random.default_rng(1)), face)
    first = DEGRADATIONS[name](severity=1.0)(face, np.random.default_rng(2))
    np.testing.assert_array_equal(first, DEGRADATIONS[name](severity=1.0)(face, np.random.default_rng(2)))
    assert first.dtype == np.uint8 and first.shape == face.shape
    assert not np.array_equal(first, face), f"{name} at severity 1 changed nothing"


def test_noise_leaves_the_mean():
    grey = np.full((20, 64, 64, 3), 128, dtype=np.uint8)
    noisy = CameraNoise(severity=1.0)(grey, np.random.default_rng(0))
    assert abs(noisy.astype(np.float64).mean() - 128) < 0.2
    assert 15 < noisy.astype(np.float64).std() < 30


def test_gamma_keeps_every_pixel_in_order(face):
    bright = Brightness(severity=1.0)(face, np.random.default_rng(0))
    for before, after in zip(face[:, ..., 1].reshape(face.shape[0], -1), bright[:, ..., 1].reshape(face.shape[0], -1)):
        order = np.argsort(before, kind="stable")
        assert np.all(np.diff(after[order].astype(int)) >= 0)


def test_occlusion_touches_only_its_square(face):
    occluded = Occlusion(severity=1.0)(face, np.random.default_rng(0))
    for before, after in zip(face, occluded):
        rows, cols = np.nonzero(np.any(before != after, axis=-1))
        if rows.size:
            assert rows.max() - rows.min() < 8 and cols.max() - cols.min() < 8  # 72/10 rounds to 7


def test_compression_error_is_measurable_and_bounded(face):
    errors = [np.abs(Compression(severity=s)(face, np.random.default_rng(0)).astype(int) - face).mean()
              for s in (0.3, 1.0)]
    assert 0 < errors[0] < errors[1] < 20


@pytest.mark.parametrize("degradation", [Defocus(1.0), MotionBlur(1.0)], ids=["defocus", "motion blur"])
def test_blur_removes_fine_detail_and_keeps_the_mean(face, degradation):
    blurred = degradation(face, np.random.default_rng(0))
    assert high_frequency_energy(blurred) < 0.8 * high_frequency_energy(face)
    assert abs(blurred.astype(np.float64).mean() - face.astype(np.float64).mean()) < 1.0


def test_degradations_compose_in_order_and_check_their_input(face):
    chain = [Defocus(0.5), CameraNoise(0.5)]
    together = degrade(face, chain, 3)
    rng = np.random.default_rng(3)
    np.testing.assert_array_equal(together, chain[1](chain[0](face, rng), rng))
    with pytest.raises(ValueError, match=r"expected uint8 \(t h w 3\)"):
        degrade(face.astype(np.float32), chain, 0)
    with pytest.raises(ValueError, match=r"severity: expected a number in \[0, 1\]"):
        Defocus(severity=1.5)
