"""What `python -m autograder calibrate` measures for HW2, and how it sets the thresholds.

The reference solution goes through the same probes that grade students: the accuracy budget
with a few seeds (the target is the worst of them minus a margin), and the speed probe with the
reference loop as the "student" several times (the ratio of a loop to itself shows how noisy
timing is on this machine; the limit is the larger of a floor and that noise times a factor).
"""
from __future__ import annotations

import math
import statistics

from assignments.timing import paired_ratio
from autograder.tests.hw2_cnn import cases, probes, reference

ACCURACY_SEEDS = (cases.BUDGET_SEED, 11, 12)
SPEED_RUNS = 3


def measure(sub, device: str, log=print) -> dict:
    plan = cases.budget(device)
    images, labels = cases.budget_test(plan)
    images = cases.normalized(images)
    accuracies, epoch_seconds = [], []
    for seed in ACCURACY_SEEDS:
        got = probes.accuracy(sub, seed=seed)
        run = got["run"]
        if isinstance(run, probes.Failed):
            raise RuntimeError(f"the reference failed the accuracy probe: {run.message}")
        accuracies.append(reference.accuracy_of(run["weights"], images, labels))
        epoch_seconds += run["seconds"]
        log(f"  accuracy budget, seed {seed}: {accuracies[-1]:.4f} ({plan['dataset']}, "
            f"{plan['train_images']} images x {plan['epochs']} epochs, {sum(run['seconds']):.1f} s)")
    ratios, ref_epochs = [], []
    for _ in range(SPEED_RUNS):
        got = probes.speed(sub)
        run = got["run"]
        if isinstance(run, probes.Failed):
            raise RuntimeError(f"the reference failed the speed probe: {run.message}")
        ratios.append(paired_ratio(run["student"], run["reference"]))
        ref_epochs += run["reference"]
        log(f"  speed: reference against itself, ratio {ratios[-1]:.3f} "
            f"(reference epoch {1000 * statistics.median(run['reference']):.1f} ms)")
    speed_epoch = statistics.median(ref_epochs)
    return {
        "dataset": plan["dataset"], "train_images": plan["train_images"], "epochs": plan["epochs"],
        "batch_size": plan["batch_size"], "accuracies": [round(a, 4) for a in accuracies],
        "budget_images_per_second": round(plan["train_images"] * len(epoch_seconds) / sum(epoch_seconds), 1),
        "speed_images": plan["speed_images"], "speed_batch": plan["speed_batch"], "speed_width": plan["speed_width"],
        "speed_epoch_seconds": round(speed_epoch, 5),
        "speed_images_per_second": round(plan["speed_images"] / speed_epoch, 1),
        "self_ratios": [round(r, 4) for r in ratios],
    }


def derive(measured: dict, margins: dict, defaults: dict) -> dict:
    accuracy = math.floor((min(measured["accuracies"]) - margins.get("accuracy_below_reference", 0.05)) * 100) / 100
    noise = max(max(measured["self_ratios"]), 1 / min(measured["self_ratios"]))
    ratio = max(margins.get("speed_ratio_floor", 2.0), round(noise * margins.get("speed_noise_factor", 1.5), 2))
    key = "accuracy" if measured["dataset"] == "cifar10" or "accuracy_digits" not in defaults else "accuracy_digits"
    return {key: accuracy, "max_speed_ratio": ratio}
