"""release/ is exactly what the sources generate, and shows no solution or hidden test."""
import filecmp
from pathlib import Path

import nbformat
import pytest

import course_config as cfg
from autograder import release

ASSIGNMENTS = sorted(cfg.ASSIGNMENTS)


@pytest.fixture(scope="module")
def fresh(tmp_path_factory):
    """A fresh generation of every assignment, into a scratch folder and a scratch gradebook."""
    root = tmp_path_factory.mktemp("release")
    for assignment_id in ASSIGNMENTS:
        release.generate(assignment_id, release_root=root, db_path=root / "gradebook.db")
    return root


def _files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*")
                  if p.is_file() and "__pycache__" not in p.parts)


@pytest.mark.parametrize("assignment_id", ASSIGNMENTS)
def test_release_equals_a_fresh_generation(fresh, assignment_id):
    committed, generated = cfg.ROOT / "release" / assignment_id, fresh / assignment_id
    assert _files(committed) == _files(generated), "run `python -m autograder release` and commit release/"
    differ = [f for f in _files(committed) if not filecmp.cmp(committed / f, generated / f, shallow=False)]
    assert not differ, f"stale release files {differ}: run `python -m autograder release` and commit"


@pytest.mark.parametrize("assignment_id", ASSIGNMENTS)
def test_no_solution_or_hidden_test_line_anywhere_under_release(assignment_id):
    secrets = release.secret_lines(assignment_id)
    assert len(secrets) >= 10, "the leak test must have solution lines to look for"
    assert release.find_leaks(assignment_id, cfg.ROOT / "release") == []


def test_leak_scan_catches_a_leak_in_any_file_type(tmp_path):
    """The scanner itself must be able to fail: plant one solution line in a data file."""
    assignment_id = ASSIGNMENTS[0]
    secret = sorted(release.secret_lines(assignment_id))[len(release.secret_lines(assignment_id)) // 2]
    planted = tmp_path / assignment_id
    planted.mkdir()
    (planted / "notes.csv").write_text(f"a,b\n    {secret}\n")
    assert release.find_leaks(assignment_id, planted) == [f"{planted / 'notes.csv'}: {secret[:80]}"]


def test_helper_files_are_stripped_like_notebooks(tmp_path):
    helper = tmp_path / "helper.py"
    helper.write_text("def f(x):\n    ### BEGIN SOLUTION\n    return secret_formula(x)\n    ### END SOLUTION\n\n"
                      "def test_f():\n    assert f(1)\n    ### BEGIN HIDDEN TESTS\n    assert f(2) == 99\n"
                      "    ### END HIDDEN TESTS\n")
    release._strip_text_file(helper)
    text = helper.read_text()
    assert "secret_formula" not in text and "99" not in text and "BEGIN" not in text
    assert "    # YOUR CODE HERE\n    raise NotImplementedError()" in text and "assert f(1)" in text


@pytest.mark.parametrize("assignment_id", ASSIGNMENTS)
def test_release_notebook_has_numbered_todos_and_stubs(assignment_id):
    a = cfg.ASSIGNMENTS[assignment_id]
    nb = nbformat.read(cfg.ROOT / "release" / assignment_id / f"{a.notebook}.ipynb", 4)
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    source = (cfg.ROOT / "source" / assignment_id / f"{a.notebook}.ipynb").read_text()
    if release.BUG[0] not in source:  # a debugging exam shows buggy programs, not blanks
        assert "# TODO1" in code and "raise NotImplementedError()" in code
    grade_ids = {c.metadata.get("nbgrader", {}).get("grade_id") for c in nb.cells}
    assert {q.id for q in a.questions} <= grade_ids, "every question needs its grade cell"
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), "outputs must be cleared"
