"""codephys-predict end to end on synthetic face videos written to H.264 .mp4 files, and its refusals."""

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from codephys_plugin.adapters import PhysNet
from codephys_plugin.bundle import save_bundle
from codephys_plugin.code_query_head import CodeQueryHead
from codephys_plugin.data.face_video import FaceVideoConfig, HeadMotion, draw_subject, render_face_video
from codephys_plugin.predict.cli import main as predict
from codephys_plugin.predict.faces import crop_face, fixed_track
from codephys_plugin.predict.pipeline import _at_model_rate
from codephys_plugin.predict.video_file import VideoInfo, read_frames, video_info, write_video
from codephys_plugin.training.head_weights import save_head_weights

from tests.test_code_query_head import small_bundle

SHARED = Path(__file__).resolve().parents[2] / "shared"
PURE_PHYSNET = SHARED / "weights" / "rppg_toolbox" / "PURE_PhysNet_DiffNormalized.pth"
WINDOW = 40


def face_clip(frames: int, seed: int = 5, size: int = 160):
    rng = np.random.default_rng(seed)
    config = FaceVideoConfig(frames=frames, size=size, hr_range_bpm=(60, 100),
                             motion=HeadMotion(translation_px=6, rotation_deg=5))
    return render_face_video(config, draw_subject(rng, (2, 3)), rng)


@pytest.fixture(scope="module")
def face_video(tmp_path_factory) -> tuple[Path, float]:
    """15 s of a moving synthetic face, lossless H.264 (RGB): yuv420p at crf 18 rounds away its 1-2-level pulse."""
    clip = face_clip(450)
    return write_video(tmp_path_factory.mktemp("video") / "face.mp4", clip.frames, 30.0, lossless=True), clip.hr_bpm


@pytest.fixture(scope="module")
def random_head(tmp_path_factory) -> dict[str, Path]:
    """A PhysNet checkpoint, a Stage I bundle and a head with random weights, as the CLI reads them."""
    folder = tmp_path_factory.mktemp("model")
    torch.manual_seed(0)
    checkpoint = folder / "physnet.pth"
    torch.save(PhysNet(frames=WINDOW).state_dict(), checkpoint)
    bundle = small_bundle(window=WINDOW)
    save_bundle(folder / "codebook", bundle.model, bundle.config)
    head = CodeQueryHead(PhysNet(frames=WINDOW), codebook=bundle, freeze_backbone=True)
    save_head_weights(folder / "best.safetensors", head, {})
    return {"checkpoint": checkpoint, "codebook": folder / "codebook", "head": folder / "best.safetensors"}


def model_options(model: dict[str, Path], *extra: str) -> list[str]:
    return ["--backbone", "physnet", "--backbone-arg", f"frames={WINDOW}", "--checkpoint", str(model["checkpoint"]),
            *extra, "--no-progress"]


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open() as stream:
        return list(csv.DictReader(stream))


def test_mp4_frames_come_back_exactly_from_lossless_h264(tmp_path):
    clip = face_clip(12, size=64)
    path = write_video(tmp_path / "clip.mp4", clip.frames, 25.0, lossless=True)
    info = video_info(path)
    assert (info.fps, info.frames, info.width, info.height) == (25.0, 12, 64, 64)
    stamps, frames = zip(*read_frames(path))
    np.testing.assert_array_equal(np.stack(frames), clip.frames)
    np.testing.assert_allclose(stamps, np.arange(12) / 25.0, atol=1e-6)


@pytest.mark.skipif(not PURE_PHYSNET.is_file(), reason="needs ../shared/weights (the toolbox's PURE PhysNet)")
def test_the_published_pure_physnet_reads_the_heart_rate_of_an_mp4(face_video, tmp_path, capsys):
    video, truth = face_video
    out = tmp_path / "out"
    code = predict([str(video), "--backbone", "physnet", "--backbone-arg", "frames=160", "--checkpoint",
                    str(PURE_PHYSNET), "--out", str(out), "--no-progress"])
    assert code == 0, capsys.readouterr().err
    summary = json.loads((out / "summary.json").read_text())
    assert summary["frames"] == 450 and summary["resampled"] is None
    assert summary["face"]["detections"] == 15 and summary["face"]["missed_detections"] == 0
    assert abs(summary["models"]["bare"]["hr_bpm"] - truth) < 3.0, (summary["models"], truth)
    assert set(summary["timing_s"]) == {"face detection", "crops", "model bare"}
    waveform = read_csv(out / "waveform.csv")
    assert len(waveform) == 449 and list(waveform[0]) == ["time_s", "bare_waveform", "bare_output"]
    assert float(waveform[0]["time_s"]) == pytest.approx(0.5 / 30)
    track = read_csv(out / "hr_track.csv")
    assert len(track) == 5 and {row["model"] for row in track} == {"bare"}
    assert (out / "prediction.png").stat().st_size > 10_000
    assert "bare: HR" in capsys.readouterr().out


def test_a_random_weight_head_and_the_bare_network_are_compared_on_an_mp4(face_video, random_head, tmp_path):
    video, _ = face_video
    out = tmp_path / "out"
    assert predict([str(video), *model_options(random_head, "--head", str(random_head["head"]), "--codebook",
                                               str(random_head["codebook"]), "--compare", "--out", str(out))]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary["models"]) == {"bare", "head"}
    assert all(30 <= model["hr_bpm"] <= 200 for model in summary["models"].values())
    waveform = read_csv(out / "waveform.csv")
    assert len(waveform) == 449
    assert {"bare_waveform", "head_waveform", "bare_output", "head_output"} <= set(waveform[0])
    assert len(read_csv(out / "hr_track.csv")) == 2 * 5


def test_a_head_alone_needs_no_checkpoint_and_a_head_without_its_codebook_is_refused(face_video, random_head,
                                                                                     tmp_path, capsys):
    video, _ = face_video
    head_only = ["--backbone", "physnet", "--backbone-arg", f"frames={WINDOW}", "--head", str(random_head["head"])]
    with pytest.raises(SystemExit):
        predict([str(video), *head_only])
    assert "--head needs --codebook" in capsys.readouterr().err
    assert predict([str(video), *head_only, "--codebook", str(random_head["codebook"]), "--roi", "30,40,100,100",
                    "--out", str(tmp_path / "out"), "--no-progress"]) == 0
    assert set(json.loads((tmp_path / "out" / "summary.json").read_text())["models"]) == {"head"}


def test_a_video_without_a_face_is_an_error_naming_the_frames(random_head, tmp_path, capsys):
    background = np.full((90, 96, 96, 3), 120, dtype=np.uint8)
    empty = write_video(tmp_path / "empty.mp4", background, 30.0, lossless=True)
    assert predict([str(empty), *model_options(random_head)]) == 2
    assert "no face found in any of its 90 frames" in capsys.readouterr().err
    frames = face_clip(300, size=96).frames.copy()
    frames[90:210] = 120
    gap = write_video(tmp_path / "gap.mp4", frames, 30.0, lossless=True)
    assert predict([str(gap), *model_options(random_head)]) == 2
    error = capsys.readouterr().err
    assert "no face found in frames 61-209 (2.03-6.97 s)" in error and "--roi" in error


def test_unreadable_missing_and_too_short_videos_are_refused(random_head, tmp_path, capsys):
    broken = tmp_path / "broken.mp4"
    broken.write_text("not a video")
    assert predict([str(broken), *model_options(random_head)]) == 2
    assert "broken.mp4: not a readable video file" in capsys.readouterr().err
    assert predict([str(tmp_path / "missing.mp4"), *model_options(random_head)]) == 2
    assert "missing.mp4: no such video file" in capsys.readouterr().err
    short = write_video(tmp_path / "short.mp4", face_clip(30, size=96).frames, 30.0, lossless=True)
    assert predict([str(short), *model_options(random_head, "--roi", "10,10,70,70")]) == 2
    assert ("short.mp4: 30 frames (1.00 s at 30 Hz) are too short; one model window takes 41 frames and a heart "
            "rate down to 0.6 Hz 101 (3.37 s)") in capsys.readouterr().err


def test_a_25_fps_video_is_resampled_to_the_models_30_hz(random_head, tmp_path):
    clip = face_clip(250, size=96)
    video = write_video(tmp_path / "pal.mp4", clip.frames, 25.0, lossless=True)
    out = tmp_path / "out"
    assert predict([str(video), *model_options(random_head, "--roi", "10,10,70,70", "--out", str(out))]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["video_fps"] == 25.0 and summary["frames"] == 250
    assert summary["resampled"] == "250 frames at 25 fps resampled to 30 Hz by linear interpolation on their time stamps"
    assert len(read_csv(out / "waveform.csv")) == int(249 / 25 * 30) + 1 - 1


def test_frames_at_another_clock_are_interpolated_on_their_stamps():
    times = np.arange(11) / 25.0
    ramp = times[:, None, None, None] * np.ones((1, 2, 2, 3), dtype=np.float32)
    info = VideoInfo(Path("x.mp4"), 25.0, 11, 2, 2)
    resampled, how = _at_model_rate(ramp, times, 30.0, info)
    assert resampled.shape == (13, 2, 2, 3) and "25 fps resampled to 30 Hz" in how
    np.testing.assert_allclose(resampled[:, 0, 0, 0], np.arange(13) / 30.0, atol=1e-6)
    same, none = _at_model_rate(ramp, times, 25.0, info)
    assert none is None and same is ramp


def test_crops_are_the_box_enlarged_about_its_centre_and_area_averaged():
    frame = np.zeros((100, 100, 3), dtype=np.uint8)
    frame[40:60, 40:60] = 200
    crop = crop_face(frame, (40, 40, 20, 20), size=10, enlarge=1.5)
    assert crop.shape == (10, 10, 3) and crop.dtype == np.float32
    assert crop[5, 5, 0] == 200 and crop[0, 0, 0] == 0
    assert crop.mean() == pytest.approx(200 * (20 / 30) ** 2, rel=1e-5)
    assert fixed_track(5, (1, 2, 3, 4)).box(3) == (1, 2, 3, 4)
    with pytest.raises(ValueError, match="outside the 100x100 frame"):
        crop_face(frame, (150, 150, 20, 20), size=10)
