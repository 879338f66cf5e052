"""What `python -m autograder calibrate` measures for HW3, and how it sets the thresholds.

The reference solution goes through the same probes that grade students: the fine-tune budget
with a few seeds (the target is the worst of them minus a margin), and the speed probe a few
times (the reference's own ratio to nn.MultiheadAttention; the limit is the larger of a floor
and the worst observed ratio times a factor).
"""
from __future__ import annotations

import math
import statistics

import numpy as np

from assignments.timing import paired_ratio
from autograder.tests.hw3_attention import cases, probes

FINETUNE_SEEDS = (cases.FINETUNE_SEED, 11, 12)
SPEED_RUNS = 3


def measure(sub, device: str, log=print) -> dict:
    plan = cases.finetune_plan(device)
    labels = cases.finetune_test(plan, with_labels=True)[1]
    accuracies, seconds = [], []
    for seed in FINETUNE_SEEDS:
        run = probes.finetune(sub, seed=seed)["run"]
        if isinstance(run, probes.Failed):
            raise RuntimeError(f"the reference failed the fine-tune probe: {run.message}")
        accuracies.append(float(np.mean(run["predictions"] == labels)))
        seconds += run["seconds"]
        log(f"  fine-tune, seed {seed}: held-out accuracy {accuracies[-1]:.4f} ({plan['train_reviews']} reviews x "
            f"{plan['epochs']} epoch(s), {sum(run['seconds']):.1f} s)")
    ratios, ref_ms = [], []
    for _ in range(SPEED_RUNS):
        got = probes.speed(sub)
        run = got["run"]
        if isinstance(run, probes.Failed):
            raise RuntimeError(f"the reference failed the speed probe: {run.message}")
        ratios.append(paired_ratio(run["student"], run["reference"]))
        ref_ms.append(1000 * statistics.median(run["reference"]) / got["calls"])
        log(f"  speed: reference MultiHeadAttention against nn.MultiheadAttention x{ratios[-1]:.3f} "
            f"(nn.MultiheadAttention {ref_ms[-1]:.3f} ms per call)")
    return {
        "train_reviews": plan["train_reviews"], "test_reviews": plan["test_reviews"], "epochs": plan["epochs"],
        "max_length": plan["max_length"], "batch_size": plan["batch_size"], "lr": plan["lr"],
        "accuracies": [round(a, 4) for a in accuracies], "finetune_epoch_seconds": round(statistics.median(seconds), 2),
        "speed_shape": [plan["speed_batch"], plan["speed_length"], plan["speed_d_model"], plan["speed_heads"]],
        "torch_mha_ms": round(statistics.median(ref_ms), 4), "reference_ratios": [round(r, 4) for r in ratios],
    }


def derive(measured: dict, margins: dict, defaults: dict) -> dict:
    accuracy = math.floor((min(measured["accuracies"]) - margins.get("accuracy_below_reference", 0.05)) * 100) / 100
    ratio = max(margins.get("speed_ratio_floor", 2.0),
                round(max(measured["reference_ratios"]) * margins.get("speed_noise_factor", 1.5), 2))
    return {"accuracy": accuracy, "max_speed_ratio": ratio}
