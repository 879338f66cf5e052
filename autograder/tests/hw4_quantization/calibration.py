"""What `python -m autograder calibrate` measures for HW4, and how it sets the thresholds.

The reference solution goes through the same probes that grade students: the real model (bytes,
cosines, accuracy drop, judged here as the hidden tests judge them) and the speed probe several
times. Size thresholds are the assignment's (3.9x, 7.5x) and stay; the int4 cosine target is the
reference's minus a margin (capped by the configured default), and each speed limit is the larger
of a floor and the reference's ratio times a noise factor.
"""
from __future__ import annotations

import math
import statistics

import numpy as np

from assignments.timing import paired_ratio
from autograder.tests.hw4_quantization import cases, probes

SPEED_RUNS = 3


def measure(sub, device: str, log=print) -> dict:
    got = probes.real_model(sub)
    ref = cases.float_reference()
    labels = ref["test_labels"]
    float_acc = float(np.mean(cases.predict(ref["head_w"], float(ref["head_b"]), ref["test_embeddings"]) == labels))
    measured = {"test_snippets": int(len(labels)), "float_accuracy": round(float_acc, 4)}
    for key, run in got["configs"].items():
        if isinstance(run, probes.Failed) or isinstance(run["embeddings"], probes.Failed):
            raise RuntimeError(f"the reference failed the real-model probe ({key})")
        bits = int(key.split("-")[0])
        stored = sum(n * size for k, (_, n, size) in run["stored"].items() if not k.endswith(".bias"))
        original = 4 * sum(cases.LINEAR_WEIGHT_NUMEL.values())
        cos = cases.cosines(run["embeddings"], ref["test_embeddings"])
        acc = float(np.mean(cases.predict(ref["head_w"], float(ref["head_b"]), run["embeddings"]) == labels))
        measured[f"int{bits}"] = {"bytes_ratio": round(original / stored, 3), "mean_cosine": round(float(cos.mean()), 5),
                                  "min_cosine": round(float(cos.min()), 5), "accuracy": round(acc, 4)}
        log(f"  int{bits} per channel: {original / stored:.2f}x smaller, mean cosine {cos.mean():.5f}, "
            f"accuracy {acc:.4f} (float {float_acc:.4f})")
    ratios = {8: [], 4: []}
    for _ in range(SPEED_RUNS):
        got = probes.speed(sub)
        for bits in (8, 4):
            run = got[f"int{bits}"]
            if isinstance(run, probes.Failed):
                raise RuntimeError(f"the reference failed the speed probe: {run.message}")
            ratios[bits].append(paired_ratio(run["student"], run["float"]))
            measured.setdefault(f"float_ms", []).append(round(1000 * statistics.median(run["float"]), 4))
        log(f"  speed: int8 x{ratios[8][-1]:.2f}, int4 x{ratios[4][-1]:.2f} the float layer "
            f"({got['tokens']} tokens, {got['in']} -> {got['out']})")
    measured["speed_tokens"] = got["tokens"]
    measured["speed_ratios_int8"] = [round(r, 3) for r in ratios[8]]
    measured["speed_ratios_int4"] = [round(r, 3) for r in ratios[4]]
    return measured


def derive(measured: dict, margins: dict, defaults: dict) -> dict:
    factor = margins.get("speed_noise_factor", 2.0)
    cosine4 = math.floor((measured["int4"]["mean_cosine"] - margins.get("cosine_below_reference_int4", 0.03)) * 100) / 100
    return {
        "min_cosine_int4": min(cosine4, defaults.get("min_cosine_int4", cosine4)),
        "max_speed_ratio_int8": max(margins.get("speed_ratio_floor_int8", 4.0),
                                    round(max(measured["speed_ratios_int8"]) * factor, 1)),
        "max_speed_ratio_int4": max(margins.get("speed_ratio_floor_int4", 30.0),
                                    round(max(measured["speed_ratios_int4"]) * factor, 1)),
    }
