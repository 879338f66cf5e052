"""The shipped sample submissions, built from the source notebook and a spec per assignment.

`samples/<assignment>.py` lists `SAMPLES`: the reference solution, the blank release, planted
plausible mistakes (one or more per blank), bad inputs and cheating attempts. Each is a base
notebook (`reference` = the source with its solution markers removed, as a student who
filled every blank would hand in; `blank` = the release as given) plus exact text edits, and
says which questions it must lose (`loses`), so `tests/` can hold every sample to it.
`release` rebuilds them into samples/submitted/<student>/<assignment>/, nbgrader's layout.
"""
from __future__ import annotations

import importlib.util
import shutil
from dataclasses import dataclass
from pathlib import Path

import nbformat

import course_config as cfg
from autograder.preprocessors import BUG, MARKERS

ALL = "all"


@dataclass(frozen=True)
class Sample:
    student: str
    why: str  # what this sample is, in one line
    base: str = "reference"  # "reference" or "blank"
    edits: tuple[tuple[str, str], ...] = ()  # (old, new): `old` must occur exactly once
    from_release: tuple[str, ...] = ()  # grade_ids of cells left as the release has them
    append: str = ""  # code of an extra cell at the end
    raw: bytes | None = None  # the file's bytes as they are (a corrupt upload)
    # questions scoring zero, the others full ("all": every one); a "test_..." entry names one
    # hidden check that must fail while the rest of its question scores
    loses: tuple[str, ...] | str = ()


def spec(assignment_id: str) -> list[Sample]:
    """The samples of `samples/<assignment>.py`, then the adversary's of
    `samples/attacks/<assignment>.py` (written by someone who has read all of our code)."""
    found = []
    for path in (cfg.SAMPLES_DIR / f"{assignment_id}.py", cfg.SAMPLES_DIR / "attacks" / f"{assignment_id}.py"):
        if not path.exists():
            continue
        name = f"samples_{path.parent.name}_{assignment_id}"
        module_spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(module_spec)
        module_spec.loader.exec_module(module)
        found += module.SAMPLES
    return found


def filled_in(notebook):
    """The source notebook with its solution markers (not their content) removed, and its bug
    regions (the midterm's buggy code, shown in the release instead of the solution) dropped."""
    nb = nbformat.from_dict(notebook)
    for cell in nb.cells:
        kept, in_bug = [], False
        for line in cell.source.split("\n"):
            if BUG[0] in line or BUG[1] in line:
                in_bug = BUG[0] in line
            elif not in_bug and not any(m in line for m in MARKERS):
                kept.append(line)
        cell.source = "\n".join(kept)
    return nb


def reference_notebook(assignment: cfg.Assignment):
    """The reference solution as a student would hand it in (see `filled_in`)."""
    return filled_in(nbformat.read(cfg.ROOT / "source" / assignment.id / f"{assignment.notebook}.ipynb", 4))


def notebook_for(sample: Sample, assignment: cfg.Assignment):
    if sample.base == "reference":
        nb = reference_notebook(assignment)
    elif sample.base == "blank":
        nb = nbformat.read(cfg.ROOT / "release" / assignment.id / f"{assignment.notebook}.ipynb", 4)
    else:
        raise ValueError(f"{sample.student}: unknown base {sample.base!r}")
    if sample.from_release:
        released = nbformat.read(cfg.ROOT / "release" / assignment.id / f"{assignment.notebook}.ipynb", 4)
        blanks = {c.metadata.get("nbgrader", {}).get("grade_id"): c.source for c in released.cells}
        for cell in nb.cells:
            grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
            if grade_id in sample.from_release:
                cell.source = blanks[grade_id]
    for old, new in sample.edits:
        hits = [c for c in nb.cells if old in c.source]
        count = sum(c.source.count(old) for c in hits)
        if count != 1:
            raise ValueError(f"sample {sample.student}: {old!r} occurs {count} times in the notebook, not once")
        hits[0].source = hits[0].source.replace(old, new)
    if sample.append:
        cell = nbformat.v4.new_code_cell(sample.append)
        cell.id = "sample-appended"  # a fixed id: a rebuild must reproduce the file exactly
        nb.cells.append(cell)
    return nb


def handed_in(assignment: cfg.Assignment) -> str:
    """The samples' hand-in time, as nbgrader's `collect` writes it: a day before the deadline."""
    import datetime

    when = assignment.due_at.astimezone(datetime.timezone.utc) - datetime.timedelta(days=1)
    return when.strftime("%Y-%m-%d %H:%M:%S.%f UTC")


def path_of(sample: Sample, assignment: cfg.Assignment, root: Path | None = None) -> Path:
    root = Path(root or cfg.SAMPLES_DIR / "submitted")
    return root / sample.student / assignment.id / f"{assignment.notebook}.ipynb"


def build(assignment_id: str, root: Path | None = None) -> list[Path]:
    """Write every sample of `assignment_id` under `root` (default samples/submitted/)."""
    assignment = cfg.ASSIGNMENTS[assignment_id]
    samples = spec(assignment_id)
    root = Path(root or cfg.SAMPLES_DIR / "submitted")
    for stale in root.glob(f"*/{assignment_id}"):
        shutil.rmtree(stale)
    written = []
    for sample in samples:
        path = path_of(sample, assignment, root)
        path.parent.mkdir(parents=True, exist_ok=True)
        if sample.raw is not None:
            path.write_bytes(sample.raw)
        else:
            nbformat.write(notebook_for(sample, assignment), path)
        (path.parent / "timestamp.txt").write_text(handed_in(assignment))
        written.append(path)
    for empty in root.glob("*"):
        if empty.is_dir() and not any(empty.iterdir()):
            empty.rmdir()
    return written


def losing(sample: Sample, assignment: cfg.Assignment) -> set[str]:
    """The auto-graded questions `sample` must score zero on."""
    if sample.loses == ALL:
        return {q.id for q in assignment.questions if q.checks}
    return {name for name in sample.loses if not name.startswith("test_")}


def losing_checks(sample: Sample) -> set[str]:
    """Hidden checks (`loses` entries named "test_...") that `sample` must fail while the rest
    of their question scores: a mistake that costs one check of a question, not all of it."""
    if sample.loses == ALL:
        return set()
    return {name for name in sample.loses if name.startswith("test_")}


def discrepancies(sample: Sample, result, assignment: cfg.Assignment) -> list[str]:
    """How a graded sample departs from its spec: each question it must lose scores zero, with
    a reason for every check; each check it must lose fails with a reason while the other checks
    of its question pass; every other auto-graded question scores full marks."""
    problems = []
    must_lose = losing(sample, assignment)
    must_fail = losing_checks(sample)
    known = {c for q in assignment.questions for c in q.checks}
    problems += [f"{sample.student}: no hidden check called {name}" for name in sorted(must_fail - known)]
    for question in result.questions:
        if question.manual:
            continue
        failed = [f"{c.name}: {c.message}" for c in question.checks if not c.passed]
        if question.id in must_lose:
            if question.score != 0:
                problems.append(f"{sample.student} ({sample.why}) should lose {question.id}; kept {question.score}")
            if not all(c.message for c in question.checks):
                problems.append(f"{sample.student}: a zero on {question.id} has no reason")
        elif must_fail & {c.name for c in question.checks}:
            for check in question.checks:
                if check.name in must_fail and (check.passed or not check.message):
                    problems.append(f"{sample.student} ({sample.why}) should fail {check.name} with a reason")
                elif check.name not in must_fail and not check.passed:
                    problems.append(f"{sample.student} lost {check.name} of {question.id}: {check.message}")
        elif question.score != question.max_score:
            problems.append(f"{sample.student} lost points on {question.id}: {failed}")
    return problems


def stale(assignment_id: str, scratch: Path) -> list[Path]:
    """Shipped sample files that differ from a fresh build into `scratch`."""
    shipped_root = cfg.SAMPLES_DIR / "submitted"
    found = []
    for fresh in build(assignment_id, root=scratch):
        shipped = shipped_root / fresh.relative_to(scratch)
        if not shipped.is_file() or shipped.read_bytes() != fresh.read_bytes():
            found.append(shipped)
    return found
