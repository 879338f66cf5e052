"""What the HW4 judge tests share: reading the probes' typed tensors, the reference's answers."""
from __future__ import annotations

import numpy as np
import torch

INTEGER_TYPES = {"int8", "uint8", "int16", "int32", "int64"}


def value(got: dict, what: str, dtype: str | None = None, shape=None) -> np.ndarray:
    """The array in a probe's typed() record, after checking its type, dtype and shape."""
    if got["type"] != "Tensor":
        raise AssertionError(f"{what} should return a torch tensor, got {got['type']}")
    if dtype is not None and got["dtype"] != dtype:
        raise AssertionError(f"{what} should return torch.{dtype}, got torch.{got['dtype']}")
    if shape is not None and tuple(got["shape"]) != tuple(shape):
        raise AssertionError(f"{what} returned shape {tuple(got['shape'])}, expected {tuple(shape)}")
    return np.asarray(got["value"])


def near_ties(x: torch.Tensor, scale) -> np.ndarray:
    """Where x / scale sits within 1e-4 of a half-integer: round() may honestly go either way."""
    r = (x.double() / torch.as_tensor(scale).double()).numpy()
    return np.abs(np.abs(r - np.floor(r)) - 0.5) < 1e-4


def describe_difference(got: np.ndarray, expected: np.ndarray) -> str:
    bad = np.argwhere(got != expected)
    i = tuple(int(v) for v in bad[0]) if len(bad) else ()
    return (f"{len(bad)} of {expected.size} integers differ, e.g. at index {list(i)}: got {got[i]}, "
            f"expected {expected[i]}") if len(bad) else "no difference"
