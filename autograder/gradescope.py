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

from autograder.results import GRADED, SubmissionResult


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
    notes = [f"Status: {result.status}" + (f" ({result.reason})" if result.reason else "")] if result.status != GRADED else []
    notes += result.notes + [f"AI-use disclosure (never changes the score): {d}" for d in result.disclosures]
    graded.set_output("\n".join(notes) or "Graded.")
    return graded


def results_json(result: SubmissionResult) -> dict:
    config = AutograderConfig({"show_hidden": True, "show_all_public": True,
                               "force_public_test_summary": False, "show_stdout": False})
    return grading_results(result).to_gradescope_dict(config)


def write(result: SubmissionResult, path: Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results_json(result), indent=1, ensure_ascii=False))
    return path
