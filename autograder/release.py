"""Generate the student releases: nbgrader's `generate_assignment`, plus what it leaves out.

nbgrader strips solutions and hidden tests from notebooks only; helper files it copies
verbatim (jupyter/nbgrader: a leak). Here every text file of the release is passed through
nbgrader's own ClearSolutions/ClearHiddenTests on the way out, the course's `assignments`
package is copied in so the release folder is self-contained, and the result is scanned for
any line of a solution or hidden-test region before the command reports success.

The midterm adds one region of its own: in a debugging exercise the correct code sits in a
solution region next to the buggy code in a `### BEGIN BUG` / `### END BUG` region, and the
release shows the buggy code alone (`ClearSolutionsShowBugs`).
"""
from __future__ import annotations

import shutil
from pathlib import Path

import nbformat

import course_config as cfg
from autograder.nbgrader_setup import ensure_tools_on_path, nbgrader_config
from autograder.preprocessors import BUG, HIDDEN, MARKERS, SOLUTION, ClearSolutionsShowBugs  # noqa: F401 (used by tests)

TEXT_SUFFIXES = {".py", ".txt", ".md", ".json", ".csv", ".cfg", ".toml", ".yaml", ".yml", ".ipynb"}


class ReleaseError(Exception):
    pass


def _strip_text_file(path: Path) -> None:
    """Apply nbgrader's own solution and hidden-test clearing to a non-notebook file."""
    from nbgrader.preprocessors import ClearHiddenTests

    text = path.read_text()
    if not any(m in text for m in MARKERS):
        return
    cell = nbformat.v4.new_code_cell(text)
    clear = ClearSolutionsShowBugs(config=nbgrader_config())
    clear._replace_solution_region(cell, "python")
    ClearHiddenTests(config=nbgrader_config())._remove_hidden_test_region(cell)
    path.write_text(cell.source)


def _copy_runtime_package(dest: Path) -> None:
    target = dest / "assignments"
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(cfg.ROOT / "assignments", target,
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))


def generate(assignment_id: str, release_root: Path | None = None, db_path: Path | None = None) -> Path:
    """Write release/<assignment_id>/ (or under `release_root`); return its path."""
    from nbgrader.apps import NbGraderAPI

    ensure_tools_on_path()
    release_root = Path(release_root or cfg.ROOT / "release")
    db_path = Path(db_path or cfg.GRADEBOOK_DB)
    db_path.parent.mkdir(parents=True, exist_ok=True)
    api = NbGraderAPI(config=nbgrader_config(release_dir=release_root, db_path=db_path))
    outcome = api.generate_assignment(assignment_id, force=True, create=True)
    if not outcome["success"]:
        raise ReleaseError(f"nbgrader could not generate {assignment_id}:\n{outcome.get('log', '')}"
                           f"\n{outcome.get('error', '')}")
    dest = release_root / assignment_id
    for path in sorted(dest.rglob("*")):
        if path.is_file() and path.suffix in TEXT_SUFFIXES and path.suffix != ".ipynb":
            _strip_text_file(path)
    _copy_runtime_package(dest)
    assignment = cfg.ASSIGNMENTS[assignment_id]
    with api.gradebook as gb:
        gb.update_or_create_assignment(assignment_id, duedate=assignment.due_at)
    leaks = find_leaks(assignment_id, dest)
    if leaks:
        raise ReleaseError("solution text would leak into the release:\n" + "\n".join(leaks[:20]))
    return dest


# ------------------------------------------------------------------------------ leak scan

def _region_lines(text: str) -> tuple[set[str], set[str]]:
    """(lines inside solution/hidden regions, lines outside them), whitespace-normalised."""
    inside, outside, depth = set(), set(), 0
    for raw in text.split("\n"):
        line = " ".join(raw.split())
        if any(m in raw for m in (SOLUTION[0], HIDDEN[0])):
            depth += 1
        elif any(m in raw for m in (SOLUTION[1], HIDDEN[1])):
            depth = max(0, depth - 1)
        elif any(m in raw for m in BUG):
            continue  # a bug region is shown in the release: its lines count as outside
        elif line:
            (inside if depth else outside).add(line)
    return inside, outside


def _source_texts(source_dir: Path):
    for path in sorted(source_dir.rglob("*")):
        if not path.is_file() or "__pycache__" in path.parts:
            continue
        if path.suffix == ".ipynb":
            nb = nbformat.read(path, as_version=4)
            for cell in nb.cells:
                yield cell.source
        elif path.suffix in TEXT_SUFFIXES:
            yield path.read_text(errors="replace")


def secret_lines(assignment_id: str, source_root: Path | None = None) -> set[str]:
    """Lines of the source's solution and hidden-test regions that appear nowhere else in
    the sources of any assignment (a line that a release legitimately shows, such as
    `return out` outside a region, or `loss.backward()` in the midterm's programs, cannot
    prove a leak). Lines of fewer than 8 characters are too common to test."""
    root = Path(source_root or cfg.ROOT / "source")
    inside, outside = set(), set()
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        for text in _source_texts(folder):
            i, o = _region_lines(text)
            if folder.name == assignment_id:
                inside |= i
            outside |= o
    return {line for line in inside - outside if len(line) >= 8}


def find_leaks(assignment_id: str, release_dir: Path, source_root: Path | None = None) -> list[str]:
    """Every place under `release_dir` (any file type) showing a secret line or a marker."""
    secrets = secret_lines(assignment_id, source_root)
    leaks = []
    for path in sorted(Path(release_dir).rglob("*")):
        if not path.is_file():
            continue
        raw = path.read_bytes().decode("utf-8", errors="ignore")
        texts = [raw]
        if path.suffix == ".ipynb":  # compare cell text, not JSON-escaped text
            try:
                texts = [c.source for c in nbformat.reads(raw, as_version=4).cells] + [raw]
            except Exception:  # noqa: BLE001 - an unreadable release file is scanned as text
                pass
        for text in texts:
            for marker in MARKERS:
                if marker in text:
                    leaks.append(f"{path}: marker {marker!r}")
            lines = {" ".join(line.split()) for line in text.split("\n")}
            for secret in sorted(secrets & lines):
                leaks.append(f"{path}: {secret[:80]}")
    return sorted(set(leaks))
