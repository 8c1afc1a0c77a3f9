"""Every input format, read and prepared end to end on fixtures with a known heart rate."""

from dataclasses import replace

import numpy as np
import pytest

from codephys_plugin.data.formats.csv_table import CsvOptions
from codephys_plugin.data.recording import Recording, RecordingError
from codephys_plugin.data.resample import MIN_GAP_S, merge_repeated_times, timestamps_of
from codephys_plugin.data.sources import ReadOptions, detect_format, iter_sources
from codephys_plugin.heart_rate import hr_fft, prepare_for_hr
from codephys_plugin.training.prepare import prepare_recording
from codephys_plugin.training.windows import WindowConfig
from tests.helpers import ppg_files

WINDOWS = WindowConfig()
PHYSIOKIT_CSV = ReadOptions(csv=CsvOptions(column="PPG Finger", time_column="arduino_ts", time_unit="ms"))


def read_all(inputs, options=ReadOptions()):
    return [source() for source in iter_sources([str(i) for i in inputs], options)]


def prepared_hr(recording, label_form="waveform"):
    prepared = prepare_recording(recording, WINDOWS, label_form)
    signal = np.concatenate(prepared.segments)
    return hr_fft(prepare_for_hr(signal, WINDOWS.fs, diff_normalized=label_form == "derivative"), WINDOWS.fs), prepared


@pytest.mark.parametrize(
    "name, expected",
    [
        ("ground_truth.txt", "ubfc2"),
        ("gtdump.xmp", "ubfc1"),
        ("01-01.json", "pure"),
        ("subject1_label3.npy", "toolbox"),
        ("subject1_input3.npy", "numpy"),
        ("P11.csv", "csv"),
        ("x.npz", "numpy"),
        ("notes.md", None),
    ],
)
def test_format_detection(tmp_path, name, expected):
    assert detect_format(tmp_path / name) == expected


def test_ubfc2_uses_its_jittered_timestamps(tmp_path):
    (recording,) = read_all([ppg_files.write_ubfc2(tmp_path / "subject1", 84.0)])
    assert recording.group == "subject1" and recording.timestamps_s is not None
    hr, prepared = prepared_hr(recording)
    assert hr == pytest.approx(84.0, abs=2.0)
    assert len(prepared.segments) == 1


def test_a_gap_in_the_timestamps_splits_the_recording(tmp_path):
    (recording,) = read_all([ppg_files.write_ubfc2(tmp_path / "s", 70.0, gap_at=1400)])
    prepared = prepare_recording(recording, WINDOWS, "waveform")
    assert len(prepared.segments) == 2
    durations = [s.size / WINDOWS.fs for s in prepared.segments]
    assert sum(durations) == pytest.approx(40.0, abs=1.5), "the gap itself must not be filled in"


def test_a_repeated_timestamp_is_merged_and_counted(tmp_path):
    """UBFC-rPPG subject 1 writes 16.75 s twice; the two samples become one, and the count is kept."""
    times = ppg_files.camera_clock_times(2560, ppg_files.SENSOR_FS, repeat_at=495)
    (recording,) = read_all([ppg_files.write_ubfc2(tmp_path / "subject1", 84.0, times=times)])
    hr, prepared = prepared_hr(recording)
    assert prepared.merged_repeats == 1
    assert len(prepared.segments) == 1
    assert hr == pytest.approx(84.0, abs=2.0)


def test_merged_repeats_average_their_samples():
    times, values, merged = merge_repeated_times(np.array([0.0, 1.0, 1.0, 1.0, 2.0]), np.array([5.0, 1.0, 2.0, 6.0, 7.0]))
    np.testing.assert_array_equal(times, [0.0, 1.0, 2.0])
    np.testing.assert_array_equal(values, [5.0, 3.0, 7.0])
    assert merged == 2


def test_camera_clock_jitter_is_not_a_gap_but_half_a_second_missing_is(tmp_path):
    stalled = ppg_files.camera_clock_times(2560, ppg_files.SENSOR_FS, stall_at=1000)
    (recording,) = read_all([ppg_files.write_ubfc2(tmp_path / "jitter", 70.0, times=stalled)])
    assert len(prepare_recording(recording, WINDOWS, "waveform").segments) == 1, "a 0.22-s stall split it"
    gapped = ppg_files.jittered_times(2560, ppg_files.SENSOR_FS, gap_at=1400, gap_s=MIN_GAP_S + 0.05)
    (recording,) = read_all([ppg_files.write_ubfc2(tmp_path / "gap", 70.0, times=gapped)])
    assert len(prepare_recording(recording, WINDOWS, "waveform").segments) == 2


def test_rate_check_uses_the_clock_duration_not_the_median_step(tmp_path):
    """A camera clock at 64 Hz whose median step says 57.5 Hz agrees with fs=64 and contradicts 57.5."""
    times = ppg_files.camera_clock_times(2560, ppg_files.SENSOR_FS)
    values = ppg_files.sensor_ppg(70.0)
    assert 1 / np.median(np.diff(times)) < 0.92 * ppg_files.SENSOR_FS
    timestamps_of(Recording("clock", tmp_path, values, timestamps_s=times, fs=ppg_files.SENSOR_FS))
    with pytest.raises(RecordingError, match="timestamps imply 64.00 Hz but 57.5 Hz was given"):
        timestamps_of(Recording("clock", tmp_path, values, timestamps_s=times, fs=57.5))


def test_fs_is_for_inputs_without_timestamps(tmp_path):
    """--fs given for toolbox caches in the same run must not be applied to a timestamped UBFC file."""
    ubfc = ppg_files.write_ubfc2(tmp_path / "s1", 84.0, times=ppg_files.camera_clock_times(2560, ppg_files.SENSOR_FS))
    csv = ppg_files.write_csv(tmp_path / "P1.csv", 78.0)
    ubfc_recording, csv_recording = read_all([ubfc, csv], replace(PHYSIOKIT_CSV, fs=30.0))
    assert ubfc_recording.fs is None and csv_recording.fs is None
    assert prepared_hr(ubfc_recording)[0] == pytest.approx(84.0, abs=2.0)


def test_ubfc1_gtdump(tmp_path):
    (recording,) = read_all([ppg_files.write_ubfc1(tmp_path / "after_exercise", 110.0)])
    assert recording.name == "after_exercise/gtdump.xmp"
    assert prepared_hr(recording)[0] == pytest.approx(110.0, abs=2.0)


def test_pure_json(tmp_path):
    (recording,) = read_all([ppg_files.write_pure(tmp_path / "01-02.json", 66.0)])
    assert recording.group == "01"
    assert prepared_hr(recording)[0] == pytest.approx(66.0, abs=2.0)


@pytest.mark.parametrize("label_form", ["waveform", "derivative"])
def test_toolbox_caches_are_concatenated_per_video_and_integrated(tmp_path, label_form):
    ppg_files.write_toolbox_chunks(tmp_path, "subject7", 96.0)
    ppg_files.write_toolbox_chunks(tmp_path, "subject8", 60.0)
    recordings = read_all([tmp_path], ReadOptions(fs=30.0))
    assert [r.name for r in recordings] == ["subject7_label*.npy", "subject8_label*.npy"]
    assert all(r.form == "derivative" and r.values.size == 1080 for r in recordings)
    assert prepared_hr(recordings[0], label_form)[0] == pytest.approx(96.0, abs=2.0)
    assert prepared_hr(recordings[1], label_form)[0] == pytest.approx(60.0, abs=2.0)


def test_csv_with_timestamp_column_and_per_input_column_choice(tmp_path):
    path = ppg_files.write_csv(tmp_path / "P1.csv", 78.0)
    finger, ear = read_all([path, f"{path}@PPG Ear"], PHYSIOKIT_CSV)
    assert finger.name == "P1.csv[PPG Finger]" and ear.name == "P1.csv[PPG Ear]"
    assert prepared_hr(finger)[0] == pytest.approx(78.0, abs=2.0)
    assert prepared_hr(ear)[0] == pytest.approx(78.0, abs=2.0)


def test_npy_and_npz_need_and_use_fs(tmp_path):
    signal = ppg_files.sensor_ppg(90.0)
    np.save(tmp_path / "a.npy", signal)
    np.savez(tmp_path / "b.npz", ppg=signal, hr=np.array([90.0]))
    (recording,) = read_all([tmp_path / "a.npy"], ReadOptions(fs=ppg_files.SENSOR_FS))
    assert prepared_hr(recording)[0] == pytest.approx(90.0, abs=2.0)
    (archived,) = read_all([tmp_path / "b.npz"], ReadOptions(fs=ppg_files.SENSOR_FS, npz_key="ppg"))
    np.testing.assert_array_equal(archived.values, signal)


def test_derivative_labels_resampled_to_another_rate_keep_their_heart_rate(tmp_path):
    ppg_files.write_toolbox_chunks(tmp_path, "v", 72.0, fs=60.0, chunk=360)
    (recording,) = read_all([tmp_path], ReadOptions(fs=60.0))
    assert prepared_hr(recording, "derivative")[0] == pytest.approx(72.0, abs=2.0)


BAD_INPUTS = {
    "empty csv": (lambda d: (d / "e.csv").write_text(""), "e.csv", PHYSIOKIT_CSV, "empty file"),
    "truncated csv": (
        lambda d: (d / "t.csv").write_text(
            ppg_files.write_csv(d / "full.csv", 70.0).read_text()[:-60].rsplit(",", 2)[0] + "\n"
        ),
        "t.csv",
        PHYSIOKIT_CSV,
        "truncated",
    ),
    "unknown column": (lambda d: ppg_files.write_csv(d / "u.csv", 70.0), "u.csv@PPG Toe", PHYSIOKIT_CSV, "unknown PPG column 'PPG Toe'"),
    "NaN run": (lambda d: ppg_files.write_csv(d / "n.csv", 70.0, nan_at=500), "n.csv", PHYSIOKIT_CSV, "NaN/Inf sample"),
    "too short": (lambda d: np.save(d / "s.npy", ppg_files.sensor_ppg(70.0, seconds=4.0)), "s.npy", ReadOptions(fs=64.0), "shorter than one window"),
    "flat-lined": (
        lambda d: np.save(d / "f.npy", np.r_[ppg_files.sensor_ppg(70.0, seconds=10), np.full(300, 5.0), ppg_files.sensor_ppg(70.0, seconds=10)]),
        "f.npy",
        ReadOptions(fs=64.0),
        "flat-lined sensor",
    ),
    "missing fs": (lambda d: np.save(d / "m.npy", ppg_files.sensor_ppg(70.0)), "m.npy", ReadOptions(), "pass --fs"),
    "empty ubfc": (lambda d: (d / "x").mkdir() or (d / "x" / "ground_truth.txt").write_text(""), "x/ground_truth.txt", ReadOptions(), "empty file"),
    "truncated ubfc": (
        lambda d: (d / "y").mkdir() or (d / "y" / "ground_truth.txt").write_text("1 2 3\n70 70 70\n0.0 0.03\n"),
        "y/ground_truth.txt",
        ReadOptions(),
        "3 PPG samples but 2 timestamps",
    ),
    "truncated pure": (lambda d: (d / "p.json").write_text('{"/FullPackage": [{"Timestamp": 1,'), "p.json", ReadOptions(), "invalid JSON"),
    "timestamps going backwards": (
        lambda d: (d / "z").mkdir() or (d / "z" / "ground_truth.txt").write_text("1 2 3 4\n7 7 7 7\n0.0 0.1 0.05 0.2\n"),
        "z/ground_truth.txt",
        ReadOptions(),
        r"timestamps go backwards \(sample 2: 0.1 -> 0.05\)",
    ),
    "one timestamp for all samples": (
        lambda d: (d / "w").mkdir() or (d / "w" / "ground_truth.txt").write_text("1 2 3\n7 7 7\n4.0 4.0 4.0\n"),
        "w/ground_truth.txt",
        ReadOptions(),
        "all 3 timestamps are the same",
    ),
    "object array": (lambda d: np.save(d / "o.npy", np.array([{"a": 1}], dtype=object)), "o.npy", ReadOptions(fs=30.0), "cannot read array"),
    "missing file": (lambda d: None, "nothing_here.csv", PHYSIOKIT_CSV, "no such file"),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_is_reported_with_the_file_and_the_problem(tmp_path, case):
    make, name, options, message = BAD_INPUTS[case]
    make(tmp_path)
    with pytest.raises(RecordingError, match=message) as error:
        for recording in read_all([tmp_path / name], options):
            prepare_recording(recording, WINDOWS, "waveform")
    assert name.split("@")[0].split("/")[-1] in str(error.value)
