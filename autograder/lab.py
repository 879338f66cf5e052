"""The proctor's side of a computer-lab exam (the students' side, `assignments/lab.py`, ships in
the release folder):

    python -m autograder lab midterm prepare DEST     DEST/midterm/ for the lab machines' image
    python -m autograder lab midterm collect SRC...   the machines' submission/ folders -> submitted/

A lab machine gets the release folder and nothing else. `prepare` copies it and proves that the
copy holds no line of a solution, of the hidden suite or of the answer key, and no file of the
grader; `collect` gathers what `python -m assignments.lab submit` saved on each machine
(`submission/<student>/<exam>/<exam>.ipynb`) into nbgrader's `submitted/` tree, which `grade`
takes as it is.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import nbformat

import course_config as cfg
from autograder import release

STATE_FILE = ".lab_state.json"  # the exam clock of assignments/lab.py: never part of an image


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


def collect(assignment: cfg.Assignment, sources, dest: Path | None = None) -> list[tuple[str, Path]]:
    """Copy each `<student>/<exam>/<exam>.ipynb` found under the SRC folders (a machine's
    `submission/` folder, or one student's folder) into `dest` (default: submitted/). When a
    student appears on two machines, the copy saved last wins. Returns (student, path) pairs."""
    dest = Path(dest or cfg.SUBMITTED_DIR)
    name = f"{assignment.notebook}.ipynb"
    found: dict[str, Path] = {}
    for raw in sources:
        src = Path(raw)
        if not src.is_dir():
            raise LabError(f"{src} is not a folder")
        candidates = list(src.glob(f"*/{assignment.id}/{name}")) + list(src.glob(f"{assignment.id}/{name}"))
        if not candidates:
            print(f"  {src}: no {assignment.id} submission in it")
        for notebook in candidates:
            student = notebook.parent.parent.name
            if student in found and found[student].stat().st_mtime >= notebook.stat().st_mtime:
                print(f"  {student}: also in {notebook.parent}, an older copy: kept {found[student]}")
                continue
            if student in found:
                print(f"  {student}: also in {found[student].parent}, an older copy: kept {notebook}")
            found[student] = notebook
    copied = []
    for student, notebook in sorted(found.items()):
        target = dest / student / assignment.id / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(notebook, target)
        copied.append((student, target))
    return copied
