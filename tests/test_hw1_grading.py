"""HW1 graded end to end: every shipped sample scores exactly as its spec says, bad input is
graded without stopping the run, cheating earns nothing and damages nothing, grades land in
nbgrader's gradebook, and feedback never shows a hidden test."""
import csv
import hashlib
import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import numpy as np
import pytest

import course_config as cfg
from autograder import feedback, gradebook, grading, samples
from autograder.sandbox import slot_uid
from autograder.sandbox.supervisor import processes_of_uid
from autograder.results import ERROR, GRADED, INVALID, SubmissionResult
from autograder.tests.hw1_backprop import cases
from autograder.tests.hw1_backprop.oracle import graph_grads
from autograder.tests.hw1_backprop.test_losses import reference_ce, reference_mse
from autograder.tests.hw1_backprop.test_value import torch_value

HW1 = cfg.ASSIGNMENTS["hw1_backprop"]
SPEC = {s.student: s for s in samples.spec(HW1.id)}
SKIP_IN_TREE = {".git", ".venv", "__pycache__", ".pytest_cache"}


def course_tree_digest() -> dict:
    digest = {}
    for path in sorted(cfg.ROOT.rglob("*")):
        if path.is_file() and not SKIP_IN_TREE & set(path.relative_to(cfg.ROOT).parts):
            digest[str(path.relative_to(cfg.ROOT))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return digest


@pytest.fixture(scope="module")
def graded():
    """Grade every shipped sample once, with 2 workers, watching the course tree."""
    before = course_tree_digest()
    submissions = grading.find_submissions(HW1, [cfg.SAMPLES_DIR / "submitted"])
    results = {r.student: r for r in grading.grade_many(HW1, submissions, workers=2, progress=False)}
    leftovers = [pid for slot in range(4) for pid in processes_of_uid(slot_uid(slot))] if os.geteuid() == 0 else []
    return results, before, course_tree_digest(), leftovers


def test_every_sample_is_graded(graded):
    results, *_ = graded
    assert sorted(results) == sorted(SPEC)


def test_shipped_samples_equal_a_fresh_build(tmp_path):
    assert samples.stale(HW1.id, tmp_path) == [], "run `python -m autograder release` and commit samples/"


@pytest.mark.parametrize("student", sorted(SPEC))
def test_sample_loses_exactly_its_questions(graded, student):
    results, *_ = graded
    assert samples.discrepancies(SPEC[student], results[student], HW1) == []


def test_reference_full_and_blank_zero(graded):
    results, *_ = graded
    assert results["ref_reference"].score == HW1.auto_points == results["ref_reference"].max_score
    assert results["blank_release"].status == GRADED and results["blank_release"].score == 0
    messages = {c.message for q in results["blank_release"].questions for c in q.checks}
    assert all("this blank is not filled in yet" in m for m in messages), messages


def test_unreadable_uploads_are_invalid_with_a_reason(graded):
    results, *_ = graded
    for student in ("bad_not_json", "bad_not_a_notebook"):
        assert results[student].status == INVALID and "could not be graded" in results[student].reason


def test_a_cell_that_hangs_or_kills_the_process_is_named_in_the_feedback(graded):
    results, *_ = graded
    for student, words in [("bad_infinite_loop", "did not finish within"), ("bad_os_exit", "ended the process"),
                           ("bad_segfault", "SIGSEGV")]:
        notes = [n for q in results[student].questions for n in q.notes]
        assert any(words in n and "skipped it" in n for n in notes), (student, notes)


def test_cheating_damages_nothing_and_leaves_no_process(graded):
    results, before, after, leftovers = graded
    assert before == after, f"course files changed: {set(before.items()) ^ set(after.items())}"
    assert leftovers == []
    assert not Path("/tmp/cheat_survivor_was_here").exists()
    assert all(r.status != ERROR for r in results.values())


def test_feedback_never_shows_hidden_test_code(graded):
    results, *_ = graded
    suite = cfg.ROOT / "autograder" / "tests" / HW1.id
    hidden = {line.strip() for path in suite.glob("*.py") for line in path.read_text().splitlines()
              if len(line.strip()) > 25 and not line.strip().startswith(("#", '"""'))}
    for result in results.values():
        text = feedback.render(result)
        shown = [line for line in hidden if line in text]
        assert not shown, f"feedback of {result.student} quotes the hidden suite: {shown[:3]}"
        assert "Traceback" not in text and "assert " not in text


def test_disclosures_are_reported_and_never_change_a_score(graded):
    results, *_ = graded
    ref = results["ref_reference"]
    path = cfg.SAMPLES_DIR / "submitted" / "ref_reference" / HW1.id / f"{HW1.notebook}.ipynb"
    text = path.read_text().replace("def mse_loss(pred, target):", "def mse_loss(pred, target):  # 以下幾行由gpt-5生成")
    disclosed = Path(os.environ["COURSE_GRADEBOOK_DIR"]) / "disclosed.ipynb"
    disclosed.write_text(text)
    result = next(grading.grade_many(HW1, [("disclosed", disclosed)], progress=False))
    assert result.score == ref.score
    assert result.disclosures and "losses" in result.disclosures[0] and "gpt-5" in result.disclosures[0]
    assert "gpt-5" in feedback.render(result)


def test_gradebook_records_idempotently_and_keeps_other_rows(graded):
    from nbgrader.api import Gradebook

    results, *_ = graded
    for student in ("ref_reference", "mistake_losses", "bad_not_json"):
        gradebook.record(results[student])
    with Gradebook(f"sqlite:///{cfg.GRADEBOOK_DB}", cfg.COURSE_ID) as gb:
        gb.find_grade("derivation", HW1.notebook, HW1.id, "ref_reference").manual_score = 3.5
        gb.db.commit()
    first = {r["student"]: r for r in gradebook.rows(HW1.id)}
    assert first["ref_reference"]["auto"] == HW1.auto_points
    assert first["mistake_losses"]["losses"] == 0 and first["bad_not_json"]["status"] == INVALID

    gradebook.record(results["mistake_losses"])  # regrade one student
    with pytest.raises(gradebook.NotRecorded):  # a grader failure never replaces a stored grade
        gradebook.record(SubmissionResult("ref_reference", HW1.id, ERROR, reason="judge crashed"))
    second = {r["student"]: r for r in gradebook.rows(HW1.id)}
    assert second == first
    assert second["ref_reference"]["derivation"] == 3.5  # the TA's manual score survived
    assert second["ref_reference"]["total"] == HW1.auto_points + 3.5
    csv_text = gradebook.to_csv(list(second.values()))
    assert csv_text.splitlines()[0].startswith("student,assignment,value_ops")


def test_cli_grades_one_notebook_to_json_into_a_fresh_gradebook(tmp_path):
    """From a shell where the venv is not activated (nbgrader shells out to alembic), into a
    gradebook that does not exist yet; nbgrader's own export then reads our grades."""
    notebook = cfg.SAMPLES_DIR / "submitted" / "mistake_grad_check" / HW1.id / f"{HW1.notebook}.ipynb"
    out = tmp_path / "out.json"
    env = {**os.environ, "PATH": "/usr/bin:/bin", "COURSE_GRADEBOOK_DIR": str(tmp_path / "gb")}
    done = subprocess.run([sys.executable, "-m", "autograder", "grade", HW1.id, str(notebook),
                           "--workers", "1", "--json", str(out), "--gradescope", str(tmp_path / "results.json")],
                          capture_output=True, text=True, cwd=cfg.ROOT, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "warning" not in done.stderr.lower(), done.stderr  # no false alarms on a fresh release
    [entry] = json.loads(out.read_text())
    assert {"student", "assignment", "score", "max_score", "questions"} <= set(entry)
    assert entry["student"] == "mistake_grad_check" and entry["score"] == HW1.auto_points - 3
    question = next(q for q in entry["questions"] if q["id"] == "grad_check")
    assert question["score"] == 0 and question["messages"]
    assert (tmp_path / "gb" / "feedback" / "mistake_grad_check" / f"{HW1.id}.md").exists()
    gradescope = json.loads((tmp_path / "results.json").read_text())  # written by otter's model
    assert sum(t["score"] for t in gradescope["tests"]) == HW1.auto_points - 3
    [failed] = [t for t in gradescope["tests"] if t["score"] < t["max_score"]]
    assert failed["name"].startswith("grad_check") and "test_numerical_gradient result" in failed["output"]

    exported = tmp_path / "nbgrader.csv"
    done = subprocess.run([sys.executable, "-m", "nbgrader", "export", "--to", str(exported)],
                          capture_output=True, text=True, cwd=cfg.ROOT, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    row = next(r for r in csv.DictReader(exported.open()) if r["student_id"] == "mistake_grad_check")
    assert float(row["raw_score"]) == HW1.auto_points - 3 and float(row["max_score"]) == HW1.auto_points + HW1.manual_points


def test_validate_passes():
    done = subprocess.run([sys.executable, "-m", "autograder", "validate", HW1.id], capture_output=True,
                          text=True, cwd=cfg.ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "reference: 34 / 34" in done.stdout and "blank release: 0 / 34" in done.stdout


# ------------------------------------------------------------------ the feedback policy

def _numbers(text: str) -> list[float]:
    """Every decimal number written in `text` (with a point or an exponent)."""
    return [float(m) for m in re.findall(r"(?<![\w.])-?\d+\.\d+(?:e[-+]?\d+)?|(?<![\w.])-?\d+e[-+]?\d+", text)]


def _hidden_numbers() -> list[float]:
    """The hidden inputs of the numeric checks and the values expected of a correct submission."""
    hidden = []
    for a, b, c in cases.value_points():
        hidden += [a, b, c]
        for _, fn in cases.VALUE_OPS:
            value, grads = torch_value(fn, a, b, c)
            hidden += [value, *grads]
    for v in cases.plain_number_points():
        hidden.append(v)
        for _, fn in cases.PLAIN_NUMBER_OPS:
            value, grads = torch_value(fn, v)
            hidden += [value, *grads]
    specs = [cases.random_graph(seed) for seed in cases.RANDOM_GRAPH_SEEDS] + list(cases.reused_node_graphs())
    for spec in specs + [cases.deep_chain()]:
        hidden += [node[1] for node in spec if node[0] == "leaf"] + graph_grads(spec)
    k = cases.loss_case()
    hidden += [reference_mse(k)[0], reference_ce(k["logits"], k["labels"])[0],
               reference_ce(k["large_logits"], k["large_labels"])[0]]
    # round values (1.0, 0.5, -2.0: the gradient of a + b, a ReLU's slope) say nothing hidden
    return [float(x) for x in hidden if math.isfinite(x) and abs(x) >= 0.01 and abs(x - round(x, 2)) > 1e-9]


def _significant_digits(written: str) -> int:
    mantissa = re.split(r"[eE]", written.lstrip("-"))[0].replace(".", "")
    return len(mantissa.lstrip("0"))


def _quoted_hidden(text: str, hidden: list[float]) -> list[float]:
    """Numbers of `text` written with 4 or more significant digits (the old messages wrote
    inputs with 4 and expected values with 6; a student's own accuracy, 0.842, has 3) that
    equal a hidden number."""
    hidden = np.array(hidden)
    written = re.findall(r"(?<![\w.])-?\d+\.\d+(?:e[-+]?\d+)?", text)
    return [float(w) for w in written if _significant_digits(w) >= 4 and abs(float(w)) >= 0.01
            and np.any(np.abs(hidden - float(w)) <= 5e-4 * np.abs(hidden))]


def test_feedback_quotes_no_hidden_input_or_expected_value(graded):
    """Feedback describes the symptom, never a hidden input or the value expected of it (the
    old messages said "at a = 1.218, b = -1.704 ... expected 2.43675"): with resubmission, a
    student could hard-code those."""
    results, *_ = graded
    assert sum(1 for r in results.values() for q in r.questions for c in q.checks if not c.passed) > 100
    hidden = _hidden_numbers()
    assert len(hidden) > 300
    for student, result in results.items():
        text = feedback.render(result)
        assert not _quoted_hidden(text, hidden), (student, _quoted_hidden(text, hidden), text[:3000])
    # the detector itself finds what the old messages said
    assert _quoted_hidden("at a = 1.218, b = -1.704 ... expected 2.43675", hidden)


def test_hard_coding_what_the_feedback_said_gains_nothing(graded, tmp_path):
    """A resubmission that answers every number quoted in its feedback with the number quoted
    after it (the `at a = X ... expected Y` pairs of the old messages) scores no more."""
    results, *_ = graded
    original = results["mistake_value_pow_grad"]
    quoted = _numbers(feedback.render(original))
    nb = nbformat.read(samples.path_of(SPEC["mistake_value_pow_grad"], HW1), 4)
    nb.cells.append(nbformat.v4.new_code_cell(f'''
QUOTED = {quoted!r}
_pow = Value.__pow__


def __pow__(self, n):
    out = _pow(self, n)
    for seen, answer in zip(QUOTED, QUOTED[1:]):
        if abs(self.data - seen) <= 5e-4 * max(abs(seen), 1e-12):
            out._local_grads = (answer,)
    return out


Value.__pow__ = __pow__
'''))
    path = tmp_path / "hardcoded" / HW1.id / f"{HW1.notebook}.ipynb"
    path.parent.mkdir(parents=True)
    nbformat.write(nb, path)
    [again] = grading.grade_many(HW1, [("hardcoded", path)], workers=1, progress=False)
    assert again.score <= original.score
    assert again.score < HW1.auto_points
