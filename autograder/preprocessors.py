"""Our nbgrader preprocessors: each a small class doing one transformation, as nbgrader's own.

`ClearSolutionsShowBugs` is the midterm's: in a debugging exercise the correct code sits in a
solution region next to the buggy code in a `### BEGIN BUG` / `### END BUG` region, and the
release shows the buggy code alone. Both `release` and nbgrader's own configuration
(`nbgrader_setup`) use it; it imports neither.
"""
from __future__ import annotations

from nbgrader.preprocessors import ClearSolutions

SOLUTION = ("BEGIN SOLUTION", "END SOLUTION")
HIDDEN = ("BEGIN HIDDEN TESTS", "END HIDDEN TESTS")
BUG = ("BEGIN BUG", "END BUG")  # shown in the release in place of the solution (the midterm)
MARKERS = (*SOLUTION, *HIDDEN, *BUG)


class ClearSolutionsShowBugs(ClearSolutions):
    """nbgrader's ClearSolutions, plus bug regions. In a cell holding a `### BEGIN BUG` ...
    `### END BUG` region, every solution region is dropped and every bug region unwrapped, so
    the release shows the buggy program with no marker, stub or hint left (and nbgrader, told
    that a region was replaced, keeps the rest of the cell). Any other cell is cleared exactly
    as ClearSolutions clears it."""

    def _replace_solution_region(self, cell, language: str) -> bool:
        if BUG[0] not in cell.source:
            return super()._replace_solution_region(cell, language)
        kept, region = [], None
        for line in cell.source.split("\n"):
            if SOLUTION[0] in line or BUG[0] in line:
                if region is not None:
                    raise RuntimeError(f"a region starts inside another one in this cell:\n{cell.source}")
                region = SOLUTION if SOLUTION[0] in line else BUG
            elif SOLUTION[1] in line or BUG[1] in line:
                if region is None or region[1] not in line:
                    raise RuntimeError(f"{line.strip()!r} does not close the open region in this cell:\n{cell.source}")
                region = None
            elif region is not SOLUTION:
                kept.append(line)
        if region is not None:
            raise RuntimeError(f"no {region[1]!r} in this cell:\n{cell.source}")
        cell.source = "\n".join(kept)
        return True
