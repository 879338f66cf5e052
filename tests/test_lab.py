"""The midterm's lab tool: `check N` runs only what exercise N needs; the exam clock cannot be
reset or lengthened and a late submission is recorded as late; `collect` accepts a submission
only for the student whose `start` made it (issue 8, item 6; issue 9)."""
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

import course_config as cfg
from autograder import lab

MIDTERM = cfg.ASSIGNMENTS["midterm"]
NOTEBOOK = f"{MIDTERM.notebook}.ipynb"


def tool(folder: Path, *args, timeout=120):
    done = subprocess.run([sys.executable, "-m", "assignments.lab", *args], cwd=folder, capture_output=True,
                          text=True, timeout=timeout, env={**os.environ, "PYTHONPATH": ""})
    return done.returncode, done.stdout + done.stderr


def machine(root: Path, name: str) -> Path:
    """A lab machine: a copy of the release folder (what `lab midterm prepare` puts there)."""
    folder = root / name / MIDTERM.id
    shutil.copytree(cfg.ROOT / "release" / MIDTERM.id, folder,
                    ignore=shutil.ignore_patterns("__pycache__", lab.STATE_FILE))
    return folder


@pytest.fixture
def exam(tmp_path) -> Path:
    return machine(tmp_path, "lab01")


def state(folder: Path) -> dict:
    return json.loads((folder / ".lab_state.json").read_text())


# ------------------------------------------------------------------------------ check N

def test_check_n_runs_only_the_cells_that_exercise_needs(exam):
    from assignments import lab as tool_module  # the same file the release ships

    program, checks = tool_module.read_cells(exam / NOTEBOOK)
    tokenizer_cell = next(n for n, source in program if "load_review_tokenizer()" in source)
    setup_cell = next(n for n, source in program if "def make_mlp" in source)
    for name in ("ex1", "ex2", "ex5", "ex7", "ex8"):
        cells = [n for n, _ in tool_module.needed(program, [checks[name]])]
        assert setup_cell in cells and tokenizer_cell not in cells, (name, cells)
        assert len(cells) == 2, (name, cells)  # the setup and the exercise itself
    for name in ("ex9", "ex10"):
        assert tokenizer_cell in [n for n, _ in tool_module.needed(program, [checks[name]])]
    [answers] = tool_module.needed(program, [checks["concepts_basics"]])
    assert "answers = {" in answers[1]

    # a helper of the student's own, in a cell of its own, is needed too; a slow experiment is not
    nb = nbformat.read(exam / NOTEBOOK, 4)
    index = next(i for i, c in enumerate(nb.cells) if c.metadata.get("nbgrader", {}).get("grade_id") == "ex7_impl")
    nb.cells[index].source = nb.cells[index].source.replace("x = F.dropout(x, p=self.p)", "x = my_dropout(x, self.p)")
    nb.cells.insert(index, nbformat.v4.new_code_cell("def my_dropout(x, p):\n    return F.dropout(x, p=p)"))
    nb.cells.insert(index, nbformat.v4.new_code_cell("import time\ntime.sleep(60)  # my own experiment"))
    nbformat.write(nb, exam / NOTEBOOK)
    program, checks = tool_module.read_cells(exam / NOTEBOOK)
    sources = [source for _, source in tool_module.needed(program, [checks["ex7"]])]
    assert any("def my_dropout" in s for s in sources) and not any("time.sleep(60)" in s for s in sources)


def test_check_n_reports_what_it_ran(exam):
    started = time.monotonic()
    code, out = tool(exam, "check", "7")
    assert code == 1 and "ran the 2 of 13 code cells that this check needs" in out, out
    assert "ex7                FAIL  in evaluation mode" in out, out
    # no timing assert (shared machine); measured in the report: ~3 s here against ~6.6 s before
    assert time.monotonic() - started < 60


# ------------------------------------------------------------------------------ the clock

def test_a_started_clock_is_never_reset_or_lengthened(exam):
    code, out = tool(exam, "start", "--student", "B1234567")
    assert code == 0 and "time left: 2:49" in out, out
    first = state(exam)
    assert len(first["token"]) == 32
    for args in (["--force", "--minutes", "500"], ["--minutes", "500"], []):
        code, out = tool(exam, "start", "--student", "B1234567", *args)
        assert code == 0 and "already started" in out, out
        assert state(exam) == first
    code, out = tool(exam, "start", "--student", "B7654321", "--force", "--minutes", "500")
    assert code == 1 and "never restarted" in out, out
    assert state(exam) == first


def test_submit_needs_a_started_folder_and_submits_only_for_its_student(exam):
    code, out = tool(exam, "submit", "--student", "B1234567")
    assert code == 1 and "not been started" in out, out
    tool(exam, "start", "--student", "B1234567")
    code, out = tool(exam, "submit", "--student", "B7654321")
    assert code == 1 and "only submit for B1234567" in out, out
    assert not (exam.parent / "submission" / "B7654321").exists()


def test_a_late_submission_is_recorded_late_and_the_proctor_sees_it(exam, tmp_path, capsys):
    tool(exam, "start", "--student", "B1234567")
    clock = state(exam)
    clock["started"] -= 60 * (170 + 7)  # the time is up, by 7 minutes
    (exam / ".lab_state.json").write_text(json.dumps(clock))
    code, out = tool(exam, "submit")
    assert code == 0 and "LATE" in out and "7 min" in out, out
    record = json.loads((exam.parent / "submission" / "B1234567" / MIDTERM.id / lab.RECORD).read_text())
    assert record["late"] is True and 7 * 60 <= record["late_by_s"] < 8 * 60
    collected = lab.collect(MIDTERM, [exam.parent / "submission"], tmp_path / "submitted")
    assert [s for s, _ in collected] == ["B1234567"]
    assert [(s, int(late // 60)) for s, _, late in collected.late] == [("B1234567", 7)]
    assert "LATE B1234567" in capsys.readouterr().out


# ------------------------------------------------------------------------------ collect

def submit_as(folder: Path, student: str, text: str):
    path = folder / NOTEBOOK
    nb = nbformat.read(path, 4)
    nb.cells.append(nbformat.v4.new_markdown_cell(text))
    nbformat.write(nb, path)
    assert tool(folder, "start", "--student", student)[0] == 0
    code, out = tool(folder, "submit")
    assert code == 0, out
    return folder.parent / "submission" / student / MIDTERM.id


def test_collect_accepts_a_submission_only_for_the_student_whose_start_made_it(tmp_path):
    alice = submit_as(machine(tmp_path, "lab01"), "A1111111", "alice's own work")
    bob = submit_as(machine(tmp_path, "lab02"), "B2222222", "bob's own work")

    # On lab01, alice makes a folder named after bob, newer than bob's: her notebook, her record
    fake = alice.parent.parent / "B2222222" / MIDTERM.id
    fake.mkdir(parents=True)
    time.sleep(0.05)
    shutil.copy(alice / NOTEBOOK, fake / NOTEBOOK)
    shutil.copy(alice / lab.RECORD, fake / lab.RECORD)
    # ... and, on lab01 too, one without any record
    bare = alice.parent.parent / "C3333333" / MIDTERM.id
    bare.mkdir(parents=True)
    shutil.copy(alice / NOTEBOOK, bare / NOTEBOOK)
    # ... and bob's own folder, edited after he submitted
    edited = tmp_path / "edited" / "B2222222" / MIDTERM.id
    shutil.copytree(bob, edited)
    (edited / NOTEBOOK).write_text((edited / NOTEBOOK).read_text().replace("bob's own work", "changed later"))
    for path in (fake, bare, edited):
        os.utime(path / NOTEBOOK, (time.time() + 3600, time.time() + 3600))

    dest = tmp_path / "submitted"
    collected = lab.collect(MIDTERM, [alice.parent.parent, bob.parent.parent, tmp_path / "edited"], dest)
    assert sorted(s for s, _ in collected) == ["A1111111", "B2222222"]
    assert "bob's own work" in (dest / "B2222222" / MIDTERM.id / NOTEBOOK).read_text()
    assert "alice's own work" in (dest / "A1111111" / MIDTERM.id / NOTEBOOK).read_text()
    refused = {Path(p).parent.parent.parent.name + "/" + Path(p).parent.parent.name: why for p, why in collected.refused}
    assert "started for 'A1111111'" in refused["submission/B2222222"]
    assert "no valid lab.json" in refused["submission/C3333333"]
    assert "SHA-256" in refused["edited/B2222222"]
    assert not collected.conflicts and not collected.late


@pytest.mark.parametrize("how", ["a second start as bob", "a record edited to name bob"])
def test_two_starts_for_one_student_are_a_conflict_not_a_silent_choice(tmp_path, how):
    real = submit_as(machine(tmp_path, "lab02"), "B2222222", "bob's own work")
    if how == "a second start as bob":  # alice copies the exam folder and starts it as bob
        impostor = submit_as(machine(tmp_path, "lab01"), "B2222222", "alice pretending")
    else:  # alice submits her own exam, then renames the folder and edits the record
        alice = submit_as(machine(tmp_path, "lab01"), "A1111111", "alice pretending")
        impostor = alice.parent.parent / "B2222222" / MIDTERM.id
        shutil.copytree(alice, impostor)
        shutil.rmtree(alice.parent)
        record = json.loads((impostor / lab.RECORD).read_text())
        record["student"] = "B2222222"
        (impostor / lab.RECORD).write_text(json.dumps(record))
    collected = lab.collect(MIDTERM, [real.parent.parent, impostor.parent.parent], tmp_path / "submitted")
    assert list(collected) == [] and [s for s, _ in collected.conflicts] == ["B2222222"]
    assert not (tmp_path / "submitted" / "B2222222").exists()
    # the proctor, knowing bob sat at lab02, collects that machine alone
    collected = lab.collect(MIDTERM, [real.parent.parent], tmp_path / "submitted")
    assert "bob's own work" in (tmp_path / "submitted" / "B2222222" / MIDTERM.id / NOTEBOOK).read_text()
