"""The Gradescope bundle: built by one command, run locally the way Gradescope runs it (its
run_autograder on a Gradescope-shaped directory), and its results.json valid for Gradescope."""
import json
import os
import subprocess
import sys
import zipfile

import course_config as cfg
from autograder import gradescope

HW1 = cfg.HW1


def test_the_bundle_runs_like_gradescope_runs_it(tmp_path):
    archive = gradescope.bundle(HW1, tmp_path / "out")
    with zipfile.ZipFile(archive) as z:
        names = z.namelist()
        z.extractall(tmp_path / "autograder")
    assert {"setup.sh", "run_autograder", "source/course_config.py"} <= set(names)
    assert f"source/autograder/tests/{HW1.id}/probes.py" in names
    assert not [n for n in names if n.startswith(("source/source/", "source/samples/"))
                or n.startswith("source/autograder/tests/hw2_cnn")]
    root = tmp_path / "autograder"
    (root / "submission").mkdir()
    (root / "results").mkdir()
    notebook = cfg.SAMPLES_DIR / "submitted" / "mistake_losses" / HW1.id / f"{HW1.notebook}.ipynb"
    (root / "submission" / "my_homework.ipynb").write_bytes(notebook.read_bytes())
    (root / "submission_metadata.json").write_text(json.dumps(
        {"users": [{"email": "b1234567@cgu.edu.tw", "name": "A Student", "sid": "B1234567"}],
         "assignment": {"due_date": "2025-10-01T23:59:00+08:00"}}))
    run = root / "run_autograder"
    run.chmod(0o755)
    env = {**os.environ, "AUTOGRADER_ROOT": str(root), "PYTHON": sys.executable,
           "PYTHONPATH": str(root / "source")}
    done = subprocess.run([str(run)], env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    data = json.loads((root / "results" / "results.json").read_text())
    scored = [t for t in data["tests"] if "score" in t]
    assert 0 < data["score"] < HW1.auto_points
    assert abs(sum(t["score"] for t in scored) - data["score"]) < 1e-6
    assert abs(sum(t["max_score"] for t in scored) - HW1.auto_points) < 1e-6
    assert all(t["visibility"] in gradescope.VISIBILITIES for t in data["tests"])
    assert {t["visibility"] for t in scored} == {cfg.GRADESCOPE_CHECK_VISIBILITY}
    pending = [t for t in data["tests"] if "score" not in t]
    assert pending and all("pending" in t["output"] for t in pending)
    assert "def test_" not in json.dumps(data)  # no hidden test's code reaches students


def test_the_student_id_comes_from_gradescope_metadata(tmp_path):
    meta = tmp_path / "m.json"
    meta.write_text(json.dumps({"users": [{"email": "x@y.z", "sid": "B09/../../etc"}]}))
    assert gradescope.student_of(meta) == "B09_.._.._etc"
    meta.write_text(json.dumps({"users": [{"email": "someone@cgu.edu.tw"}]}))
    assert gradescope.student_of(meta) == "someone"
    assert gradescope.student_of(tmp_path / "missing.json") == "unknown"


def test_a_grader_failure_shows_the_student_a_fixed_line_and_the_staff_the_reason(capsys):
    """Gradescope shows `output` to the student at once: a grader error's reason (a path of the hidden
    suite, an exception from reading its data) goes to the autograder's log, not to the student."""
    from autograder.grading import _zero
    from autograder.results import CRASHED, ERROR, SubmissionResult

    secret = "setting it up failed: FileNotFoundError: /autograder/source/autograder/tests/hw1_backprop/held_out.npz"
    error = SubmissionResult(student="s1", assignment=HW1.id, status=ERROR, reason=f"the sandbox did not start ({secret})")
    shown = json.dumps(gradescope.gradescope_dict(error))
    assert "held_out" not in shown and "autograder/tests" not in shown
    assert "the grader failed on its side, not because of your code" in shown
    assert secret in capsys.readouterr().err
    crashed = SubmissionResult(student="s1", assignment=HW1.id, status=CRASHED, reason="your notebook used more than 2048 MB",
                               questions=_zero(HW1, "not checked"))
    assert "your notebook used more than 2048 MB" in json.dumps(gradescope.gradescope_dict(crashed))
