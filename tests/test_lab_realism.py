"""Networks that learned the pulse on real faces read the lab's clean clips (the toolbox's PhysNet weights
from ../shared; skipped in a user's checkout)."""

import json

import pytest

from examples.lab_realism import WEIGHT_FILES, WEIGHTS, main

pytestmark = pytest.mark.skipif(not all((WEIGHTS / file).is_file() for file in WEIGHT_FILES.values()),
                                reason="../shared/weights/rppg_toolbox is not present")


@pytest.mark.slow
def test_toolbox_physnet_weights_read_clean_lab_videos(tmp_path, capsys):
    assert main(["--subjects", "8", "--sensor-noise", "0.5", "--no-all-types", "--out", str(tmp_path)]) == 0
    (setting,) = json.loads((tmp_path / "realism.json").read_text())["settings"]
    ubfc, pure = setting["networks"]["UBFC-rPPG"], setting["networks"]["PURE"]
    assert ubfc["mae_bpm"] <= 3.0, setting["videos"]
    assert pure["within_3_bpm"] >= 0.6 and pure["median_error_bpm"] <= 1.0, setting["videos"]
    assert "toolbox PhysNet weights on 8 clean lab videos" in capsys.readouterr().out


def test_missing_weights_are_named(tmp_path, capsys):
    assert main(["--weights", str(tmp_path), "--out", str(tmp_path)]) == 2
    assert "PURE_PhysNet_DiffNormalized.pth" in capsys.readouterr().err
