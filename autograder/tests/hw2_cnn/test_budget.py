"""The thresholds: accuracy within a fixed training budget, and the speed of the training loop
as a ratio to the reference loop. Targets come from calibration/<device>.json (written by
`python -m autograder calibrate` on the grading machine) or from course_config's defaults.

What the student's process reports is verified here as far as it can be:
- accuracy: the process returns the weights its training produced; this judge puts them into
  its own SimpleCNN (matched by shape) and evaluates them on held-out images whose images and
  labels the process never held. The loss it reports must be possible for those weights.
- speed: the probe's timings must add up to the grader's wall clock for the probe, and the
  reference loop timed next to the student's loop must run about as fast as the same reference
  timed in a clean process that loaded no student code (course_config's `clean_probes`): a
  reference slowed down from inside the student's process counts against the student and, far
  beyond the noise, fails the check and is flagged for the instructor."""
from __future__ import annotations

import math
import statistics

import numpy as np
import pytest

import course_config as cfg
from assignments.timing import paired_ratio
from autograder.calibrate import thresholds
from autograder.probe import grading_device
from autograder.tests.hw2_cnn import cases, reference

# Time the speed probe spends outside the timed epochs (building the models and the loader).
# More unexplained time than this means the timings the process reported are not true.
UNTIMED_ALLOWANCE_S = 0.5
UNTIMED_ALLOWANCE_FRACTION = 0.1
# The reference epoch next to the student's loop against the same epoch in a clean process:
# up to DRIFT_NOISE slower is noise (another process, another moment, a busy machine) and free;
# beyond it, the excess multiplies the student's ratio; beyond DRIFT_SUSPICIOUS the check fails
# and the submission is flagged. Measured: see benchmarks/hw2_speed.py --drift.
DRIFT_NOISE = 1.5
DRIFT_SUSPICIOUS = 2.5
# A mean training loss the returned weights make impossible: far below their eval-mode loss on
# the held-out images (an honest epoch's loss, with dropout on and earlier, worse weights in the
# mean, is not a tenth of what its final weights reach on images like those it trained on).
LOSS_FLOOR_FRACTION = 0.1
CLEAN_REFERENCE = "reference_speed"


def flag(reason: str) -> None:
    """A "suspicious" mark for the instructor, with the reason (autograder.judge.suspicious)."""
    from autograder import judge

    mark = getattr(judge, "suspicious", None)
    if mark is not None:
        mark(reason)


def bar(value: float, scale: float, width: int = 30) -> str:
    filled = 0 if not math.isfinite(value) else min(width, max(1, round(width * value / scale)))
    return "█" * filled + "·" * (width - filled)


def test_accuracy_within_budget(student, detail):
    device = grading_device()
    got = student("accuracy")
    plan = cases.budget(device)
    assert got["dataset"] == plan["dataset"], "the accuracy check ran on other data than the grader chose"
    limits = thresholds("hw2_cnn", device)
    key = "accuracy_digits" if plan["dataset"] == "digits" and "accuracy_digits" in limits.values else "accuracy"
    target = float(limits.values[key])
    run = got["run"]
    data = ("real MNIST digits (3x32x32)" if plan["dataset"] == "digits" else "CIFAR-10")
    losses = [float(v) for v in run["losses"]]
    assert len(losses) == plan["epochs"] and all(math.isfinite(v) for v in losses), (
        "the training loss became nan or inf: not a finite number (is the loss computed on the model's "
        "outputs and the labels of the same batch?)")
    weights = [np.asarray(w, dtype=np.float32) for w in run["weights"]]
    problem = reference.shape_problem([w.shape for w in weights])
    assert problem is None, "the SimpleCNN your loop trained cannot be evaluated: " + str(problem)
    assert all(np.all(np.isfinite(w)) for w in weights), (
        "after training, your SimpleCNN's weights contain nan or inf: the training diverged")
    images, labels = cases.budget_test(plan)
    accuracy, held_out_loss = reference.evaluate_weights(weights, cases.normalized(images), labels)
    detail(f"test accuracy {accuracy:.3f} (target {target:.2f}) after {plan['epochs']} epoch(s) on "
           f"{plan['train_images']:,} {data}, batch {plan['batch_size']}, Adam 1e-3, on {got['device']}; "
           "the grader evaluated the trained weights itself on held-out images")
    detail(f"accuracy  {bar(accuracy, 1.0)} {accuracy:.3f}")
    detail(f"target    {bar(target, 1.0)} {target:.2f}")
    detail(limits.note)
    if not losses[-1] > LOSS_FLOOR_FRACTION * held_out_loss:
        flag("HW2 accuracy check: the training loss train_one_epoch reported for its last epoch is far below the "
             "loss of the weights that epoch produced (a made-up loss)")
        raise AssertionError(
            "the mean training loss your train_one_epoch returned is far lower than any loss the weights it "
            "produced can have: the returned loss must be the mean loss of the batches it trained on "
            "(loss.item() of each batch). The check fails and your TA will look at it")
    assert accuracy >= target, (
        f"your SimpleCNN trained with your train_one_epoch reaches {accuracy:.3f} test accuracy on held-out "
        f"{data} after the fixed budget; the target is {target:.2f}. Check the model (TODO4) and the loop "
        "(TODO5-1): zero_grad, backward and step once per batch, on the batch's own labels")


def clean_reference(student):
    """The reference loop's timings from the clean process, or None where the grader did not run it."""
    try:
        return student("clean:" + CLEAN_REFERENCE)
    except pytest.fail.Exception:
        return None


def test_training_speed_ratio(student, detail):
    device = grading_device()
    got = student("speed")
    run = got["run"]
    limits = thresholds("hw2_cnn", device)
    limit = float(limits.values["max_speed_ratio"])
    ref, stu, warm = (list(map(float, run[k])) for k in ("reference", "student", "warmup"))
    assert ref and stu and all(t > 0 for t in ref + stu), "the timing produced no usable measurement"
    ratio = paired_ratio(stu, ref)
    batches = got["batches"]
    steps = float(run["steps"])
    # An epoch that does not step the optimizer it was given (a new optimizer per batch) did
    # no training through it: its effective time grows by the fraction of batches it skipped.
    effective = ratio / min(1.0, steps / batches) if steps > 0 else math.inf
    # The reference timed in a clean process: a reference slowed down in the student's process
    # beyond the noise counts against the student.
    clean = clean_reference(student)
    drift = None
    if clean is not None:
        clean_ref = [float(t) for t in clean["reference"]]
        assert clean_ref and all(t > 0 for t in clean_ref), "the grader's clean timing produced no usable measurement"
        drift = statistics.median(ref) / statistics.median(clean_ref)
        effective *= max(1.0, drift / DRIFT_NOISE)
    images, ms_ref, ms_stu = got["images"], 1000 * statistics.median(ref), 1000 * statistics.median(stu)
    scale = max(ms_stu, ms_ref * limit) * 1.05
    detail(f"one epoch of {images} images in batches of {images // batches}, {got['timer']} on {got['device']}, "
           f"{len(stu)} alternating rounds after a warm-up (medians; the ratio is the median of the rounds' ratios):")
    detail(f"reference  {bar(ms_ref, scale)} {ms_ref:8.1f} ms  ({images / statistics.median(ref):,.0f} images/s)")
    detail(f"your loop  {bar(ms_stu, scale)} {ms_stu:8.1f} ms  ({images / statistics.median(stu):,.0f} images/s)")
    detail(f"limit      {bar(ms_ref * limit, scale)} {ms_ref * limit:8.1f} ms  (x{limit:g} the reference)")
    if drift is not None:
        detail(f"the reference loop next to yours took x{drift:.2f} its time in a clean process of the grader "
               f"(up to x{DRIFT_NOISE:g} is noise)")
    why = []
    if steps < batches:
        why.append(f"counting only the batches that stepped the optimizer ({steps:g} steps for {batches} batches)")
    if drift is not None and drift > DRIFT_NOISE:
        why.append("counting the reference's slowdown in your process beyond the noise")
    detail(f"ratio x{ratio:.2f}" + (f", x{effective:.2f} " + " and ".join(why) if why else "") + f"; limit x{limit:g}")
    detail(limits.note)
    # The probe ran in the student's process: re-check its clock against the grader's.
    wall = student.wall_seconds("speed")
    reported = sum(ref) + sum(stu) + sum(warm)
    unexplained = wall - reported
    if math.isfinite(wall):
        assert unexplained <= UNTIMED_ALLOWANCE_S + UNTIMED_ALLOWANCE_FRACTION * reported, (
            f"the timings your process reported ({reported:.2f} s in all) do not add up to the {wall:.2f} s the "
            "grader measured for this check: was time.perf_counter (or CUDA's timer) replaced? The check fails")
    if drift is not None and drift > DRIFT_SUSPICIOUS:
        flag(f"HW2 speed check: the reference training loop ran x{drift:.2f} slower in the student's process than "
             "in a clean one (something in the notebook slowed the grader's reference down)")
        raise AssertionError(
            "the grader's reference loop ran far slower in your process than in a clean process that loaded none "
            "of your code: something in your notebook slowed it down. The check fails and your TA will look at it")
    if clean is None and CLEAN_REFERENCE in getattr(cfg.ASSIGNMENTS["hw2_cnn"], "clean_probes", ()):
        raise AssertionError("the grader could not time its reference loop in a clean process, so this check "
                             "could not be completed (a problem of the grader, not of your code: tell your TA)")
    assert steps > 0, (
        "your train_one_epoch never stepped the optimizer it was given: creating a new optimizer inside the "
        "loop (or not using the `optimizer` argument) restarts Adam at every batch. Create it once, outside")
    assert effective <= limit, (
        f"one epoch of your train_one_epoch took x{effective:.2f} the reference loop's time (limit x{limit:g}). "
        "Usual causes: running the model one sample at a time instead of a whole batch; building tensors "
        "from Python lists (torch.tensor(x.tolist())) at every step; re-creating the optimizer per batch; "
        "calling .item() per sample or moving the model to the device inside the loop (slow on a GPU)")
