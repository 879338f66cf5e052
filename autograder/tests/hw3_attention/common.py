"""Judge-side helpers shared by the HW3 tests."""
from __future__ import annotations

import numpy as np


def value_of(got: dict, what: str, shape=None, dtype: str | None = None) -> np.ndarray:
    """The array of a typed probe value, after checking that it is a tensor of the right shape/dtype."""
    assert got["type"] == "Tensor", f"{what} should be a torch.Tensor, got {got['type']}"
    if shape is not None:
        assert tuple(got["shape"]) == tuple(shape), f"{what} has shape {tuple(got['shape'])}, expected {tuple(shape)}"
    if dtype is not None:
        assert got["dtype"] == dtype, f"{what} has dtype {got['dtype']}; the input was {dtype}: keep the input's dtype"
    return np.asarray(got["value"], dtype=np.float64)


def max_error(a, b) -> float:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.max(np.abs(a - b))) if a.size else 0.0


def tolerance(dtype: str) -> float:
    return 1e-9 if dtype == "float64" else 2e-5
