"""The midterm tells students the truth and hands over no fix during the exam (issue 9): the
notebook states the grading limits and the `skip-grading` tag; what students see while the
exam runs (the visible checks, the lab tool, the support module) names symptoms, never a fix;
a numeric concept answer is judged by value in whatever form the visible check accepts. The
feedback policy on the graded samples is tested in tests/test_midterm.py."""
import re

import nbformat
import numpy as np
import torch
import torch.nn.functional as F

import course_config as cfg
from autograder.tests.midterm import probes

MIDTERM = cfg.ASSIGNMENTS["midterm"]
RELEASED = cfg.ROOT / "release" / MIDTERM.id / f"{MIDTERM.notebook}.ipynb"
SOURCE = cfg.ROOT / "source" / MIDTERM.id / f"{MIDTERM.notebook}.ipynb"

# What each exercise's fix writes (from the source's solution regions and the samples' other
# correct fixes): none of it may appear in what students see during the exam.
FIX_IDIOMS = {
    "ex1": ["% accum_steps == 0:\n                optimizer.step()\n                optimizer.zero_grad()"],
    "ex2": ["step_size * len(loader)", "MultiStepLR"],
    "ex3": ["loss_fn(logits, yb)", "log_softmax", "nll_loss"],
    "ex4": ["softmax(logits, dim=1)", "dim=-1"],
    "ex5": ["train(False)"],
    "ex6": ["shuffle=False", "SequentialSampler"],
    "ex7": ["training=self.training", "nn.Dropout("],
    "ex8": ["deepcopy", ".clone()", "load_state_dict(best"],
    "ex9": ["GRU(embed_dim, hidden, batch_first=True)", "pack_padded_sequence"],
    "ex10": ["lengths - 1", "gather("],
}


def test_the_notebook_states_the_grading_limits():
    first = nbformat.read(RELEASED, 4).cells[0].source
    assert f"**{int(cfg.LIMITS.load_timeout_s)} seconds**" in first and "`skip-grading`" in first
    assert "`check 3` runs only the cells exercise 3 needs" in first


def _exam_material() -> dict[str, str]:
    """What a student sees from the checks during the exam: each visible check cell, and the
    code of the lab tool and the support module (whose messages `check` prints)."""
    nb = nbformat.read(RELEASED, 4)
    shown = {c.metadata["nbgrader"]["grade_id"]: c.source for c in nb.cells
             if c.metadata.get("nbgrader", {}).get("grade") and not c.metadata["nbgrader"].get("solution")}
    for path in sorted((RELEASED.parent / "assignments").glob("*.py")):
        shown[f"assignments/{path.name}"] = path.read_text()
    return shown


def test_what_students_see_during_the_exam_names_symptoms_not_fixes():
    shown = _exam_material()
    assert {f"ex{n}" for n in range(1, 11)} <= set(shown)
    for exercise, idioms in FIX_IDIOMS.items():
        for where, text in shown.items():
            for idiom in idioms:
                assert idiom not in text, f"{where} shows a fix of {exercise}: {idiom!r}"
    # and no line of any fix: the solution regions of the source, minus what the bug shows too
    solution, bug = set(), set()
    for cell in nbformat.read(SOURCE, 4).cells:
        region = None
        for line in cell.source.split("\n"):
            if "### BEGIN " in line:
                region = solution if "SOLUTION" in line else bug
            elif "### END " in line:
                region = None
            elif region is not None and len(line.strip()) > 12:
                region.add(" ".join(line.split()))
    fixes = solution - bug
    for where, text in shown.items():
        lines = {" ".join(line.split()) for line in text.split("\n")}
        assert not fixes & lines, f"{where} shows a line of a fix: {fixes & lines}"


def test_the_fix_idioms_are_real_fixes():
    """The list above is not a list of strings that appear nowhere: each idiom is in the source's
    solutions or in a shipped correct sample."""
    from autograder import samples

    spec = {s.student: s for s in samples.spec(MIDTERM.id)}
    texts = [SOURCE.read_text()] + [samples.path_of(spec[name], MIDTERM).read_text()
                                    for name in ("fixes_a", "fixes_b", "fixes_c")]
    notebooks = [nbformat.reads(t, 4) for t in texts]
    code = "\n".join(c.source for nb in notebooks for c in nb.cells)
    for exercise, idioms in FIX_IDIOMS.items():
        for idiom in idioms:
            assert idiom in code, (exercise, idiom)


def test_a_numeric_answer_is_judged_by_value_in_any_form_the_visible_check_accepts():
    from assignments.midterm import answer_problems

    c3 = F.cross_entropy(torch.tensor([[2.0, 0.0, 0.0]]), torch.tensor([0]))
    for given in (c3, np.float64(0.2395), np.float32(0.2395), torch.tensor([0.2395]), "0.2395", 0.2395):
        assert answer_problems({"c3": given}, ["c3"]) == []  # the visible check accepts it ...
        assert abs(float(probes._plain(given)) - 0.2395) < 1e-3  # ... and the hidden one reads its value
    assert probes._plain(torch.tensor(640)) == 640.0
    assert probes._plain(None) is None and probes._plain("B") == "B"
    assert isinstance(probes._plain([1, 2]), str) and answer_problems({"c3": [1, 2]}, ["c3"])
    assert re.search(r"c3: answer with a number", answer_problems({"c3": [1, 2]}, ["c3"])[0])
