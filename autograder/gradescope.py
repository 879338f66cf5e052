"""Gradescope's `results.json`, written with otter-grader's own result model.

Each question becomes an otter `TestFile` whose test cases are the question's hidden checks
(with their points: partial credit), so otter's `GradingResults.to_gradescope_dict` produces
the file Gradescope's autograder harness reads, in the same shape otter's own runs give. The
check messages are the ones written for students; the hidden tests' code never enters it.
"""
from __future__ import annotations

import json
from pathlib import Path

from otter.run.run_autograder.autograder_config import AutograderConfig
from otter.test_files import GradingResults
from otter.test_files.abstract_test import TestCase, TestCaseResult, TestFile

from autograder.results import ERROR, GRADED, SubmissionResult


class GradedQuestion(TestFile):
    """A question whose checks already ran in our sandbox and judge: results only."""

    @classmethod
    def from_file(cls, path):
        raise NotImplementedError("GradedQuestion holds results; it is never read from a file")

    @classmethod
    def from_metadata(cls, s, path):
        raise NotImplementedError("GradedQuestion holds results; it is never read from metadata")

    def run(self, global_environment):
        raise NotImplementedError("GradedQuestion holds results; it never runs")


def grading_results(result: SubmissionResult) -> GradingResults:
    files = []
    for question in result.questions:
        if question.manual:
            continue
        cases, outcomes = [], []
        for check in question.checks:
            # Our messages are written for students: Gradescope shows them right away.
            case = TestCase(name=check.name, body=None, hidden=False, points=check.max_points,
                            success_message=None, failure_message=None)
            cases.append(case)
            message = "\n".join([check.message, *check.details]).strip()
            outcomes.append(TestCaseResult(test_case=case, message=message, passed=check.passed))
        test_file = GradedQuestion(f"{question.id}: {question.title}", "", cases, all_or_nothing=False)
        test_file.test_case_results = outcomes
        files.append(test_file)
    graded = GradingResults(files)
    notes = [f"Status: {result.status}" + (f" ({_reason_for_student(result)})" if result.reason else "")] \
        if result.status != GRADED else []
    notes += result.notes + [f"AI-use disclosure (never changes the score): {d}" for d in result.disclosures]
    graded.set_output("\n".join(notes) or "Graded.")
    return graded


def _reason_for_student(result: SubmissionResult) -> str:
    """Gradescope shows `output` to the student at once. The reason of a crash or an invalid file is
    about the student's own work; a grader failure ("error") names our internals (paths of the hidden
    suite, an exception from reading its data): the student reads a fixed line, the staff the reason,
    which goes to the autograder's log (stderr)."""
    if result.status != ERROR:
        return result.reason
    import sys
    print(f"grader error for {result.student}: {result.reason}", file=sys.stderr)
    return "the grader failed on its side, not because of your code: the course staff can see why and will grade it again"


def results_json(result: SubmissionResult) -> dict:
    config = AutograderConfig({"show_hidden": True, "show_all_public": True,
                               "force_public_test_summary": False, "show_stdout": False})
    return grading_results(result).to_gradescope_dict(config)


def write(result: SubmissionResult, path: Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results_json(result), indent=1, ensure_ascii=False))
    return path


# ------------------------------------------------------------------------ the bundle

VISIBILITIES = ("hidden", "after_due_date", "after_published", "visible")
# What a Gradescope container needs of the course to grade one assignment: the grader, the
# student-side runtime, the release and that assignment's hidden suite; never source/ (the
# solutions), the samples or other assignments' suites.
BUNDLED = ("course_config.py", "nbgrader_config.py", "pyproject.toml", "requirements.txt",
           "requirements-data.txt", "assignments", "calibration")

SETUP_SH = """#!/usr/bin/env bash
# Gradescope runs this once when it builds the autograder image (it has network then).
set -euo pipefail
cd /autograder/source
python3 -m pip install --quiet -r requirements.txt
python3 -m pip install --quiet --no-deps -r requirements-data.txt
python3 -m pip install --quiet --no-deps --no-build-isolation -e .
"""

RUN_AUTOGRADER = """#!/usr/bin/env bash
# Gradescope runs this for every submission: /autograder/submission/ holds the student's files,
# /autograder/submission_metadata.json who they are; the results go to /autograder/results/.
set -uo pipefail
ROOT="${{AUTOGRADER_ROOT:-/autograder}}"
cd "$ROOT/source"
"${{PYTHON:-python3}}" -m autograder gradescope-run {assignment} \\
    --submission "$ROOT/submission" --metadata "$ROOT/submission_metadata.json" \\
    --results "$ROOT/results/results.json" {isolation}
"""


def gradescope_dict(result: SubmissionResult, visibility: str | None = None) -> dict:
    """results.json for `result`: otter's shape, each check's visibility from the course's
    configuration, and a line per hand-graded question (pending: graded after the deadline)."""
    import course_config as cfg

    visibility = visibility or cfg.GRADESCOPE_CHECK_VISIBILITY
    if visibility not in VISIBILITIES:
        raise ValueError(f"GRADESCOPE_CHECK_VISIBILITY must be one of {VISIBILITIES}, not {visibility!r}")
    data = results_json(result)
    for test in data["tests"]:
        test["visibility"] = visibility
    for question in result.questions:
        if question.manual:
            data["tests"].append({"name": f"{question.id}: {question.title}", "visibility": "visible",
                                  "output": f"Graded by hand ({question.max_score:g} points): pending."})
    data["score"] = result.score
    return data


def student_of(metadata_path: Path) -> str:
    """The student's id from Gradescope's submission_metadata.json: the first submitter's
    student id (sid), else their email's name, else Gradescope's user id."""
    import re

    try:
        users = json.loads(Path(metadata_path).read_text()).get("users") or [{}]
    except (OSError, ValueError):
        users = [{}]
    user = users[0] if isinstance(users[0], dict) else {}
    raw = str(user.get("sid") or str(user.get("email") or "").split("@")[0] or user.get("id") or "unknown")
    return re.sub(r"[^A-Za-z0-9._@+-]", "_", raw)[:64].lstrip("._-") or "unknown"


def run_submission(assignment, submission_dir: Path, metadata_path: Path, results_path: Path,
                   no_isolation: bool = False) -> dict:
    """Grade the one notebook Gradescope put in `submission_dir`; write results.json."""
    from autograder import grading
    from autograder.results import INVALID

    submission_dir = Path(submission_dir)
    student = student_of(metadata_path)
    notebooks = sorted(submission_dir.glob("*.ipynb"))
    preferred = submission_dir / f"{assignment.notebook}.ipynb"
    path = preferred if preferred.exists() else (notebooks[0] if notebooks else None)
    if path is None:
        result = SubmissionResult(student=student, assignment=assignment.id, status=INVALID,
                                  reason=f"no notebook (.ipynb) was submitted; upload {assignment.notebook}.ipynb")
        result.questions = grading._zero(assignment, result.reason)
    else:
        result = next(grading.grade_many(assignment, [(student, path)], workers=1, progress=False,
                                         no_isolation=no_isolation))
    data = gradescope_dict(result)
    results_path = Path(results_path)
    results_path.parent.mkdir(parents=True, exist_ok=True)
    results_path.write_text(json.dumps(data, indent=1, ensure_ascii=False))
    return data


def bundle(assignment, out_dir: Path, allow_no_isolation: bool = False) -> Path:
    """Gradescope's autograder zip for `assignment`: setup.sh, run_autograder, source/."""
    import shutil
    import tempfile
    import zipfile

    import course_config as cfg

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"{assignment.id}-gradescope.zip"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".ipynb_checkpoints", "data")
    with tempfile.TemporaryDirectory() as scratch:
        source = Path(scratch) / "source"
        for name in BUNDLED:
            item = cfg.ROOT / name
            if item.is_dir():
                shutil.copytree(item, source / name, ignore=ignore)
            elif item.exists():
                (source / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(item, source / name)
        shutil.copytree(cfg.ROOT / "autograder", source / "autograder",
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "tests"))
        suites = source / "autograder" / "tests"
        suites.mkdir()
        for name in ("__init__.py", "pytest.ini"):
            shutil.copy2(cfg.ROOT / "autograder" / "tests" / name, suites / name)
        shutil.copytree(cfg.ROOT / "autograder" / "tests" / assignment.id, suites / assignment.id, ignore=ignore)
        shutil.copytree(cfg.ROOT / "release" / assignment.id, source / "release" / assignment.id, ignore=ignore)
        isolation = "--no-isolation" if allow_no_isolation else ""
        files = {"setup.sh": SETUP_SH,
                 "run_autograder": RUN_AUTOGRADER.format(assignment=assignment.id, isolation=isolation)}
        with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
            for name, text in files.items():
                info = zipfile.ZipInfo(name)
                info.external_attr = 0o755 << 16
                archive.writestr(info, text)
            for path in sorted(source.rglob("*")):
                if path.is_file():
                    archive.write(path, Path("source") / path.relative_to(source))
    return target
