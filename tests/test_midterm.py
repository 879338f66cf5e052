"""The midterm: the release shows each buggy program exactly and no trace of a fix; every
shipped sample scores as its spec says (the bugs score zero, other correct fixes full marks,
plausible wrong fixes lose their exercise); the lab tool works on a copy of the release."""
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

import course_config as cfg
from autograder import grading, lab, release, samples, validate
from autograder.results import GRADED

MIDTERM = cfg.ASSIGNMENTS["midterm"]
SPEC = {s.student: s for s in samples.spec(MIDTERM.id)}
SOURCE = cfg.ROOT / "source" / MIDTERM.id / f"{MIDTERM.notebook}.ipynb"
RELEASED = cfg.ROOT / "release" / MIDTERM.id / f"{MIDTERM.notebook}.ipynb"
EXERCISES = [q.id for q in MIDTERM.questions if q.id.startswith("ex")]


def cells_by_id(notebook) -> dict:
    """grade_id -> source of a notebook (a path, or a notebook already read)."""
    nb = notebook if isinstance(notebook, nbformat.NotebookNode) else nbformat.read(notebook, 4)
    return {c.metadata["nbgrader"]["grade_id"]: c.source for c in nb.cells if "grade_id" in c.metadata.get("nbgrader", {})}


def regions(source: str) -> tuple[list[str], list[str]]:
    """(solution lines, bug lines) of a source cell."""
    found = {"SOLUTION": [], "BUG": []}
    current = None
    for line in source.split("\n"):
        if "### BEGIN " in line:
            current = found[line.split("### BEGIN ")[1].strip()]
        elif "### END " in line:
            current = None
        elif current is not None:
            current.append(line)
    return found["SOLUTION"], found["BUG"]


def render(source: str, keep: str) -> str:
    """The cell with the region `keep` ("SOLUTION" or "BUG") in place, the other dropped, no marker."""
    kept, current = [], None
    for line in source.split("\n"):
        if "### BEGIN " in line:
            current = line.split("### BEGIN ")[1].strip()
        elif "### END " in line:
            current = None
        elif current in (None, keep):
            kept.append(line)
    return "\n".join(kept)


# ------------------------------------------------------------------------------ the release

def test_each_exercise_is_released_as_its_buggy_program_exactly():
    source, released = cells_by_id(SOURCE), cells_by_id(RELEASED)
    reference = cells_by_id(samples.reference_notebook(MIDTERM))
    for qid in [*EXERCISES, "concepts"]:
        cell = source[f"{qid}_impl"]
        assert "### BEGIN SOLUTION" in cell and "### BEGIN BUG" in cell, f"{qid}: the fix and the bug side by side"
        assert released[f"{qid}_impl"] == render(cell, "BUG"), f"{qid}: the release is not the buggy program"
        assert reference[f"{qid}_impl"] == render(cell, "SOLUTION"), f"{qid}: the reference is not the fixed program"


def test_no_fix_and_no_marker_in_the_release():
    source, released = cells_by_id(SOURCE), cells_by_id(RELEASED)
    for qid in EXERCISES:
        solution, bug = regions(source[f"{qid}_impl"])
        shown = {" ".join(line.split()) for line in released[f"{qid}_impl"].split("\n")}
        fix = {" ".join(line.split()) for line in solution} - {" ".join(line.split()) for line in bug} - {""}
        assert not fix & shown, f"{qid}: the release shows a line of the fix: {fix & shown}"
    text = RELEASED.read_text()
    for marker in release.MARKERS:
        assert marker not in text
    assert release.find_leaks(MIDTERM.id, RELEASED.parent) == []
    assert lab.hidden_material(MIDTERM.id, RELEASED.parent) == []


def test_bug_regions_in_the_preprocessor_and_the_leak_scan():
    from autograder.nbgrader_setup import nbgrader_config

    clear = release.ClearSolutionsShowBugs(config=nbgrader_config())
    cell = nbformat.v4.new_code_cell("a = 1\n### BEGIN SOLUTION\np = x.softmax(1)\n### END SOLUTION\n"
                                     "### BEGIN BUG\np = x.softmax(0)\n### END BUG\nb = 2")
    assert clear._replace_solution_region(cell, "python") and cell.source == "a = 1\np = x.softmax(0)\nb = 2"
    plain = nbformat.v4.new_code_cell("def f():\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION")
    assert clear._replace_solution_region(plain, "python")
    assert plain.source == "def f():\n    # YOUR CODE HERE\n    raise NotImplementedError()"  # as ClearSolutions
    for broken in ("### BEGIN BUG\nx\n### BEGIN SOLUTION\ny\n### END SOLUTION\n### END BUG",
                   "### BEGIN BUG\nx\n### END SOLUTION", "### BEGIN BUG\nx"):
        with pytest.raises(RuntimeError):
            clear._replace_solution_region(nbformat.v4.new_code_cell(broken), "python")
    # a solution line is secret unless the release shows it legitimately (a bug line is shown)
    secrets = release.secret_lines(MIDTERM.id)
    assert "probs = F.softmax(logits, dim=1)" in secrets and "probs = F.softmax(logits, dim=0)" not in secrets
    assert "loss = loss_fn(model(xb), yb) / accum_steps" not in secrets  # in the fix and the bug of ex1


# ------------------------------------------------------------------------------ grading

@pytest.fixture(scope="module")
def graded():
    """Grade every shipped midterm sample once, with 2 workers."""
    submissions = grading.find_submissions(MIDTERM, [cfg.SAMPLES_DIR / "submitted"])
    return {r.student: r for r in grading.grade_many(MIDTERM, submissions, workers=2, progress=False)}


def test_every_sample_is_graded_and_up_to_date(graded, tmp_path):
    assert sorted(graded) == sorted(SPEC)
    assert samples.stale(MIDTERM.id, tmp_path) == [], "run `python -m autograder release` and commit samples/"


@pytest.mark.parametrize("student", sorted(SPEC))
def test_sample_loses_exactly_its_questions(graded, student):
    result = graded[student]
    assert result.status == GRADED, result.reason
    assert samples.discrepancies(SPEC[student], result, MIDTERM) == []


def test_every_exercise_has_two_more_correct_fixes_and_a_wrong_one():
    released = cells_by_id(RELEASED)
    for qid in EXERCISES:
        assert SPEC[f"wrong_{qid}"].loses == (qid,)
        built = {s: cells_by_id(samples.path_of(SPEC[s], MIDTERM))[f"{qid}_impl"]
                 for s in ("ref_reference", "fixes_a", "fixes_b", f"wrong_{qid}")}
        assert len(set(built.values())) == 4, f"{qid}: the fixes of the samples are not all different"
        assert released[f"{qid}_impl"] not in built.values()


def test_blank_release_scores_zero_with_reasons(graded):
    blank = graded["blank_release"]
    assert blank.status == GRADED and blank.score == 0
    assert all(c.message for q in blank.questions for c in q.checks)
    assert graded["ref_reference"].score == MIDTERM.auto_points == 100


def test_validate_covers_the_midterm(capsys):
    assert validate.validate(MIDTERM, workers=2)
    out = capsys.readouterr().out
    assert "reference: 100 / 100" in out and "blank release: 0 / 100" in out


# ------------------------------------------------------------------------------ the lab

def lab_tool(folder: Path, *args, timeout=180):
    done = subprocess.run([sys.executable, "-m", "assignments.lab", *args], cwd=folder, capture_output=True,
                          text=True, timeout=timeout, env={**os.environ, "PYTHONPATH": ""})
    return done.returncode, done.stdout + done.stderr


@pytest.fixture
def exam(tmp_path) -> Path:
    """A lab machine's folder, as `lab midterm prepare` makes it."""
    return lab.prepare(MIDTERM, tmp_path / "machine")


def test_lab_machine_check_start_and_submit(exam):
    code, out = lab_tool(exam, "check-machine")
    assert code == 0 and "this machine is ready" in out and "torch" in out, out
    code, out = lab_tool(exam, "start", "--student", "B1234567")
    assert code == 0 and "time left: 2:49" in out, out
    state = json.loads((exam / ".lab_state.json").read_text())
    assert state["student"] == "B1234567" and state["minutes"] == 170
    code, out = lab_tool(exam, "start", "--student", "B7654321")
    assert code == 1 and "started by B1234567" in out
    code, out = lab_tool(exam, "submit")
    assert code == 0, out
    submitted = exam.parent / "submission" / "B1234567" / MIDTERM.id / f"{MIDTERM.notebook}.ipynb"
    assert submitted.read_bytes() == (exam / f"{MIDTERM.notebook}.ipynb").read_bytes()
    copied = lab.collect(MIDTERM, [exam.parent / "submission"], exam.parent / "submitted")
    assert grading.find_submissions(MIDTERM, [exam.parent / "submitted"]) == [("B1234567", copied[0][1])]


def test_lab_check_runs_the_visible_checks(exam):
    code, out = lab_tool(exam, "check", "7", "concepts")
    assert code == 1 and "ex7                FAIL  in evaluation mode" in out, out
    assert "concepts_basics    FAIL  c1: not answered yet" in out and "0 of 4 visible checks pass" in out
    fixed = samples.path_of(SPEC["ref_reference"], MIDTERM)
    shutil.copyfile(fixed, exam / f"{MIDTERM.notebook}.ipynb")
    code, out = lab_tool(exam, "check", "ex7", "concepts_text")
    assert code == 0 and "2 of 2 visible checks pass" in out, out


def test_lab_check_survives_a_check_that_hangs(exam):
    path = exam / f"{MIDTERM.notebook}.ipynb"
    nb = nbformat.read(path, 4)
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "ex7_impl":
            cell.source = cell.source.replace("    def forward(self, x):\n", "    def forward(self, x):\n        while True:\n            pass\n")
    nbformat.write(nb, path)
    code, out = lab_tool(exam, "check", "7", "9", "--timeout", "5")
    assert "ex7                FAIL  no result within 5 s" in out, out
    assert "ex9                FAIL  a review's logits change" in out, out


# ------------------------------------------------------------------------------ feedback policy

HIDDEN_SETTING = re.compile(r"\b(lr|gamma|p|step_size|micro_batch|accum_steps|epochs|threshold|patience|seed)\s*[=:]?\s*\d")


def test_feedback_quotes_no_hidden_setting_or_expected_value(graded):
    """Hidden-test messages name the symptom and the kind of input: no hidden setting (the old
    ones said `train_with_schedule(epochs=5, lr=0.1, ...)` and the learning rates to expect), no
    expected accuracy or loss, no answer key."""
    from autograder import feedback
    from autograder.tests.midterm import test_concepts

    key_numbers = {str(v) for v in test_concepts.KEY.values() if isinstance(v, float)}
    failing = 0
    for student, result in graded.items():
        messages = [c.message for q in result.questions for c in q.checks if not c.passed and c.message]
        failing += len(messages)
        for message in messages:
            assert not HIDDEN_SETTING.search(message), (student, message)
            assert not re.search(r"expected \d|should be \d|the trained model's are", message), (student, message)
            assert not key_numbers & set(re.findall(r"\d+\.\d+", message)), (student, message)
        text = feedback.render(result)
        assert not key_numbers & set(re.findall(r"\d+\.\d+", text)), student
    assert failing >= 10
