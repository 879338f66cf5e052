"""Public checks for the notebooks: small, readable, and loud when something is wrong.

    check_close("Linear.forward", out, x @ W + b)      # prints one line, or raises
    check_gradient("Linear dx", f, x, dx)              # finite differences along random directions
"""
from __future__ import annotations

import numpy as np


def rel_error(a, b) -> float:
    """Largest elementwise relative error |a - b| / max(1e-8, |a| + |b|) (the CS231n measure)."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    return float(np.max(np.abs(a - b) / np.maximum(1e-8, np.abs(a) + np.abs(b))))


def check_close(name: str, got, expected, tol: float = 1e-7) -> float:
    """Compare `got` with `expected`: print one line if they agree, raise AssertionError if not.

    Returns the relative error (see `rel_error`)."""
    got_arr = np.asarray(got)
    expected_arr = np.asarray(expected)
    if got_arr.shape != expected_arr.shape:
        raise AssertionError(f"{name}: shape {got_arr.shape}, expected {expected_arr.shape}")
    if not np.all(np.isfinite(got_arr.astype(np.float64))):
        raise AssertionError(f"{name}: contains nan or inf")
    err = rel_error(got_arr, expected_arr)
    if not err < tol:
        raise AssertionError(f"{name}: relative error {err:.1e} (should be < {tol:.0e})")
    print(f"{name}: OK, relative error {err:.1e} (should be < {tol:.0e})")
    return err


def check_gradient(name: str, f, x, grad, tol: float = 1e-6, n_directions: int = 5,
                   h: float = 1e-5, seed: int = 0) -> float:
    """Check `grad` (the gradient of the scalar function f at x) by finite differences.

    Along a few random directions v, the slope (f(x + h v) - f(x - h v)) / (2h) must equal
    sum(grad * v). `f` receives a float64 copy of x and may not modify it.
    """
    x = np.array(x, dtype=np.float64)
    grad = np.asarray(grad, dtype=np.float64)
    if grad.shape != x.shape:
        raise AssertionError(f"{name}: the gradient has shape {grad.shape}, expected {x.shape} "
                             "(a gradient has the shape of what it is the gradient of)")
    rng = np.random.default_rng(seed)
    numeric, analytic = [], []
    for _ in range(n_directions):
        v = rng.standard_normal(x.shape)
        numeric.append((float(f(x + h * v)) - float(f(x - h * v))) / (2 * h))
        analytic.append(float(np.sum(grad * v)))
    err = rel_error(analytic, numeric)
    if not err < tol:
        raise AssertionError(f"{name}: relative error {err:.1e} against finite differences "
                             f"(should be < {tol:.0e})")
    print(f"{name}: OK, relative error {err:.1e} (should be < {tol:.0e})")
    return err
