"""Part 1 (value_ops): the operations of the scalar Value, against torch float64."""
from __future__ import annotations

import math

import torch

from autograder.tests.hw1_backprop import cases
from autograder.tests.hw1_backprop.oracle import tensor

FORWARD_HINTS = {
    "-a": "-a is a * -1 (and a * -1 needs __mul__ to accept a plain number)",
    "a - b": "a - b is a + (-b)",
    "a / b": "a / b is a * b ** -1",
    "c / a": "c / a is c * a ** -1",
    "a.relu()": "relu(a) = max(0, a)",
    "b.relu()": "relu(b) = max(0, b)",
}

GRAD_HINTS = {
    "a + b": "d(a + b)/da = d(a + b)/db = 1",
    "a * b": "d(a * b)/da = b and d(a * b)/db = a",
    "a ** 2": "d(a ** n)/da = n * a ** (n - 1)",
    "a ** 3": "d(a ** n)/da = n * a ** (n - 1)",
    "b ** -1": "d(b ** n)/db = n * b ** (n - 1), also for negative n",
    "b ** -2": "d(b ** n)/db = n * b ** (n - 1), also for negative n",
    "c ** 0.5": "d(c ** n)/dc = n * c ** (n - 1), also for fractional n",
    "c ** 1.5": "d(c ** n)/dc = n * c ** (n - 1), also for fractional n",
    "a.exp()": "d exp(a)/da = exp(a)",
    "b.tanh()": "d tanh(b)/db = 1 - tanh(b) ** 2",
    "a.relu()": "d relu(a)/da = 1 if a > 0 else 0",
    "b.relu()": "d relu(b)/db = 1 if b > 0 else 0",
    "-a": "d(-a)/da = -1",
    "a - b": "d(a - b)/da = 1 and d(a - b)/db = -1",
    "a / b": "d(a / b)/da = 1 / b and d(a / b)/db = -a / b ** 2",
    "c / a": "d(c / a)/dc = 1 / a and d(c / a)/da = -c / a ** 2",
}

PLAIN_HINTS = {
    "2 * v": "2 * v calls v.__rmul__(2)",
    "2 + v": "2 + v calls v.__radd__(2)",
    "1 - v": "1 - v calls v.__rsub__(1), which must compute other - self (not self - other)",
    "3 - 2 * v": "3 - (2 * v) calls __rsub__, which must compute other - self",
    "2 / v": "2 / v calls v.__rtruediv__(2), which must compute other / self (not self / other)",
    "1 / (1 + v * v)": "1 / w calls w.__rtruediv__(1), which must compute other / self",
    "v / 4": "v / 4 is v * 4 ** -1: __truediv__ must accept a plain number",
    "v - 1": "v - 1 is v + (-1): __sub__ must accept a plain number",
}


def torch_value(fn, *xs) -> tuple[float, list[float]]:
    leaves = [tensor(x) for x in xs]
    out = fn(*leaves)
    grads = torch.autograd.grad(out, leaves, allow_unused=True)
    return float(out.detach()), [0.0 if g is None else float(g) for g in grads]


def near(got: float, expected: float, tol: float = 1e-9) -> bool:
    return math.isfinite(got) and abs(got - expected) <= tol * max(1.0, abs(expected))


# Messages never quote a hidden input or an expected value (a student could hard-code them on a
# resubmission): they name the operation, what is wrong with it, and on what kind of input.
INPUTS = "on hidden inputs (a and b of either sign, c > 0)"


def test_value_forward_ops(student):
    rows = student("value_ops")["rows"]
    for (a, b, c), row in zip(cases.value_points(), rows, strict=True):
        for expr, fn in cases.VALUE_OPS:
            got = row[expr]["data"]
            expected, _ = torch_value(fn, a, b, c)
            hint = f" ({FORWARD_HINTS[expr]})" if expr in FORWARD_HINTS else ""
            assert near(got, expected), f"Value: {expr} computes a wrong data {INPUTS}{hint}"


def test_value_local_gradients(student):
    rows = student("value_ops")["rows"]
    for (a, b, c), row in zip(cases.value_points(), rows, strict=True):
        for expr, fn in cases.VALUE_OPS:
            got = row[expr]["grads"]
            _, expected = torch_value(fn, a, b, c)
            for name, g, e in zip("abc", got, expected, strict=True):
                assert near(g, e), (
                    f"Value: the gradient of {expr} with respect to {name} is wrong {INPUTS}: check "
                    f"the local gradients your operations store ({GRAD_HINTS[expr]})")


def test_value_ops_with_plain_numbers(student):
    rows = student("value_plain_numbers")["rows"]
    for v, row in zip(cases.plain_number_points(), rows, strict=True):
        for expr, fn in cases.PLAIN_NUMBER_OPS:
            got = row[expr]
            expected, (grad,) = torch_value(fn, v)
            hint = f" ({PLAIN_HINTS[expr]})" if expr in PLAIN_HINTS else ""
            assert near(got["data"], expected), (
                f"Value: {expr} computes a wrong value for a Value v and plain numbers{hint}")
            assert near(got["grad"], grad), (
                f"Value: {expr} has the right value but a wrong gradient d/dv: the plain number must "
                "become a constant Value, and every operation it is made of must store the right "
                "local gradients (see the local-gradient check of the operations)")
