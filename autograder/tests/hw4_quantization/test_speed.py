"""The speed threshold: the student's QuantLinear forward (int8 and int4, per channel, the
student's own helper functions) against the float nn.Linear it came from, as ratios measured side
by side in one process. Limits come from calibration/<device>.json (written by `python -m
autograder calibrate` on the grading machine) or from course_config's defaults."""
from __future__ import annotations

import math
import statistics

from assignments.timing import paired_ratio
from autograder.calibrate import thresholds
from autograder.probe import grading_device

# Time the speed probe spends outside the timed calls (building the layers, one forward each).
# More unexplained time than this means the timings the process reported are not true.
UNTIMED_ALLOWANCE_S = 1.0
UNTIMED_ALLOWANCE_FRACTION = 0.2


def bar(value: float, scale: float, width: int = 30) -> str:
    filled = 0 if not math.isfinite(value) else min(width, max(1, round(width * value / scale)))
    return "█" * filled + "·" * (width - filled)


def test_quant_linear_speed_ratio(student, detail):
    device = grading_device()
    got = student("speed")
    limits = thresholds("hw4_quantization", device)
    reported, verdicts = 0.0, []
    detail(f"{got['calls']} forward passes of {got['tokens']} tokens through a {got['in']} -> {got['out']} layer, "
           f"{got['timer']} on {got['device']}, alternating with the float nn.Linear (medians; the ratio is the "
           "median of the rounds' ratios):")
    for bits in (8, 4):
        run = got[f"int{bits}"]
        ref, stu, warm = (list(map(float, run[k])) for k in ("float", "student", "warmup"))
        assert ref and stu and all(t > 0 for t in ref + stu), "the timing produced no usable measurement"
        reported += sum(ref) + sum(stu) + sum(warm)
        ratio = paired_ratio(stu, ref)
        limit = float(limits.values[f"max_speed_ratio_int{bits}"])
        ms_ref, ms_stu = 1000 * statistics.median(ref), 1000 * statistics.median(stu)
        scale = max(ms_stu, ms_ref * limit) * 1.05
        detail(f"float layer     {bar(ms_ref, scale)} {ms_ref:8.2f} ms")
        detail(f"your int{bits} layer {bar(ms_stu, scale)} {ms_stu:8.2f} ms  ratio x{ratio:.2f}")
        detail(f"int{bits} limit      {bar(ms_ref * limit, scale)} {ms_ref * limit:8.2f} ms  (x{limit:g} the float layer)")
        verdicts.append((bits, ratio, limit))
    detail(limits.note)
    wall = student.wall_seconds("speed")
    if math.isfinite(wall):
        assert wall - reported <= UNTIMED_ALLOWANCE_S + UNTIMED_ALLOWANCE_FRACTION * reported, (
            f"the timings your process reported ({reported:.2f} s in all) do not add up to the {wall:.2f} s the "
            "grader measured for this check: was time.perf_counter (or CUDA's timer) replaced? The check fails")
    for bits, ratio, limit in verdicts:
        assert ratio <= limit, (
            f"your int{bits} QuantLinear's forward takes x{ratio:.2f} the float layer's time (limit x{limit:g}). "
            + ("Dequantize the whole weight with tensor operations (q.float() * scale), not a Python loop over rows "
               "or elements" if bits == 8 else
               "Unpack the int4 bytes with tensor operations (&, >>, slicing), not element by element in Python, "
               "and dequantize without a loop"))
