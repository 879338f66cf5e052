"""Reading a submitted notebook: validation, the code the grader runs, and where it came from.

The grader runs a submission's code cells in order, as "Run All" would, except the cells the
source marks as not for grading: nbgrader test cells (public checks; the hidden suite scores
instead) and cells tagged `skip-grading` (full training runs, plots). Each cell is compiled on
its own as "<cell N>", so a syntax error costs that cell, not the notebook, and error messages
can point a student at the cell and line.
"""
from __future__ import annotations

import json
import os
import re
import stat
import sys
from dataclasses import dataclass
from pathlib import Path

# jsonschema (under nbformat, wherever it is imported from) imports rfc3987_syntax, which builds
# a grammar at import (about 1.5 s of CPU), only to check the "iri" string format, which no
# notebook schema uses.
sys.modules.setdefault("rfc3987_syntax", None)


def _nbformat():
    """nbformat, imported when a notebook is first read (0.1 s; `grade --server` never reads one)."""
    import nbformat
    return nbformat


SKIP_TAG = "skip-grading"

# IPython syntax has no meaning outside a kernel: shell escapes and magics become no-ops.
_IPYTHON_LINE = re.compile(r"^(\s*)([!%].*)$")


class NotebookError(Exception):
    """The file is not a notebook the grader can read (the message says why, in one line)."""


@dataclass(frozen=True)
class Cell:
    index: int  # position in the notebook, 0-based
    cell_type: str
    source: str
    grade_id: str | None  # nbgrader's id for this cell, if it has one
    question: str | None  # the question this cell belongs to (see `read_notebook`)
    run: bool  # whether the grader executes it

    @property
    def label(self) -> str:
        return f"cell {self.index + 1}"

    @property
    def shown(self) -> str:
        """How feedback names the cell: its place in the notebook (counting every cell, as
        Jupyter lists them) and its first line, which a student finds with Ctrl-F."""
        first = next((line.strip() for line in self.source.splitlines() if line.strip()), "")
        return f'{self.label} ("{first[:50]}{"..." if len(first) > 50 else ""}")' if first else self.label


def _nbgrader(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {}) or {}


def _is_test_cell(meta: dict) -> bool:
    return bool(meta.get("grade")) and not meta.get("solution")


def python_source(source: str) -> str:
    """Cell text with IPython-only lines (`%magic`, `!shell`) turned into `pass`."""
    return "\n".join(_IPYTHON_LINE.sub(r"\1pass  # \2", line) for line in source.split("\n"))


MAX_NOTEBOOK_BYTES = 200 * 2**20


def read_submitted_file(path: Path) -> bytes:
    """The bytes of a file a student handed in, never what a link points to: the file itself
    and the two folders above it (`<student>/<assignment>/`) must not be symbolic links, and
    it must be a plain file with no other name (no hard link to someone else's file)."""
    for part in (path, path.parent, path.parent.parent):
        if part.is_symlink():
            raise NotebookError("the submission is a link to another file, not a notebook: "
                                "submit the .ipynb file itself")
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0))
    except OSError as exc:
        raise NotebookError(f"could not read the file: {exc.strerror}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise NotebookError("the submission is not a plain file")
        if info.st_nlink > 1:
            raise NotebookError("the submission is a hard link to another file, not a copy of its own")
        if info.st_size > MAX_NOTEBOOK_BYTES:
            raise NotebookError(f"the file is larger than {MAX_NOTEBOOK_BYTES // 2**20} MB")
        with os.fdopen(fd, "rb", closefd=False) as f:
            return f.read(MAX_NOTEBOOK_BYTES + 1)
    finally:
        os.close(fd)


def read_notebook(path: Path, question_ids: set[str] | None = None) -> list[Cell]:
    """Parse and validate `path`; return its cells.

    A cell belongs to a question if its nbgrader grade_id is that question's id, or else to
    the question of the next grade cell after it (a blank is followed by its check cell).
    """
    raw = read_submitted_file(Path(path))
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise NotebookError("the file is not text (UTF-8): was a different file uploaded?") from None
    try:
        json.loads(text)
    except ValueError as exc:
        raise NotebookError(f"the file is not a Jupyter notebook (not valid JSON: {exc})") from None
    nbformat = _nbformat()
    try:
        nb = nbformat.reads(text, as_version=4)
        nbformat.validate(nb)
    except nbformat.ValidationError as exc:
        raise NotebookError(f"the notebook's structure is damaged ({exc.message[:200]})") from None
    except Exception as exc:  # nbformat raises several kinds for malformed structure
        raise NotebookError(f"the notebook's structure is damaged ({type(exc).__name__}: {str(exc)[:200]})") from None

    cells = []
    pending = []  # cells waiting for the next grade cell to learn their question
    for index, cell in enumerate(nb.cells):
        meta = _nbgrader(cell)
        grade_id = meta.get("grade_id")
        tags = cell.get("metadata", {}).get("tags", [])
        run = (cell.cell_type == "code" and not _is_test_cell(meta) and SKIP_TAG not in tags)
        entry = dict(index=index, cell_type=cell.cell_type, source=cell.source,
                     grade_id=grade_id, run=run)
        pending.append(entry)
        is_question_cell = meta.get("grade") and (question_ids is None or grade_id in question_ids)
        if is_question_cell:
            cells += [Cell(question=grade_id, **e) for e in pending]
            pending = []
    cells += [Cell(question=None, **e) for e in pending]
    return cells
