"""Timing training code the way the grader does: synchronised, warmed up, median of repeats.

On a GPU, work is queued and runs later, so a clock read right after a call measures almost
nothing: `seconds` records CUDA events around the call and waits for them. On a CPU it reads
`time.perf_counter`. `compare` times a candidate next to a reference in the same process on the
same data, alternating the two so that a busy machine slows both alike, and reports the median
of the per-round ratios.
"""
from __future__ import annotations

import statistics
import time

_clock = time.perf_counter  # taken once, when this module is first imported


def seconds(fn, device="cpu") -> float:
    """Run fn() once and return how long it took on `device` (CUDA events on a GPU)."""
    import torch

    if torch.device(device).type == "cuda":
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        torch.cuda.synchronize(device)
        start.record()
        fn()
        end.record()
        end.synchronize()
        return start.elapsed_time(end) / 1000.0
    started = _clock()
    fn()
    return _clock() - started


def compare(candidate, reference, device="cpu", repeats: int = 5, warmup: int = 1,
            candidate_budget_s: float = 10.0) -> dict:
    """Time `candidate()` against `reference()`: `warmup` untimed-for-the-verdict rounds, then up
    to `repeats` alternating rounds. Once the candidate has used `candidate_budget_s` seconds
    (a very slow candidate) it stops repeating: its ratio is clear already.

    Returns {"reference": [s...], "candidate": [s...], "warmup": [s...] (reference, candidate
    alternately), "ratio": paired_ratio(...)}. Every second spent in either function is in one
    of the lists."""
    warm, ref, cand = [], [], []
    spent = 0.0
    for _ in range(warmup):
        warm.append(seconds(reference, device))
        warm.append(seconds(candidate, device))
        spent += warm[-1]
    for _ in range(repeats):
        ref.append(seconds(reference, device))
        cand.append(seconds(candidate, device))
        spent += cand[-1]
        if spent >= candidate_budget_s:
            break
    return {"reference": ref, "candidate": cand, "warmup": warm, "ratio": paired_ratio(cand, ref)}


def paired_ratio(candidate: list, reference: list) -> float:
    """The median over rounds of candidate time / reference time of the same round: the two runs of
    a round are adjacent, so a burst of load elsewhere on the machine mostly cancels out."""
    pairs = [c / r for c, r in zip(candidate, reference) if r > 0]
    return statistics.median(pairs) if pairs else float("inf")
