"""HW2 end to end: every shipped sample scores exactly as its spec says (planted mistakes lose
their question, correct answers in other styles keep full marks, slow loops fail the speed ratio,
a faked clock, a slowed reference and a made-up loss are caught and flagged), the CIFAR-10 files we
write are the real format (torchvision reads them), the thresholds come from the calibration
file or say plainly that they are defaults, and the GPU forms skip cleanly without CUDA."""
import dataclasses
import importlib.util
import json
import pickle
import re
import subprocess
import sys

import nbformat
import numpy as np
import pytest
import torch

import course_config as cfg
from autograder import calibrate, feedback, grading, release, samples
from autograder.results import GRADED

HW2 = cfg.ASSIGNMENTS["hw2_cnn"]
SPEC = {s.student: s for s in samples.spec(HW2.id)}
needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


@pytest.fixture(scope="module")
def graded():
    """Grade every shipped HW2 sample once on the CPU profile, with 2 workers."""
    submissions = grading.find_submissions(HW2, [cfg.SAMPLES_DIR / "submitted"])
    return {r.student: r for r in grading.grade_many(HW2, submissions, workers=2, progress=False)}


def test_shipped_samples_equal_a_fresh_build(tmp_path):
    assert samples.stale(HW2.id, tmp_path) == [], "run `python -m autograder release` and commit samples/"


@pytest.mark.parametrize("student", sorted(SPEC))
def test_sample_loses_exactly_its_questions(graded, student):
    result = graded[student]
    assert result.status == GRADED, (result.status, result.reason)
    assert samples.discrepancies(SPEC[student], result, HW2) == []


def test_every_blank_has_a_planted_mistake_losing_only_it():
    blanks = {q.id for q in HW2.questions if q.checks} - {"accuracy", "speed"}
    planted = {next(iter(s.loses)) for s in SPEC.values()
               if s.student.startswith("mistake_") and len(s.loses) == 1}
    assert blanks <= planted, f"blanks without a planted mistake: {blanks - planted}"


def ratio_of(result) -> float:
    check = next(c for q in result.questions for c in q.checks if c.name == "test_training_speed_ratio")
    line = next(d for d in check.details if d.startswith("ratio x"))
    found = re.findall(r"x(inf|[0-9.]+)", line)
    return max(float(v) for v in found[:-1])  # the last one is the limit


def test_slow_loops_fail_the_ratio_and_the_reference_passes_comfortably(graded):
    limit = calibrate.thresholds(HW2.id, "cpu").values["max_speed_ratio"]
    assert ratio_of(graded["ref_reference"]) < 0.8 * limit
    for student in ("slow_per_sample", "slow_python_lists", "slow_new_optimizer"):
        assert ratio_of(graded[student]) > limit, student
    check = next(c for q in graded["cheat_fake_clock"].questions for c in q.checks
                 if c.name == "test_training_speed_ratio")
    assert not check.passed and "do not add up" in check.message
    # a reference slowed down with real sleeps in the student's process: the clean process shows it
    check = next(c for q in graded["cheat_slow_reference"].questions for c in q.checks
                 if c.name == "test_training_speed_ratio")
    assert not check.passed and "clean process" in check.message


def test_cheats_are_flagged_for_the_instructor_and_honest_work_is_not(graded):
    """The judge's own verifications leave a "suspicious" mark with the reason where the student's
    process lied (a made-up loss, a slowed reference); no honest sample gets one."""
    expected = {"cheat_lookup_predictions": "made-up loss", "cheat_slow_reference": "slower in the student's process"}
    for student, result in graded.items():
        marks = list(getattr(result, "suspicious", []))
        if student in expected:
            assert any(expected[student] in m for m in marks), (student, marks)
        elif student.startswith(("ref_", "style_", "mistake_", "slow_")):
            assert not marks, (student, marks)


def test_feedback_shows_accuracy_and_timing_against_thresholds(graded):
    text = feedback.render(graded["ref_reference"])
    assert re.search(r"test accuracy 0\.\d+ \(target 0\.\d+\)", text)
    assert "reference  █" in text and "your loop  █" in text and "limit      █" in text
    assert "thresholds calibrated on" in text or "no calibration" in text
    assert "Traceback" not in text


def test_feedback_never_shows_hidden_test_code(graded):
    suite = cfg.ROOT / "autograder" / "tests" / HW2.id
    hidden = {line.strip() for path in suite.glob("*.py") for line in path.read_text().splitlines()
              if len(line.strip()) > 25 and not line.strip().startswith(("#", '"""'))}
    for result in graded.values():
        text = feedback.render(result)
        shown = [line for line in hidden if line in text]
        assert not shown, f"feedback of {result.student} quotes the hidden suite: {shown[:3]}"


# ------------------------------------------------------------------ data: the real CIFAR-10 format

def test_archive_is_cifar10_format_read_by_torchvision_and_the_reference(tmp_path):
    from assignments.data import torchvision_cifar10, write_cifar_archive
    from autograder.tests.hw2_cnn import cases

    tr_x, tr_y, te_x, te_y = cases.archive_split()
    folder = write_cifar_archive(tmp_path / "cifar-10-batches-py", tr_x, tr_y, te_x, te_y)
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        ["batches.meta", "test_batch"] + [f"data_batch_{i}" for i in range(1, 6)])
    raw = (folder / "data_batch_1").read_bytes()
    assert raw.startswith(b"\x80\x02}") and b"cnumpy.core.multiarray\n_reconstruct" in raw  # Python 2's pickle
    with open(folder / "data_batch_1", "rb") as f:
        batch = pickle.load(f, encoding="bytes")  # the dataset's own recipe: keys are bytes
    assert set(batch) == {b"batch_label", b"labels", b"data", b"filenames"}
    assert batch[b"data"].dtype == np.uint8 and batch[b"data"].shape == (3, 3072)
    with open(folder / "data_batch_1", "rb") as f:
        assert "data" in pickle.load(f, encoding="latin1")  # torchvision's: keys are str
    for train, (images, labels) in ((True, (tr_x, tr_y)), (False, (te_x, te_y))):
        tv = torchvision_cifar10(folder, train=train)
        assert np.array_equal(tv.data, images.transpose(0, 2, 3, 1)) and tv.targets == labels.tolist()
    assert tv.classes[3] == "cat"
    reference = calibrate.reference_submission(HW2)
    got = reference.load_cifar10(str(folder))
    for part, expected in zip(got, (tr_x, tr_y, te_x, te_y)):
        assert np.array_equal(part, expected)


def test_digits_as_cifar_are_real_digits_in_cifar_shape():
    from assignments.data import digits_as_cifar

    X, y = digits_as_cifar()
    assert X.shape == (5000, 3, 32, 32) and X.dtype == np.uint8 and np.bincount(y).tolist() == [500] * 10
    assert (X[:, :, :2].max(), X[:, :, :, -2:].max()) == (0, 0)  # the 2-pixel black border
    assert np.array_equal(X[:, 0], X[:, 2]) and X.max() == 255


def test_no_cuda_call_in_any_blank():
    nb = nbformat.read(cfg.ROOT / "source" / HW2.id / f"{HW2.notebook}.ipynb", 4)
    inside, _ = release._region_lines("\n".join(c.source for c in nb.cells if c.cell_type == "code"))
    assert not [line for line in inside if ".cuda(" in line]


# ------------------------------------------------------------------ thresholds and calibrate

def test_thresholds_come_from_the_committed_calibration():
    data = json.loads((cfg.CALIBRATION_DIR / "cpu.json").read_text())
    assert {"device", "device_name", "torch", "date"} <= set(data)
    entry = data["assignments"][HW2.id]
    assert {"accuracies", "self_ratios", "speed_images_per_second"} <= set(entry["measured"])
    limits = calibrate.thresholds(HW2.id, "cpu")
    assert limits.calibrated and limits.values == {**cfg.DEVICE_PROFILES["cpu"].thresholds[HW2.id],
                                                   **entry["thresholds"]}
    assert data["device_name"] in limits.note


def test_no_calibration_says_so_and_uses_the_defaults(tmp_path, monkeypatch):
    monkeypatch.setattr(cfg, "CALIBRATION_DIR", tmp_path)
    (tmp_path / "cuda.json").write_text("{}")  # a file without this assignment counts as none
    for device in ("cpu", "cuda"):
        limits = calibrate.thresholds(HW2.id, device)
        assert not limits.calibrated and limits.values == cfg.DEVICE_PROFILES[device].thresholds[HW2.id]
        assert "no calibration" in limits.note and "defaults" in limits.note


def test_calibrate_measures_the_reference_and_derives_thresholds(tmp_path, monkeypatch):
    """A small budget, in this process: the same probes, the same file format as `calibrate`."""
    cpu = cfg.DEVICE_PROFILES["cpu"]
    small = dict(cpu.budgets[HW2.id], train_images=600, speed_images=128, speed_repeats=3)
    monkeypatch.setitem(cfg.DEVICE_PROFILES, "cpu", dataclasses.replace(cpu, budgets={HW2.id: small}))
    monkeypatch.setattr(cfg, "CALIBRATION_DIR", tmp_path)
    monkeypatch.setenv("COURSE_GRADING_DEVICE", "cpu")
    threads = torch.get_num_threads()
    try:
        path = calibrate.calibrate("cpu", [HW2.id], log=lambda *a: None)
    finally:
        torch.set_num_threads(threads)
    data = json.loads(path.read_text())
    measured, derived = data["assignments"][HW2.id]["measured"], data["assignments"][HW2.id]["thresholds"]
    assert measured["train_images"] == 600 and len(measured["accuracies"]) == 3
    assert all(0.1 < a <= 1 for a in measured["accuracies"]) and all(0.5 < r < 2 for r in measured["self_ratios"])
    margins = cpu.margins[HW2.id]
    assert derived["accuracy"] <= min(measured["accuracies"]) - margins["accuracy_below_reference"] + 1e-9
    assert derived["max_speed_ratio"] >= margins["speed_ratio_floor"]
    assert calibrate.thresholds(HW2.id, "cpu").calibrated


def test_judge_rechecks_the_timings_against_the_grader_clock():
    """The same speed data twice: consistent with the grader's clock it passes; with most of the
    time unaccounted for (a patched clock) it fails."""
    from autograder.judge import run_suite

    run = {"reference": [0.1] * 5, "student": [0.11] * 5, "warmup": [0.1, 0.11], "steps": 16.0,
           "reference_steps": 16.0, "last_loss": 1.0}
    speed = {"device": "cpu", "timer": "perf_counter", "images": 512, "batches": 16, "width": 0.125, "run": run}
    probes = {"speed": speed, "clean:reference_speed": {"device": "cpu", "reference": [0.1] * 5, "warmup": [0.1]}}
    honest = run_suite(HW2.id, probes, {"speed": 1.3})["test_training_speed_ratio"]
    faked = run_suite(HW2.id, probes, {"speed": 6.0})["test_training_speed_ratio"]
    assert honest["passed"], honest["message"]
    assert not faked["passed"] and "do not add up" in faked["message"]


# ------------------------------------------------------------------ the GPU profile

@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=[pytest.mark.gpu, needs_cuda])])
def test_reference_passes_the_thresholds_on_the_device(graded, device):
    """On CPU this reads the batch graded above; on a GPU it grades the reference with the cuda
    profile through the same sandbox, probes and judge."""
    if device == "cpu":
        result = graded["ref_reference"]
    else:
        path = cfg.SAMPLES_DIR / "submitted" / "ref_reference" / HW2.id / f"{HW2.notebook}.ipynb"
        result = next(grading.grade_many(HW2, [("ref_reference", path)], device="cuda", progress=False))
    assert result.score == HW2.auto_points, [(c.name, c.message) for q in result.questions for c in q.checks
                                            if not c.passed]
    details = [d for q in result.questions for c in q.checks for d in c.details]
    assert any(f"on {device}" in d for d in details)


def gpu_slow_samples():
    spec = importlib.util.spec_from_file_location("samples_hw2_cnn_gpu", cfg.SAMPLES_DIR / "hw2_cnn.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.GPU_SLOW


def test_gpu_only_slow_loops_build():
    """Their CPU form: the edits apply to the reference (their speed is measured only on a GPU)."""
    for sample in gpu_slow_samples():
        assert samples.notebook_for(sample, HW2).cells


@pytest.mark.gpu
@needs_cuda
def test_gpu_only_slow_loops_fail_the_ratio_on_a_gpu(tmp_path):
    submissions = []
    for sample in gpu_slow_samples():
        path = tmp_path / f"{sample.student}.ipynb"
        nbformat.write(samples.notebook_for(sample, HW2), path)
        submissions.append((sample.student, path))
    for result in grading.grade_many(HW2, submissions, workers=1, device="cuda", progress=False):
        lost = {q.id for q in result.questions if not q.manual and q.score < q.max_score}
        assert lost == {"speed"}, (result.student, lost)


def test_validate_covers_hw2():
    done = subprocess.run([sys.executable, "-m", "autograder", "validate", HW2.id], capture_output=True,
                          text=True, cwd=cfg.ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "reference: 28 / 28" in done.stdout and "blank release: 0 / 28" in done.stdout


def test_the_committed_cuda_calibration_follows_from_its_own_measurements():
    """calibration/cuda.json was measured on a GPU (README, "HW2 on a GPU"); its HW2 limits must be
    what `derive` makes of the figures it holds with the margins course_config has now."""
    from autograder.tests.hw2_cnn import calibration

    path = cfg.CALIBRATION_DIR / "cuda.json"
    if not path.exists():
        pytest.skip("no calibration/cuda.json")
    entry = json.loads(path.read_text())["assignments"][HW2.id]
    cuda = cfg.DEVICE_PROFILES["cuda"]
    assert entry["margins"] == cuda.margins[HW2.id]
    assert entry["thresholds"] == calibration.derive(entry["measured"], cuda.margins[HW2.id], cuda.thresholds[HW2.id])
    limit = calibrate.thresholds(HW2.id, "cuda").values["max_speed_ratio"]
    assert limit >= cuda.margins[HW2.id]["speed_ratio_floor"]
    if entry["device_name"] == "cuda: NVIDIA H200":  # the machine README's table was measured on
        assert limit < 1.79, "the .item()-per-sample loop measured x1.79 on the H200 and must fail"
