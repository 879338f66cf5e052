"""The notebooks as students meet them: the reference runs top to bottom offline in a copy of
the release folder (every public check passes, the slow cells included), and in the blank
release every question's public check fails rather than passing by accident."""
import os
import shutil

import nbformat
import pytest
from nbclient import NotebookClient

import course_config as cfg
from autograder import samples

ASSIGNMENTS = sorted(cfg.ASSIGNMENTS)


def execute(nb, folder, allow_errors=False):
    os.environ["HF_HUB_OFFLINE"] = "1"
    NotebookClient(nb, timeout=300, kernel_name="python3", allow_errors=allow_errors,
                   resources={"metadata": {"path": str(folder)}}).execute()
    return nb


def check_cells(nb):
    return {c.metadata["nbgrader"]["grade_id"]: c for c in nb.cells
            if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("grade")}


def errors(cell):
    return [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]


@pytest.fixture
def release_copy(tmp_path, request):
    folder = tmp_path / request.param
    shutil.copytree(cfg.ROOT / "release" / request.param, folder)
    return request.param, folder


# Their full runs fine-tune or measure a real pretrained model: minutes on a CPU (--runslow).
# Their own test files run the release offline up to its blanks by default.
LONG_NOTEBOOKS = {"hw3_attention": "65 s", "hw4_quantization": "136 s"}


@pytest.mark.parametrize("release_copy", [
    pytest.param(a, marks=pytest.mark.slow) if a in LONG_NOTEBOOKS else a for a in ASSIGNMENTS], indirect=True)
def test_reference_runs_top_to_bottom_offline(release_copy):
    """Everything, the full training runs and plots included, and every public check passes."""
    assignment_id, folder = release_copy
    execute(samples.reference_notebook(cfg.ASSIGNMENTS[assignment_id]), folder)  # raises CellExecutionError on the first failing cell


@pytest.mark.parametrize("release_copy", ASSIGNMENTS, indirect=True)
def test_every_public_check_fails_on_the_blank_release(release_copy):
    assignment_id, folder = release_copy
    a = cfg.ASSIGNMENTS[assignment_id]
    nb = execute(nbformat.read(folder / f"{a.notebook}.ipynb", 4), folder, allow_errors=True)
    checks = check_cells(nb)
    graded = {q.id for q in a.questions if q.checks}
    passing = sorted(qid for qid in graded if qid in checks and not errors(checks[qid]))
    assert passing == [], f"public checks that pass on the blank release: {passing}"
