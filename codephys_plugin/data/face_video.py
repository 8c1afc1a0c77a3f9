"""Synthetic face videos by the skin-reflection model, with a known physiological pulse.

Each skin pixel is ``illumination(t) · (skin_rgb · (1 − gain(x) · a · p(t) · pulse_rgb) · shade(x) · texture(x)
+ specular(t, x))`` (de Haan & Jeanne 2013; Wang et al. 2017): p is the contact PPG scaled to unit peak to
peak, and the minus sign is the physics (skin reflects less light as blood volume rises). The
blood-volume direction is ≈ (0.33, 0.77, 0.53); `a` is set so that green changes by the subject's
`pulse_levels` at full gain (forehead and cheeks), half that elsewhere on the skin. Hair, eyes, brows and
mouth carry no pulse; the background carries none and does not move with the head. Skin tones span the
six Fitzpatrick types, so darker skin gets the smaller absolute pulse it has in real video. The head
translates, rotates and scales along slow random paths (optionally with a periodic component, e.g. in the
heart-rate band), the mouth opens and closes, and the light drifts. Clean output: uint8 RGB ``t h w 3``;
sensor noise, blur, compression and the like are degradations applied afterwards.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import scipy.ndimage

from codephys_plugin.data.slow_paths import slow_path
from codephys_plugin.data.synthetic_ppg import HeartRateChange, SyntheticPPGConfig, synthesize_ppg
from codephys_plugin.data.video_noise import standard_normal

BLOOD_VOLUME_RGB = np.array([0.33, 0.77, 0.53], dtype=np.float32)
FITZPATRICK_RGB = np.array(
    [[236, 200, 178], [222, 180, 150], [198, 150, 118], [160, 116, 84], [118, 82, 58], [78, 54, 40]], dtype=np.float32
)
"""Typical linear-light skin colours (pixel levels) of Fitzpatrick types I-VI under white light."""
TEXTURE_GRID = 96
"""Resolution of the per-subject texture, in face coordinates spanning ±1.4 semi-axes."""
FACE_EXTENT = 1.4
POSE_RATES_HZ = (0.05, 0.5)
"""Head motion and light drift stay below the lowest heart rate (unless a periodic motion is asked for)."""


@dataclass(frozen=True)
class FaceSubject:
    """Everything that stays the same over a subject's videos."""

    fitzpatrick: int
    skin_rgb: tuple[float, float, float]
    hair_rgb: tuple[float, float, float]
    lip_rgb: tuple[float, float, float]
    background_rgb: tuple[float, float, float]
    semi_axes: tuple[float, float]
    """Half width and half height of the face, as fractions of the frame size."""
    pulse_levels: float
    """Peak-to-peak green change (pixel levels) of fully perfused skin under unit light."""
    light_direction: tuple[float, float, float]
    specular_strength: float
    texture_seed: int


SKIN_TYPES = (1, 2, 3, 4, 5, 6)


def draw_subject(rng: np.random.Generator, skin_types: tuple[int, ...] = SKIN_TYPES) -> FaceSubject:
    """A subject with a Fitzpatrick type drawn uniformly from `skin_types`, jittered colours, face shape and lighting."""
    types = sorted(set(skin_types))
    if not types or not set(types) <= set(SKIN_TYPES):
        raise ValueError(f"skin_types: expected Fitzpatrick types among 1-6, got {skin_types}")
    kind = types[int(rng.integers(len(types)))]
    skin = FITZPATRICK_RGB[kind - 1] * rng.uniform(0.92, 1.08, size=3)
    light = np.array([rng.uniform(-0.5, 0.5), rng.uniform(-0.6, -0.1), 1.0])
    return FaceSubject(
        fitzpatrick=kind,
        skin_rgb=tuple(float(v) for v in np.clip(skin, 20, 250)),
        hair_rgb=tuple(float(v) for v in rng.uniform(10, 90) * np.array([1.0, 0.8, 0.65])),
        lip_rgb=tuple(float(v) for v in np.clip(skin * np.array([0.95, 0.62, 0.62]), 10, 250)),
        background_rgb=tuple(float(v) for v in rng.uniform(20, 200, size=3)),
        semi_axes=(float(rng.uniform(0.26, 0.32)), float(rng.uniform(0.34, 0.42))),
        pulse_levels=float(rng.uniform(0.5, 2.0) * skin[1] / FITZPATRICK_RGB[2, 1]),
        light_direction=tuple(float(v) for v in light / np.linalg.norm(light)),
        specular_strength=float(rng.uniform(5.0, 25.0)),
        texture_seed=int(rng.integers(2**31)),
    )


@dataclass(frozen=True)
class HeadMotion:
    """Peak excursions of the head over a clip; 0 keeps it still."""

    translation_px: float = 0.0
    rotation_deg: float = 0.0
    scale: float = 0.0
    """Peak relative change of the face size (0.05: ±5 %)."""
    periodic_hz: float | None = None
    """Adds a periodic component at this rate (half of each excursion), e.g. inside the heart-rate band."""
    mouth: float = 0.0
    """How far the mouth opens when talking, 0-1."""


@dataclass(frozen=True)
class FaceVideoConfig:
    frames: int = 900
    size: int = 72
    fs: float = 30.0
    hr_range_bpm: tuple[float, float] = (50.0, 150.0)
    motion: HeadMotion = HeadMotion()
    hr_change: HeartRateChange | None = None
    """A drift and/or step of the heart rate within the clip (see `hr_track_bpm`)."""
    illumination_drift: float = 0.0
    """Peak relative change of the light over the clip (slow)."""
    sensor_noise: float = 0.5
    """Std of the camera's own per-pixel noise in pixel levels, added before quantisation: what is left of a
    webcam's 1-2 levels once the face crop is area-averaged down to the network's size. Networks trained on
    real faces read noise-free, hard-quantised frames worse (results/video_lab/realism.json)."""

    def __post_init__(self) -> None:
        if self.frames < 2 or self.size < 16:
            raise ValueError(f"frames ≥ 2 and size ≥ 16 needed, got frames={self.frames}, size={self.size}")
        if not (math.isfinite(self.fs) and self.fs > 0):
            raise ValueError(f"fs must be a positive rate in Hz, got {self.fs}")
        if not 0 <= self.illumination_drift < 1:
            raise ValueError(f"illumination_drift must be in [0, 1), got {self.illumination_drift}")
        if not (math.isfinite(self.sensor_noise) and 0 <= self.sensor_noise <= 20):
            raise ValueError(f"sensor_noise must be 0-20 pixel levels, got {self.sensor_noise}")


@dataclass(frozen=True, eq=False)
class FaceClip:
    frames: np.ndarray
    """``(t h w 3)`` uint8 RGB."""
    ppg: np.ndarray
    """``(t)`` contact PPG (blood volume up), unit peak to peak; ``ppg[i]`` is the pulse in ``frames[i]``."""
    hr_bpm: float
    """Mean rate of the generated beats."""
    hr_track_bpm: np.ndarray
    """``(t)`` the instantaneous rate of the beat each frame falls in: the truth for an HR track over time."""
    skin_mask: np.ndarray
    """``(t h w)`` bool: the pixels that carry the pulse (for the classic methods' RGB trace)."""
    subject: FaceSubject


def render_face_video(config: FaceVideoConfig, subject: FaceSubject, rng: np.random.Generator | int) -> FaceClip:
    """One clip of `subject`; every random draw comes from `rng`."""
    rng = np.random.default_rng(rng)
    ppg = synthesize_ppg(SyntheticPPGConfig(fs=config.fs, duration_s=config.frames / config.fs,
                                            hr_range_bpm=config.hr_range_bpm, baseline_wander=0.0), seed=rng,
                         hr_change=config.hr_change)
    wave = (ppg.signal - ppg.signal.mean()) / np.ptp(ppg.signal)
    t = np.arange(config.frames) / config.fs
    pose = _pose(config, t, rng)
    light = 1 + config.illumination_drift * slow_path(t, rng, POSE_RATES_HZ)
    face = _posed_face(config.size, subject, pose)
    relative = subject.pulse_levels / (subject.skin_rgb[1] * BLOOD_VOLUME_RGB[1])
    pulse_rgb = -relative * np.asarray(subject.skin_rgb, dtype=np.float32) * BLOOD_VOLUME_RGB
    frames = face.pulse[..., None] * (pulse_rgb * _per_frame(wave))
    frames += face.rgb + (1 - face.head[..., None]) * _background(config.size, subject)
    frames *= _per_frame(light)
    if config.sensor_noise > 0:
        frames += config.sensor_noise * standard_normal(frames.shape, rng)
    return FaceClip(
        frames=np.clip(np.rint(frames, out=frames), 0, 255, out=frames).astype(np.uint8),
        ppg=wave,
        hr_bpm=ppg.hr_bpm,
        hr_track_bpm=ppg.hr_track_bpm,
        skin_mask=np.broadcast_to(face.skin > 0.5, (config.frames, config.size, config.size)).copy(),
        subject=subject,
    )


CANONICAL_EXTENT = 1.1
"""The head (radius ≤ 1 + its soft edge) fits in ±1.1 semi-axes of face coordinates."""
CANONICAL_OVERSAMPLING = 2
"""Face-coordinate samples per output pixel when a moving head is drawn once and resampled per frame."""
MOUTH_LEVELS = 8
EYE_LEVEL = 40.0


@dataclass(frozen=True)
class _Face:
    """The head at some points, under unit light and without the pulse."""

    rgb: np.ndarray
    """``(... 3)`` colour of the head, weighted by its coverage (0 where the background shows)."""
    head: np.ndarray
    """``(...)`` coverage of the head, 0-1 (soft at its edge)."""
    pulse: np.ndarray
    """``(...)`` weight of the pulse colour: perfusion times lighting, 0 off the skin."""
    skin: np.ndarray
    """``(...)`` coverage of pulsatile skin."""

    def take(self, flat: np.ndarray) -> "_Face":
        """The face at flat indices into its points."""
        return _Face(self.rgb.reshape(-1, 3)[flat], *(part.reshape(-1)[flat] for part in (self.head, self.pulse, self.skin)))


def _per_frame(values: np.ndarray) -> np.ndarray:
    return values.astype(np.float32)[:, None, None, None]


def _posed_face(size: int, subject: FaceSubject, pose: dict[str, np.ndarray]) -> _Face:
    """The face at every pixel, ``(f h w)``: f = 1 for a still head (every path constant), else one frame per pose.

    A still head is evaluated at the pixels; a moving one is evaluated once on a fine grid of face
    coordinates per mouth opening and looked up per frame, which costs a gather instead of the whole model."""
    if all(np.ptp(path) == 0 for path in pose.values()):
        still = {name: path[:1] for name, path in pose.items()}
        return _face(*_face_coordinates(size, subject, still), subject, mouth_open=still["mouth"])
    grids = [np.linspace(-CANONICAL_EXTENT, CANONICAL_EXTENT, _canonical_samples(size, axis, pose["scale"]),
                         dtype=np.float32) for axis in subject.semi_axes]
    mouth_peak = float(pose["mouth"].max())
    openings = np.linspace(0, mouth_peak, MOUTH_LEVELS if mouth_peak > 0 else 1, dtype=np.float32)
    canonical = _face(grids[0][None, None, :], grids[1][None, :, None], subject, mouth_open=openings)
    u, v = _face_coordinates(size, subject, pose)
    level = np.rint(pose["mouth"] / max(mouth_peak, 1e-12) * (len(openings) - 1)).astype(np.intp)
    rows, cols = (_nearest_sample(coordinate, grid) for coordinate, grid in ((v, grids[1]), (u, grids[0])))
    return canonical.take((level[:, None, None] * len(grids[1]) + rows) * len(grids[0]) + cols)


def _canonical_samples(size: int, semi_axis: float, scale: np.ndarray) -> int:
    pixels_across = 2 * CANONICAL_EXTENT * semi_axis * size * float(scale.max())
    return int(math.ceil(CANONICAL_OVERSAMPLING * pixels_across)) + 1


def _nearest_sample(coordinate: np.ndarray, grid: np.ndarray) -> np.ndarray:
    step = grid[1] - grid[0]
    return np.clip(np.rint((coordinate - grid[0]) / step), 0, len(grid) - 1).astype(np.intp)


def _face(u: np.ndarray, v: np.ndarray, subject: FaceSubject, *, mouth_open: np.ndarray) -> _Face:
    """The face at face coordinates (u, v), ``(f ...)`` with f the number of mouth openings."""
    u, v, _ = np.broadcast_arrays(u, v, mouth_open[:, None, None])
    regions = _regions(u, v, mouth_open=mouth_open)
    lit = _shading(u, v, subject.light_direction) * _texture(subject, u, v)
    skin = regions["skin"]
    weights = np.stack([skin * lit, regions["hair"] * lit, regions["lips"] * lit, regions["eyes"] * lit,
                        _highlight(u, v) * skin], axis=-1)
    colours = np.array([subject.skin_rgb, subject.hair_rgb, subject.lip_rgb, (EYE_LEVEL,) * 3,
                        (subject.specular_strength,) * 3], dtype=np.float32)
    gain = np.where(_perfused(u, v), np.float32(1.0), np.float32(0.5))
    return _Face(rgb=weights @ colours, head=regions["head"], pulse=skin * gain * lit, skin=skin)


def _pose(config: FaceVideoConfig, t: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
    motion = config.motion

    def path(peak: float) -> np.ndarray:
        if motion.periodic_hz is None:
            return peak * slow_path(t, rng, POSE_RATES_HZ)
        periodic = np.sin(2 * np.pi * motion.periodic_hz * t + rng.uniform(0, 2 * np.pi))
        return peak * 0.5 * (slow_path(t, rng, POSE_RATES_HZ) + periodic)

    return {
        "dx": path(motion.translation_px), "dy": path(motion.translation_px),
        "angle": np.deg2rad(path(motion.rotation_deg)), "scale": 1 + path(motion.scale),
        "mouth": motion.mouth * 0.5 * (1 + np.sin(2 * np.pi * rng.uniform(2.0, 4.0) * t)),
    }


def _face_coordinates(size: int, subject: FaceSubject, pose: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Each pixel of each frame in the face's own coordinates: (0, 0) the centre, ±1 the semi-axes."""
    grid = (np.arange(size, dtype=np.float32) - (size - 1) / 2) / size
    y, x = grid[None, :, None], grid[None, None, :]
    dx, dy = (pose["dx"] / size).astype(np.float32)[:, None, None], (pose["dy"] / size).astype(np.float32)[:, None, None]
    cos, sin = (np.cos(pose["angle"]).astype(np.float32)[:, None, None], np.sin(pose["angle"]).astype(np.float32)[:, None, None])
    scale = pose["scale"].astype(np.float32)[:, None, None]
    along = ((x - dx) * cos + (y - dy) * sin) / scale
    across = (-(x - dx) * sin + (y - dy) * cos) / scale
    return along / subject.semi_axes[0], across / subject.semi_axes[1]


def _ellipse(u: np.ndarray, v: np.ndarray, centre: tuple[float, float], axes: tuple[float, float] | tuple[float, np.ndarray]) -> np.ndarray:
    return (((u - centre[0]) / axes[0]) ** 2 + ((v - centre[1]) / axes[1]) ** 2 < 1).astype(np.float32)


def _regions(u: np.ndarray, v: np.ndarray, *, mouth_open: np.ndarray) -> dict[str, np.ndarray]:
    """Soft-edged head and hard-edged features; skin is the head minus hair, eyes, brows and lips."""
    radius = np.sqrt(u**2 + v**2)
    head = np.clip((1.0 - radius) * 12 + 0.5, 0, 1).astype(np.float32)
    hair = head * (v < -0.62 + 0.12 * np.cos(2.2 * u)).astype(np.float32)
    eyes = np.maximum(_ellipse(u, v, (-0.38, -0.12), (0.17, 0.07)), _ellipse(u, v, (0.38, -0.12), (0.17, 0.07)))
    brows = np.maximum(_ellipse(u, v, (-0.38, -0.3), (0.2, 0.035)), _ellipse(u, v, (0.38, -0.3), (0.2, 0.035)))
    lips = _ellipse(u, v, (0.0, 0.55), (0.3, 0.05 + 0.08 * mouth_open[:, None, None]))
    features = np.maximum.reduce([hair, eyes * head, brows * head, lips * head])
    return {"head": head, "hair": np.maximum(hair, brows * head), "eyes": eyes * head * (1 - hair), "lips": lips * head,
            "skin": head * (1 - features)}


def _perfused(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Forehead and cheeks, where the pulse is strongest."""
    forehead = (v > -0.6) & (v < -0.38) & (np.abs(u) < 0.55)
    cheeks = ((np.abs(u) - 0.45) / 0.22) ** 2 + ((v - 0.2) / 0.2) ** 2 < 1
    return forehead | cheeks


def _shading(u: np.ndarray, v: np.ndarray, light: tuple[float, float, float]) -> np.ndarray:
    """Lambertian shading of the head as an ellipsoid lit from `light`, plus ambient light."""
    depth = np.sqrt(np.clip(1 - u**2 - v**2, 0, 1))
    lit = np.clip(u * light[0] + v * light[1] + depth * light[2], 0, 1)
    return (0.45 + 0.55 * lit).astype(np.float32)


def _highlight(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Specular spots on the forehead and the nose tip, fixed to the face."""
    forehead = np.exp(-((u - 0.1) ** 2 + (v + 0.45) ** 2) / 0.02)
    nose = np.exp(-(u**2 + (v - 0.2) ** 2) / 0.006)
    return (forehead + nose).astype(np.float32)


def _texture(subject: FaceSubject, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """A fixed pore-and-blotch pattern in face coordinates (±4 %), so it moves with the head."""
    rng = np.random.default_rng(subject.texture_seed)
    fine = scipy.ndimage.gaussian_filter(rng.standard_normal((TEXTURE_GRID, TEXTURE_GRID)), 0.8)
    coarse = scipy.ndimage.gaussian_filter(rng.standard_normal((TEXTURE_GRID, TEXTURE_GRID)), 6.0)
    pattern = fine / fine.std() + coarse / coarse.std()
    pattern = (1 + 0.02 * pattern).astype(np.float32)
    scale = (TEXTURE_GRID - 1) / (2 * FACE_EXTENT)
    rows = np.clip(np.rint((v + FACE_EXTENT) * scale), 0, TEXTURE_GRID - 1).astype(np.intp)
    cols = np.clip(np.rint((u + FACE_EXTENT) * scale), 0, TEXTURE_GRID - 1).astype(np.intp)
    return pattern[rows, cols]


def _background(size: int, subject: FaceSubject) -> np.ndarray:
    """``(h w rgb)``: the subject's backdrop under a light gradient; it does not move with the head."""
    ramp = np.linspace(0.85, 1.15, size, dtype=np.float32)
    return (ramp[:, None] * ramp[None, ::-1])[..., None] * np.asarray(subject.background_rgb, dtype=np.float32)
