"""`validate`: the reference solution must score full marks and the blank release zero on
every question, with a reason for each zero, and nothing may crash."""
from __future__ import annotations

import tempfile
from pathlib import Path

import nbformat

import course_config as cfg
from autograder import grading, samples
from autograder.results import GRADED


def validate(assignment: cfg.Assignment, workers: int = 2) -> bool:
    blank = cfg.ROOT / "release" / assignment.id / f"{assignment.notebook}.ipynb"
    with tempfile.TemporaryDirectory(prefix="validate-") as scratch:
        # The reference as a student would hand it in: the source without its markers (and
        # without the midterm's bug regions, which sit next to the solutions).
        reference = Path(scratch) / f"{assignment.notebook}.ipynb"
        nbformat.write(samples.reference_notebook(assignment), reference)
        results = {r.student: r for r in grading.grade_many(
            assignment, [("reference", reference), ("blank", blank)], workers=workers, progress=False)}
    ok = True
    print(f"== {assignment.id}")
    ref = results["reference"]
    print(f"reference: {ref.score:g} / {ref.max_score:g} ({ref.status}, {ref.seconds:.1f} s)")
    if ref.status != GRADED or ref.score != ref.max_score:
        ok = False
        for q in ref.questions:
            for c in q.checks:
                if not c.passed:
                    print(f"  FAIL {q.id}/{c.name}: {c.message}")
        for note in ref.notes:
            print(f"  note: {note}")
    empty = results["blank"]
    print(f"blank release: {empty.score:g} / {empty.max_score:g} ({empty.status}, {empty.seconds:.1f} s)")
    if empty.status != GRADED:
        ok = False
        print(f"  the blank release did not run cleanly: {empty.reason}")
    for q in empty.questions:
        if q.manual:
            continue
        reasons = {c.message for c in q.checks if not c.passed}
        state = "zero" if q.score == 0 else f"{q.score:g} points: SHOULD BE ZERO"
        print(f"  {q.id}: {state}; reason: {'; '.join(sorted(reasons))[:150]}")
        if q.score != 0 or any(not c.message for c in q.checks):
            ok = False
    print("OK" if ok else "FAILED")
    return ok
