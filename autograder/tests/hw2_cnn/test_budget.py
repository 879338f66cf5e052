"""The thresholds: accuracy within a fixed training budget, and the speed of the training loop
as a ratio to the reference loop. Targets come from calibration/<device>.json (written by
`python -m autograder calibrate` on the grading machine) or from course_config's defaults."""
from __future__ import annotations

import math
import statistics

import numpy as np

from assignments.timing import paired_ratio
from autograder.calibrate import thresholds
from autograder.probe import grading_device
from autograder.tests.hw2_cnn import cases

# Time the speed probe spends outside the timed epochs (building the models and the loader).
# More unexplained time than this means the timings the process reported are not true.
UNTIMED_ALLOWANCE_S = 0.5
UNTIMED_ALLOWANCE_FRACTION = 0.1


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
    labels = cases.budget_data(plan, with_test_labels=True)[3]
    run = got["run"]
    predictions = np.asarray(run["predictions"])
    assert predictions.shape == labels.shape, "the trained model's predictions have the wrong shape"
    accuracy = float(np.mean(predictions == labels))
    data = ("real MNIST digits (3x32x32)" if plan["dataset"] == "digits" else "CIFAR-10")
    detail(f"test accuracy {accuracy:.3f} (target {target:.2f}) after {plan['epochs']} epoch(s) on "
           f"{plan['train_images']:,} {data}, batch {plan['batch_size']}, Adam 1e-3, on {got['device']}")
    detail(f"accuracy  {bar(accuracy, 1.0)} {accuracy:.3f}")
    detail(f"target    {bar(target, 1.0)} {target:.2f}")
    detail(limits.note)
    losses = [float(v) for v in run["losses"]]
    assert all(math.isfinite(v) for v in losses), (
        f"the training loss became {losses}: not a finite number (is the loss computed on the model's "
        "outputs and the labels of the same batch?)")
    assert accuracy >= target, (
        f"your SimpleCNN trained with your train_one_epoch reaches {accuracy:.3f} test accuracy on held-out "
        f"{data} after the fixed budget; the target is {target:.2f}. Check the model (TODO4) and the loop "
        "(TODO5-1): zero_grad, backward and step once per batch, on the batch's own labels")


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
    images, ms_ref, ms_stu = got["images"], 1000 * statistics.median(ref), 1000 * statistics.median(stu)
    scale = max(ms_stu, ms_ref * limit) * 1.05
    detail(f"one epoch of {images} images in batches of {images // batches}, {got['timer']} on {got['device']}, "
           f"{len(stu)} alternating rounds after a warm-up (medians; the ratio is the median of the rounds' ratios):")
    detail(f"reference  {bar(ms_ref, scale)} {ms_ref:8.1f} ms  ({images / statistics.median(ref):,.0f} images/s)")
    detail(f"your loop  {bar(ms_stu, scale)} {ms_stu:8.1f} ms  ({images / statistics.median(stu):,.0f} images/s)")
    detail(f"limit      {bar(ms_ref * limit, scale)} {ms_ref * limit:8.1f} ms  (x{limit:g} the reference)")
    detail(f"ratio x{ratio:.2f}" + (f", x{effective:.2f} counting only the batches that stepped the optimizer "
                                    f"({steps:g} steps for {batches} batches)" if effective != ratio else "")
           + f"; limit x{limit:g}")
    detail(limits.note)
    # The probe ran in the student's process: re-check its clock against the grader's.
    wall = student.wall_seconds("speed")
    reported = sum(ref) + sum(stu) + sum(warm)
    unexplained = wall - reported
    if math.isfinite(wall):
        assert unexplained <= UNTIMED_ALLOWANCE_S + UNTIMED_ALLOWANCE_FRACTION * reported, (
            f"the timings your process reported ({reported:.2f} s in all) do not add up to the {wall:.2f} s the "
            "grader measured for this check: was time.perf_counter (or CUDA's timer) replaced? The check fails")
    assert steps > 0, (
        "your train_one_epoch never stepped the optimizer it was given: creating a new optimizer inside the "
        "loop (or not using the `optimizer` argument) restarts Adam at every batch. Create it once, outside")
    assert effective <= limit, (
        f"one epoch of your train_one_epoch took x{effective:.2f} the reference loop's time (limit x{limit:g}). "
        "Usual causes: running the model one sample at a time instead of a whole batch; building tensors "
        "from Python lists (torch.tensor(x.tolist())) at every step; re-creating the optimizer per batch; "
        "calling .item() per sample or moving the model to the device inside the loop (slow on a GPU)")
