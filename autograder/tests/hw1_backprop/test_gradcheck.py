"""Part 6 (grad_check): numerical_gradient against torch float64 on a hidden function, and
gradient_check on a correct and on a deliberately wrong gradient."""
from __future__ import annotations

import math

import numpy as np
import torch

from autograder.tests.hw1_backprop import cases
from autograder.tests.hw1_backprop.oracle import close, tensor

TOL = 1e-6  # centered differences in float64 reach ~1e-8 here; one-sided ones ~1e-5


def rel_error(a, b) -> float:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.max(np.abs(a - b) / np.maximum(1e-8, np.abs(a) + np.abs(b))))


def reference_gradient(A, x) -> np.ndarray:
    v = tensor(x)
    f = torch.exp(0.5 * (v @ tensor(A, grad=False))).sum() + (v ** 4).sum() / 4.0
    f.backward()
    return v.grad.numpy().copy()


def one_sided(f, x, eps=1e-6) -> np.ndarray:
    x = np.array(x, dtype=np.float64)
    grad = np.zeros_like(x)
    fx = f(x)
    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old + eps
        grad[i] = (f(x) - fx) / eps
        x[i] = old
    return grad


def test_numerical_gradient(student):
    got = student("numgrad")
    f, A, x = cases.numgrad_case()
    result = got["float64"]
    assert np.array_equal(result["x_after"], x), (
        "numerical_gradient changed the caller's x: restore every coordinate after perturbing it "
        "(or perturb a float64 copy)")
    grad = np.asarray(result["grad"])
    expected = reference_gradient(A, x)
    assert grad.shape == expected.shape, (
        f"numerical_gradient returned shape {grad.shape}, expected the shape of x {expected.shape}")
    err = rel_error(grad, expected)
    if err > TOL and close(grad, one_sided(f, x), 1e-4):
        raise AssertionError(
            f"numerical_gradient has relative error {err:.1e} (should be < {TOL:.0e}): it looks like "
            "a one-sided difference (f(x + eps) - f(x)) / eps; use the centered "
            "(f(x + eps) - f(x - eps)) / (2 * eps)")
    if err > TOL and close(grad, 2 * expected, 1e-4):
        raise AssertionError("numerical_gradient is twice too large: divide by 2 * eps")
    assert err <= TOL, (f"numerical_gradient has relative error {err:.1e} against the true gradient "
                        f"(should be < {TOL:.0e}): grad[i] = (f(x + eps e_i) - f(x - eps e_i)) / (2 eps)")

    x32 = x.astype(np.float32)
    grad32 = np.asarray(got["float32"])
    err = rel_error(grad32, reference_gradient(A, x32.astype(np.float64)))
    assert err <= TOL, (
        f"with a float32 x, numerical_gradient has relative error {err:.1e} (should be < {TOL:.0e}): "
        "in float32, x + 1e-6 is barely different from x; copy x to float64 first "
        "(np.array(x, dtype=np.float64))")


def test_gradient_check_flags_wrong_gradient(student):
    got = student("gradcheck")
    f, B, x, right, wrong = cases.gradcheck_case()
    v = tensor(x)
    (torch.tanh(v @ tensor(B, grad=False)) ** 2).sum().add((v ** 3).sum() / 3.0).backward()
    true = v.grad.numpy()
    expected_wrong = rel_error(wrong, true)

    err = got["right"]
    assert math.isfinite(err) and err >= 0, f"gradient_check returned {err}: a relative error is >= 0"
    assert err < TOL, (
        f"gradient_check reports a relative error of {err:.1e} for a CORRECT gradient (should be < "
        f"{TOL:.0e}): use centered differences in float64 (your numerical_gradient) and compare with "
        "rel_error")
    err = got["wrong"]
    assert math.isfinite(err) and err > 1e-4 and err > expected_wrong / 10, (
        f"gradient_check reports {err:.1e} for a gradient with one entry off by 1%, far less than "
        "that entry's own relative error: return the MAX relative error over all entries")
