"""The proctor's side of a computer-lab exam (the students' side, `assignments/lab.py`, ships in
the release folder):

    python -m autograder lab midterm prepare DEST     DEST/midterm/ for the lab machines' image
    python -m autograder lab midterm collect SRC...   the machines' submission/ folders -> submitted/

A lab machine gets the release folder and nothing else. `prepare` copies it and proves that the
copy holds no line of a solution, of the hidden suite or of the answer key, and no file of the
grader; `collect` gathers what `python -m assignments.lab submit` saved on each machine
(`submission/<student>/<exam>/<exam>.ipynb`) into nbgrader's `submitted/` tree, which `grade`
takes as it is.

`collect` accepts a notebook only for the student whose `start` made it: `start` draws a random
token bound to the student id, and `submit` writes a record (`lab.json`) beside the notebook with
that student id, the token, the clock and the notebook's SHA-256. A folder without a record, with
a record for another student, or whose notebook does not match its record's hash is refused; a
student whose copies come from two different `start`s (someone started an exam as them) is not
collected automatically: the proctor sees both and decides. Late submissions are collected and
listed as late, with their time.
"""
from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import nbformat

import course_config as cfg
from autograder import release

STATE_FILE = ".lab_state.json"  # the exam clock of assignments/lab.py: never part of an image
RECORD = "lab.json"  # what `python -m assignments.lab submit` writes beside each notebook


class LabError(Exception):
    pass


def _text(path: Path) -> str:
    """A file's text; for a notebook, its cells' code (as a student sees it, unescaped)."""
    raw = path.read_bytes().decode("utf-8", errors="ignore")
    if path.suffix == ".ipynb":
        try:
            return "\n".join([c.source for c in nbformat.reads(raw, as_version=4).cells] + [raw])
        except Exception:  # noqa: BLE001 - an unreadable notebook is scanned as text
            pass
    return raw


def _lines(texts) -> set[str]:
    """The distinctive lines of `texts`: 30 characters or more, not comments."""
    lines = set()
    for text in texts:
        for raw in text.splitlines():
            line = " ".join(raw.split())
            if len(line) >= 30 and not line.startswith(("#", '"""')):
                lines.add(line)
    return lines


def hidden_material(assignment_id: str, folder: Path) -> list[str]:
    """Everything under `folder` that must not reach a lab machine: solution or hidden-test
    lines and markers (release.find_leaks), lines of the hidden suite (probes, tests, the answer
    key) that the release has no reason to hold, and any file of the grader itself."""
    problems = release.find_leaks(assignment_id, folder)
    public = [_text(p) for p in (cfg.ROOT / "source" / assignment_id).rglob("*") if p.is_file()]
    public += [p.read_text() for p in (cfg.ROOT / "assignments").rglob("*.py")]
    suite = cfg.ROOT / "autograder" / "tests" / assignment_id
    secret = _lines(p.read_text() for p in suite.rglob("*.py")) - _lines(public)
    for path in sorted(p for p in Path(folder).rglob("*") if p.is_file()):
        if {"autograder", "source"} & set(path.relative_to(folder).parts) or path.name == "course_config.py":
            problems.append(f"{path}: a file of the grader")
            continue
        shown = sorted(secret & _lines([_text(path)]))
        problems += [f"{path}: a line of the hidden suite: {line[:60]}" for line in shown[:3]]
    return problems


def prepare(assignment: cfg.Assignment, dest: Path, force: bool = False) -> Path:
    """Copy release/<exam>/ to DEST/<exam>/ and check the copy; return it."""
    source = cfg.ROOT / "release" / assignment.id
    if not (source / f"{assignment.notebook}.ipynb").exists():
        raise LabError(f"no {source / assignment.notebook}.ipynb: run `python -m autograder release {assignment.id}`")
    target = Path(dest).resolve() / assignment.id
    if target.exists():
        if not force:
            raise LabError(f"{target} exists already (a started exam?): add --force to replace it")
        shutil.rmtree(target)
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", STATE_FILE))
    problems = hidden_material(assignment.id, target)
    if problems:
        shutil.rmtree(target)
        raise LabError("the release would give away hidden material, nothing was copied:\n" + "\n".join(problems[:20]))
    return target


@dataclass(eq=False)
class Collected(list):
    """The (student, path) pairs copied (a list, as before), and what the proctor must see."""

    late: list = field(default_factory=list)  # (student, submitted at, seconds late)
    refused: list = field(default_factory=list)  # (path, why)
    conflicts: list = field(default_factory=list)  # (student, [paths]): copies from different starts


def verify(notebook: Path, assignment: cfg.Assignment) -> tuple[dict | None, str | None]:
    """(the submission's record, None) if `notebook` was submitted by the lab tool for the
    student its folder is named after; (None, why not) otherwise."""
    student = notebook.parent.parent.name
    try:
        record = json.loads((notebook.parent / RECORD).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None, f"no valid {RECORD} beside it: not submitted with `python -m assignments.lab submit`"
    if not isinstance(record, dict) or not isinstance(record.get("token"), str) or len(record["token"]) < 16:
        return None, f"its {RECORD} has no start token"
    if record.get("student") != student:
        return None, f"its {RECORD} was made by the exam started for {record.get('student')!r}, not {student!r}"
    if record.get("exam") != assignment.id:
        return None, f"its {RECORD} is for {record.get('exam')!r}, not {assignment.id}"
    if hashlib.sha256(notebook.read_bytes()).hexdigest() != record.get("sha256"):
        return None, "the notebook is not the one that was submitted (its SHA-256 differs from the record)"
    return record, None


def collect(assignment: cfg.Assignment, sources, dest: Path | None = None) -> Collected:
    """Copy each `<student>/<exam>/<exam>.ipynb` found under the SRC folders (a machine's
    `submission/` folder, or one student's folder) into `dest` (default: submitted/), with its
    record, if `verify` accepts it. When a student appears on two machines with the same start,
    the copy submitted last wins; with different starts, neither is taken (a conflict)."""
    dest = Path(dest or cfg.SUBMITTED_DIR)
    name = f"{assignment.notebook}.ipynb"
    found: dict[str, list[tuple[dict, Path]]] = {}
    result = Collected()
    for raw in sources:
        src = Path(raw)
        if not src.is_dir():
            raise LabError(f"{src} is not a folder")
        candidates = list(src.glob(f"*/{assignment.id}/{name}")) + list(src.glob(f"{assignment.id}/{name}"))
        if not candidates:
            print(f"  {src}: no {assignment.id} submission in it")
        for notebook in candidates:
            if notebook.is_symlink() or not notebook.is_file():
                result.refused.append((notebook, "not a plain file"))
                print(f"  REFUSED {notebook}: not a plain file")
                continue
            record, why = verify(notebook, assignment)
            if record is None:
                result.refused.append((notebook, why))
                print(f"  REFUSED {notebook}: {why}")
                continue
            found.setdefault(notebook.parent.parent.name, []).append((record, notebook))
    for student, copies in sorted(found.items()):
        if len({record["token"] for record, _ in copies}) > 1:
            paths = [path for _, path in copies]
            result.conflicts.append((student, paths))
            print(f"  CONFLICT {student}: copies from {len({r['token'] for r, _ in copies})} different starts "
                  f"({', '.join(str(p.parent) for p in paths)}): someone started an exam as {student}; "
                  "none collected: check the seating and collect the right machine's folder alone")
            continue
        record, notebook = max(copies, key=lambda c: float(c[0].get("submitted") or 0))
        if len(copies) > 1:
            print(f"  {student}: {len(copies)} copies of the same exam; kept the one submitted last, {notebook}")
        target = dest / student / assignment.id / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(notebook, target)
        (target.parent / RECORD).write_text(json.dumps(record, indent=1))
        submitted = record.get("submitted")
        if isinstance(submitted, (int, float)):  # nbgrader's hand-in time, as `nbgrader collect` writes it
            (target.parent / "timestamp.txt").write_text(
                datetime.fromtimestamp(float(submitted), timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f UTC"))
        result.append((student, target))
        if record.get("late"):
            when = datetime.fromtimestamp(float(record["submitted"])).strftime("%H:%M:%S")
            late_by = float(record.get("late_by_s") or 0)
            result.late.append((student, when, late_by))
            print(f"  LATE {student}: submitted at {when}, {int(late_by // 60)} min {int(late_by % 60)} s after "
                  f"the end of the {record.get('minutes')}-minute clock")
    return result
