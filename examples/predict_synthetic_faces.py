"""codephys-predict on synthetic face videos: what the rPPG-Toolbox's PURE PhysNet reads from .mp4 files.

    python examples/predict_synthetic_faces.py                 # writes results/predict/ (summary.json + one figure)
    python examples/predict_synthetic_faces.py --clips 3 --crf 18 --out /tmp/predict

Each clip is a 20-s, 192 × 192 video of a moving synthetic face (head motion ±6 px, ±5°; Fitzpatrick II-III;
55-110 bpm) written as H.264 — lossless RGB by default, or yuv420p at --crf — and read back by
`codephys-predict` (face found by dlib's HOG, crops of 72 px, PhysNet windows of 160 frames overlap-added).
The table compares each video's HR with the mean rate of the beats it was rendered with.
Needs ../shared/weights/rppg_toolbox (research weights; not shipped).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

from codephys_plugin._atomic import write_atomically
from codephys_plugin._json import strict_json
from codephys_plugin._provenance import provenance
from codephys_plugin.data.face_video import FaceVideoConfig, HeadMotion, draw_subject, render_face_video
from codephys_plugin.predict.cli import main as predict
from codephys_plugin.predict.video_file import write_video

ROOT = Path(__file__).resolve().parents[1]
WEIGHTS = ROOT.parent / "shared" / "weights" / "rppg_toolbox" / "PURE_PhysNet_DiffNormalized.pth"


def render(seed: int, seconds: float) -> tuple[np.ndarray, float]:
    rng = np.random.default_rng(seed)
    config = FaceVideoConfig(frames=int(seconds * 30), size=192, hr_range_bpm=(55, 110),
                             motion=HeadMotion(translation_px=6, rotation_deg=5))
    clip = render_face_video(config, draw_subject(rng, (2, 3)), rng)
    return clip.frames, clip.hr_bpm


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", type=int, default=6)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--crf", type=int, help="yuv420p H.264 at this quality instead of lossless RGB")
    parser.add_argument("--weights", type=Path, default=WEIGHTS)
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "predict")
    args = parser.parse_args(argv)
    if not args.weights.is_file():
        print(f"needs {args.weights} (the rPPG-Toolbox's PURE PhysNet)", file=sys.stderr)
        return 2
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        for seed in range(args.clips):
            frames, truth = render(seed, args.seconds)
            video = Path(scratch) / f"face{seed}.mp4"
            write_video(video, frames, 30.0, lossless=args.crf is None, crf=args.crf)
            out = Path(scratch) / f"face{seed}_rppg"
            code = predict([str(video), "--backbone", "physnet", "--backbone-arg", "frames=160", "--checkpoint",
                            str(args.weights), "--out", str(out), "--no-progress"])
            if code:
                return code
            summary = json.loads((out / "summary.json").read_text())
            read = summary["models"]["bare"]["hr_bpm"]
            rows.append({"clip": seed, "true_hr_bpm": truth, "read_hr_bpm": read, "error_bpm": read - truth,
                         "timing_s": summary["timing_s"], "mp4_bytes": video.stat().st_size})
            if seed == 0:
                args.out.mkdir(parents=True, exist_ok=True)
                (args.out / "prediction.png").write_bytes((out / "prediction.png").read_bytes())
    errors = np.abs([row["error_bpm"] for row in rows])
    record = {"command": ["python", "examples/predict_synthetic_faces.py", *(sys.argv[1:] if argv is None else argv)],
              "encoding": "lossless RGB H.264 (libx264rgb)" if args.crf is None else f"yuv420p H.264, crf {args.crf}",
              "clips": rows, "mae_bpm": float(errors.mean()), **provenance()}
    text = strict_json(record, indent=1) + "\n"
    write_atomically(args.out / "summary.json", lambda stream: stream.write(text.encode()))
    print("| clip | true HR | read HR | error |\n|---:|---:|---:|---:|")
    for row in rows:
        print(f"| {row['clip']} | {row['true_hr_bpm']:.1f} | {row['read_hr_bpm']:.1f} | {row['error_bpm']:+.1f} |")
    print(f"MAE {errors.mean():.2f} bpm over {len(rows)} clips ({record['encoding']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
