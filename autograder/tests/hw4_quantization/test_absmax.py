"""TODO1: symmetric absmax quantization: exact integers for known scales, the scale and the round
trip on tensors of hidden shapes (some with a negative absolute maximum), an all-zero tensor."""
from __future__ import annotations

import numpy as np
import torch

from autograder.tests.hw4_quantization import cases, reference
from autograder.tests.hw4_quantization.common import describe_difference, near_ties, value


def test_absmax_known_scale_exact_integers(student):
    got = student("absmax")["known"]
    for k, (seed, shape, scale, bits) in enumerate(cases.KNOWN_SCALE_CASES):
        x = cases.tensor(seed, shape)
        q = value(got[str(k)]["q"], f"quantize(x, scale={scale}, bits={bits})", "int8", shape)
        expected = reference.quantize(x, torch.tensor(scale), bits).numpy()
        ok = (q == expected) | near_ties(x, scale)
        if not ok.all():
            qmax = reference.qmax_of(bits)
            hint = ""
            if q.max() > qmax or q.min() < -qmax:
                hint = (f" Your integers reach [{q.min()}, {q.max()}]: clamp to [-{qmax}, {qmax}] before the "
                        "cast (a value beyond the range must become the range's end, not wrap around)")
            elif np.array_equal(q, np.floor(x.numpy() / scale).clip(-qmax, qmax)):
                hint = " They equal floor(x / scale): round to the NEAREST integer (torch.round)"
            elif np.all(np.abs(q - expected) <= 1):
                hint = " Each is off by at most one: round to the nearest integer with torch.round(x / scale)"
            raise AssertionError(f"quantize(x, scale={scale}, bits={bits}) on a tensor of shape {shape}: "
                                 f"{describe_difference(q, expected)}.{hint}")


def test_absmax_scale_and_round_trip(student):
    got = student("absmax")["own"]
    for k, (seed, shape, kind, bits) in enumerate(cases.ABSMAX_CASES):
        x = cases.tensor(seed, shape, kind)
        scales = value(got[str(k)]["scale"], "absmax_scale").reshape(-1)
        assert scales.size == 1, (f"absmax_scale should return one number (a 0-dim tensor), got shape "
                                  f"{tuple(got[str(k)]['scale']['shape'])}")
        scale = float(scales[0])
        expected = float(reference.absmax_scale(x, bits))
        if abs(scale - expected) > 1e-6 * expected:
            hint = ""
            if abs(scale - float(x.max()) / reference.qmax_of(bits)) < 1e-6 * expected:
                hint = (" It equals max(x) / qmax: this tensor's largest MAGNITUDE is negative "
                        f"({float(x.min()):.3f}); use the absolute values, x.abs().max()")
            raise AssertionError(f"absmax_scale on a tensor of shape {shape} ({bits} bits) returned {scale:.6g}, "
                                 f"expected max|x| / {reference.qmax_of(bits)} = {expected:.6g}.{hint}")
        q = value(got[str(k)]["q"], "quantize", "int8", shape)
        back = value(got[str(k)]["dequantized"], "dequantize", "float32", shape)
        qmax = reference.qmax_of(bits)
        assert q.min() >= -qmax and q.max() <= qmax, f"{bits} bits: integers must lie in [-{qmax}, {qmax}], got [{q.min()}, {q.max()}]"
        assert np.allclose(back, q * scale, rtol=1e-6, atol=1e-7), "dequantize(q, scale) should be q * scale"
        error = float(np.max(np.abs(back - x.numpy())))
        assert error <= scale / 2 * (1 + 1e-4) + 1e-7, (
            f"the round trip of a tensor of shape {shape} at {bits} bits is off by up to {error:.4g}, more than half a "
            f"step ({scale / 2:.4g}): round to the nearest integer (not floor) and use the absmax scale")


def test_absmax_all_zero_tensor(student):
    zero = student("absmax")["zero"]
    for k in range(len(zero)):
        record = zero[str(k)]
        scale = value(record["scale"], "absmax_scale of an all-zero tensor").astype(np.float64)
        assert np.all(np.isfinite(scale)) and np.all(scale > 0), (
            f"absmax_scale of an all-zero tensor returned {scale.reshape(-1)[:3]}: a zero (or NaN) scale divides by zero "
            "in quantize. Return 1.0 when the absolute maximum is 0")
        q = value(record["q"], "quantize of an all-zero tensor", "int8")
        back = value(record["dequantized"], "dequantize of an all-zero tensor")
        assert np.all(q == 0) and np.all(back == 0), "an all-zero tensor should quantize to zeros and come back as zeros"
