"""The thresholds: MiniLM fine-tuned by the student's train_epoch within the budget of the device
profile reaches an accuracy on held-out reviews (their labels are read here, never in the student's
process), and the student's multi-head attention is not much slower than nn.MultiheadAttention.
Targets come from calibration/<device>.json or from course_config's defaults."""
from __future__ import annotations

import math
import statistics

import numpy as np
import pytest

import course_config as cfg
from assignments.timing import paired_ratio
from autograder.calibrate import thresholds
from autograder.probe import grading_device
from autograder.tests.hw3_attention import cases

UNTIMED_ALLOWANCE_S = 0.5
UNTIMED_ALLOWANCE_FRACTION = 0.1
# nn.MultiheadAttention timed next to the student's module against the same in a clean process
# (course_config's `clean_probes`): up to DRIFT_NOISE slower is noise; beyond it the excess
# multiplies the student's ratio; beyond DRIFT_SUSPICIOUS the check fails and is flagged.
DRIFT_NOISE = 1.5
DRIFT_SUSPICIOUS = 2.5


def clean_reference(student):
    try:
        return student("clean:reference_speed")
    except pytest.fail.Exception:
        return None


def bar(value: float, scale: float, width: int = 30) -> str:
    filled = 0 if not math.isfinite(value) else min(width, max(1, round(width * value / scale)))
    return "█" * filled + "·" * (width - filled)


def test_finetune_accuracy_within_budget(student, detail):
    device = grading_device()
    got = student("finetune")
    plan = cases.finetune_plan(device)
    limits = thresholds("hw3_attention", device)
    target = float(limits.values["accuracy"])
    labels = cases.finetune_test(plan, with_labels=True)[1]
    run = got["run"]
    assert got["train_reviews"] == plan["train_reviews"], "the fine-tune ran on other data than the grader chose"
    predictions = np.asarray(run["predictions"])
    assert predictions.shape == labels.shape, "the fine-tuned model's predictions have the wrong shape"
    accuracy = float(np.mean(predictions == labels))
    detail(f"held-out accuracy {accuracy:.3f} (target {target:.2f}) after {plan['epochs']} epoch(s) of your train_epoch "
           f"on {plan['train_reviews']} unseen reviews (max_length {plan['max_length']}, batch {plan['batch_size']}, "
           f"AdamW {plan['lr']:g}, word embeddings frozen), {sum(run['seconds']):.1f} s on {got['device']}")
    detail(f"accuracy  {bar(accuracy, 1.0)} {accuracy:.3f}")
    detail(f"target    {bar(target, 1.0)} {target:.2f}")
    detail(limits.note)
    losses = [float(v) for v in run["losses"]]
    assert all(math.isfinite(v) for v in losses), f"the training loss became {losses}: not a finite number"
    assert run["steps"] == run["batches"], (
        f"your train_epoch stepped the optimizer {run['steps']} times for {run['batches']} batches")
    assert accuracy >= target, (
        f"MiniLM fine-tuned with your train_epoch reaches {accuracy:.3f} on held-out reviews; the target is "
        f"{target:.2f}. Check the loop (TODO9-1): zero_grad, loss = model(**batch).loss, backward, step, per batch")


def test_attention_speed_ratio(student, detail):
    device = grading_device()
    got = student("speed")
    run = got["run"]
    limits = thresholds("hw3_attention", device)
    limit = float(limits.values["max_speed_ratio"])
    ref, stu, warm = (list(map(float, run[k])) for k in ("reference", "student", "warmup"))
    assert ref and stu and all(t > 0 for t in ref + stu), "the timing produced no usable measurement"
    ratio = paired_ratio(stu, ref)
    effective, drift = ratio, None
    clean = clean_reference(student)
    if clean is not None:
        clean_ref = [float(t) for t in clean["reference"]]
        assert clean_ref and all(t > 0 for t in clean_ref), "the grader's clean timing produced no usable measurement"
        drift = statistics.median(ref) / statistics.median(clean_ref)
        effective = ratio * max(1.0, drift / DRIFT_NOISE)
    b, length, d = got["shape"]
    calls = got["calls"]
    ms_ref, ms_stu = 1000 * statistics.median(ref) / calls, 1000 * statistics.median(stu) / calls
    scale = max(ms_stu, ms_ref * limit) * 1.05
    detail(f"one forward pass on a batch of {b} x {length} tokens, d_model {d}, {got['heads']} heads, key padding "
           f"mask, {got['timer']} on {got['device']}; {len(stu)} alternating rounds of {calls} calls after a warm-up "
           "(medians; the ratio is the median of the rounds' ratios):")
    detail(f"nn.MultiheadAttention {bar(ms_ref, scale)} {ms_ref:8.3f} ms")
    detail(f"your module           {bar(ms_stu, scale)} {ms_stu:8.3f} ms")
    detail(f"limit                 {bar(ms_ref * limit, scale)} {ms_ref * limit:8.3f} ms  (x{limit:g})")
    if drift is not None:
        detail(f"nn.MultiheadAttention next to your module took x{drift:.2f} its time in a clean process of the "
               f"grader (up to x{DRIFT_NOISE:g} is noise)")
    detail(f"ratio x{ratio:.2f}" + (f", x{effective:.2f} counting nn.MultiheadAttention's slowdown in your process"
                                    if effective != ratio else "") + f"; limit x{limit:g}")
    detail(limits.note)
    wall = student.wall_seconds("speed")
    reported = sum(ref) + sum(stu) + sum(warm)
    if math.isfinite(wall):
        assert wall - reported <= UNTIMED_ALLOWANCE_S + UNTIMED_ALLOWANCE_FRACTION * reported, (
            f"the timings your process reported ({reported:.2f} s in all) do not add up to the {wall:.2f} s the "
            "grader measured for this check: was time.perf_counter (or CUDA's timer) replaced? The check fails")
    if drift is not None and drift > DRIFT_SUSPICIOUS:
        from autograder.judge import suspicious

        suspicious(f"HW3 speed check: nn.MultiheadAttention ran x{drift:.2f} slower in the student's process than in a "
                   "clean one (something in the notebook slowed the grader's reference down)")
        raise AssertionError(
            "nn.MultiheadAttention ran far slower in your process than in a clean process that loaded none of your "
            "code: something in your notebook slowed it down. The check fails and your TA will look at it")
    if clean is None and "reference_speed" in getattr(cfg.ASSIGNMENTS["hw3_attention"], "clean_probes", ()):
        raise AssertionError("the grader could not time nn.MultiheadAttention in a clean process, so this check could "
                             "not be completed (a problem of the grader, not of your code: tell your TA)")
    assert effective <= limit, (
        f"your MultiHeadAttention took x{effective:.2f} the time of nn.MultiheadAttention (limit x{limit:g}). Usual causes: "
        "a Python loop over the heads or over the positions; attend to all heads at once on (B, heads, L, d_head) "
        "tensors (view + transpose), with one batched matmul")
