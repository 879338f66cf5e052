"""TODO2: asymmetric quantization: the scale from the range (widened to contain 0), an integer
zero point inside [0, 2**bits - 1], exact integers for a known scale and zero point, the round trip."""
from __future__ import annotations

import numpy as np
import torch

from autograder.tests.hw4_quantization import cases, reference
from autograder.tests.hw4_quantization.common import describe_difference, value


def params_of(record, what):
    scale = value(record["scale"], f"{what}'s scale").astype(np.float64).reshape(-1)
    zp = value(record["zero_point"], f"{what}'s zero point").astype(np.float64).reshape(-1)
    assert scale.size == 1 and zp.size == 1, "asymmetric_params should return one scale and one zero point"
    return float(scale[0]), float(zp[0]), record["zero_point"]["dtype"]


def test_zero_point_is_an_integer_in_range(student):
    got = student("asymmetric")["own"]
    for k, (seed, shape, kind, bits) in enumerate(cases.ASYMMETRIC_CASES):
        x = cases.tensor(seed, shape, kind)
        what = f"asymmetric_params on a tensor of shape {shape} in [{float(x.min()):.2f}, {float(x.max()):.2f}], bits={bits}"
        scale, zp, zp_dtype = params_of(got[str(k)], what)
        ref_scale, ref_zp = reference.asymmetric_params(x, bits)
        assert abs(scale - float(ref_scale)) <= 1e-6 * float(ref_scale), (
            f"{what}: scale {scale:.6g}, expected (max(x, 0) - min(x, 0)) / {2 ** bits - 1} = {float(ref_scale):.6g}. "
            "The range must contain 0 (for an all-positive tensor, lo = 0)")
        assert zp == round(zp) and zp_dtype in ("int8", "uint8", "int16", "int32", "int64"), (
            f"{what}: the zero point is {zp!r} (torch.{zp_dtype}): it must be an INTEGER (round(-lo / scale)), "
            "stored as an integer tensor, so that 0.0 is represented exactly")
        levels = 2 ** bits - 1
        assert 0 <= zp <= levels, f"{what}: zero point {zp:g} outside [0, {levels}]"
        exact = -min(float(x.min()), 0.0) / scale
        assert abs(zp - exact) <= 0.5 + 1e-4, f"{what}: zero point {zp:g}, expected round(-lo / scale) = {int(ref_zp)}"


def test_asymmetric_exact_and_round_trip(student):
    got = student("asymmetric")
    for k, (scale, zp, bits) in enumerate(cases.ASYMMETRIC_KNOWN):
        x = cases.tensor(*cases.ASYMMETRIC_CASES[k][:3])
        expected = reference.asymmetric_quantize(x, torch.tensor(scale), torch.tensor(zp), bits).numpy()
        q = value(got["known"][str(k)]["q"], f"asymmetric_quantize(x, {scale}, {zp}, {bits})", "uint8", x.shape)
        r = x.double().numpy() / scale
        ties = np.abs(np.abs(r - np.floor(r)) - 0.5) < 1e-4
        assert np.all((q == expected) | ties), (
            f"asymmetric_quantize(x, scale={scale}, zero_point={zp}, bits={bits}): {describe_difference(q, expected)}. "
            f"It is clamp(round(x / scale) + zero_point, 0, {2 ** bits - 1}) as uint8")
        back = value(got["known"][str(k)]["dequantized"], "asymmetric_dequantize", "float32", x.shape)
        assert np.allclose(back, (expected.astype(np.float64) - zp) * scale, rtol=1e-6, atol=1e-6), (
            "asymmetric_dequantize(q, scale, zero_point) should be (q - zero_point) * scale")
    for k, (seed, shape, kind, bits) in enumerate(cases.ASYMMETRIC_CASES):
        record = got["own"][str(k)]
        x = cases.tensor(seed, shape, kind).numpy()
        scale, zp, _ = params_of(record, "asymmetric_params")
        q = value(record["q"], "asymmetric_quantize", "uint8", shape)
        back = value(record["dequantized"], "asymmetric_dequantize", None, shape).astype(np.float64)
        error = float(np.max(np.abs(back - x)))
        assert error <= scale / 2 * (1 + 1e-3) + 1e-6, (
            f"the asymmetric round trip of a tensor of shape {shape} at {bits} bits is off by up to {error:.4g}, more "
            f"than half a step ({scale / 2:.4g}): is the zero point rounded to an integer, and added before clamping?")
        if (x == 0).any():
            assert np.all(back[x == 0] == 0), "0.0 should come back exactly as 0.0 (q == zero point)"
