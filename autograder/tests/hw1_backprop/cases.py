"""Inputs of the HW1 hidden suite, regenerated identically on both sides.

The probes (in the student's sandbox) feed these inputs to the student's code; the tests (in
the judge) rebuild the same inputs and compute the expected results themselves, with PyTorch in
float64 or plain math. Everything here is an *input*: no expected value lives in this file.
Seeds and shapes differ from the notebook's public checks.
"""
from __future__ import annotations

import functools
import importlib.util
import math
from pathlib import Path

import numpy as np

# ------------------------------------------------------------------ Part 1: Value operations

# Each expression works on Values and on torch scalar tensors alike.
VALUE_OPS = [
    ("a + b", lambda a, b, c: a + b),
    ("a * b", lambda a, b, c: a * b),
    ("a ** 2", lambda a, b, c: a ** 2),
    ("a ** 3", lambda a, b, c: a ** 3),
    ("b ** -1", lambda a, b, c: b ** -1),
    ("b ** -2", lambda a, b, c: b ** -2),
    ("c ** 0.5", lambda a, b, c: c ** 0.5),
    ("c ** 1.5", lambda a, b, c: c ** 1.5),
    ("a.exp()", lambda a, b, c: a.exp()),
    ("b.tanh()", lambda a, b, c: b.tanh()),
    ("a.relu()", lambda a, b, c: a.relu()),
    ("b.relu()", lambda a, b, c: b.relu()),
    ("-a", lambda a, b, c: -a),
    ("a - b", lambda a, b, c: a - b),
    ("a / b", lambda a, b, c: a / b),
    ("c / a", lambda a, b, c: c / a),
]

# One plain Python number on either side of the operator.
PLAIN_NUMBER_OPS = [
    ("2 * v", lambda v: 2 * v),
    ("v * 3", lambda v: v * 3),
    ("v + 1.5", lambda v: v + 1.5),
    ("2 + v", lambda v: 2 + v),
    ("v - 1", lambda v: v - 1),
    ("1 - v", lambda v: 1 - v),
    ("2 / v", lambda v: 2 / v),
    ("v / 4", lambda v: v / 4),
    ("v ** 3", lambda v: v ** 3),
    ("3 - 2 * v", lambda v: 3 - 2 * v),
    ("1 / (1 + v * v)", lambda v: 1 / (1 + v * v)),
]


def value_points() -> list[tuple[float, float, float]]:
    """(a, b, c): a and b of either sign, away from 0; c > 0 (for fractional powers)."""
    rng = np.random.default_rng(90210)
    points = []
    for _ in range(5):
        a, b = rng.uniform(0.3, 1.8, size=2) * rng.choice([-1.0, 1.0], size=2)
        c = rng.uniform(0.5, 2.0)
        points.append((float(a), float(b), float(c)))
    points[0] = (abs(points[0][0]), -abs(points[0][1]), points[0][2])  # both signs for relu
    points[1] = (-abs(points[1][0]), abs(points[1][1]), points[1][2])
    return points


def plain_number_points() -> list[float]:
    return [0.7312, -1.4421, 2.1875]


# ------------------------------------------------------------------ Part 2: graphs for backward
#
# A graph is a list of nodes in creation order; each node refers to earlier nodes by index:
#   ("leaf", x) | ("add", i, j) | ("mul", i, j) | ("tanh", i) | ("exp", i) | ("relu", i)
#   | ("pow", i, n)
# The output is the last node. `i == j` is allowed: a node used twice by one operation.

UNARY = {"tanh", "exp", "relu", "pow"}


def graph_values(spec) -> list[float]:
    """The forward values of a graph (used to keep generated graphs well-conditioned)."""
    vals: list[float] = []
    for node in spec:
        op = node[0]
        if op == "leaf":
            vals.append(float(node[1]))
        elif op == "add":
            vals.append(vals[node[1]] + vals[node[2]])
        elif op == "mul":
            vals.append(vals[node[1]] * vals[node[2]])
        elif op == "tanh":
            vals.append(math.tanh(vals[node[1]]))
        elif op == "exp":
            vals.append(math.exp(vals[node[1]]))
        elif op == "relu":
            vals.append(max(0.0, vals[node[1]]))
        elif op == "pow":
            vals.append(vals[node[1]] ** node[2])
        else:
            raise ValueError(op)
    return vals


def inputs_of(node) -> list[int]:
    if node[0] == "leaf":
        return []
    if node[0] in UNARY:
        return [node[1]]
    return [node[1], node[2]]


def path_count(spec) -> int:
    """How many output-to-node paths the graph has: the work of a backward without memory."""
    paths = [0] * len(spec)
    paths[-1] = 1
    for k in range(len(spec) - 1, -1, -1):
        for i in inputs_of(spec[k]):
            paths[i] += paths[k]
    return sum(paths)


def _acceptable(spec) -> bool:
    try:
        vals = graph_values(spec)
    except (OverflowError, ZeroDivisionError):
        return False
    if any(abs(v) > 30 for v in vals):
        return False
    for node in spec:  # relu exactly at its kink has no derivative
        if node[0] == "relu" and abs(vals[node[1]]) < 1e-3:
            return False
    used = [0] * len(spec)
    for node in spec:
        for i in inputs_of(node):
            used[i] += 1
    reused = sum(1 for u in used if u >= 2)
    return reused >= 3 and path_count(spec) <= 20000


def random_graph(seed: int, n_leaves: int = 4, n_ops: int = 32):
    """A random computation graph with reused nodes, deterministic in `seed`."""
    for attempt in range(1000):
        rng = np.random.default_rng(seed * 1000 + attempt)
        spec: list[tuple] = [("leaf", float(rng.uniform(-1.5, 1.5))) for _ in range(n_leaves)]
        for _ in range(n_ops):
            op = str(rng.choice(["add", "mul", "mul", "tanh", "exp", "relu", "pow"]))
            i = int(rng.integers(max(0, len(spec) - 6), len(spec)))  # mostly recent nodes
            j = int(rng.integers(0, len(spec)))  # anything, leaves included
            if op in ("add", "mul"):
                spec.append((op, i, j))
            elif op == "pow":
                spec.append((op, i, int(rng.choice([2, 3]))))
            else:
                spec.append((op, i))
        # the output uses the last three nodes and a leaf again
        spec.append(("add", len(spec) - 1, len(spec) - 2))
        spec.append(("mul", len(spec) - 1, len(spec) - 4))
        spec.append(("add", len(spec) - 1, 0))
        if _acceptable(spec):
            return spec
    raise RuntimeError("no acceptable graph")


RANDOM_GRAPH_SEEDS = [31, 32, 33, 34, 35, 36]


def reused_node_graphs():
    """Small graphs where one node feeds several operations (the gradient must accumulate)."""
    return [
        [("leaf", 1.7), ("mul", 0, 0)],  # a * a
        [("leaf", -0.6), ("add", 0, 0)],  # a + a
        [("leaf", 0.8), ("leaf", -1.3), ("mul", 0, 1), ("add", 2, 0)],  # a * b + a
        # e = tanh(a * b); e * e + e
        [("leaf", 0.9), ("leaf", 0.4), ("mul", 0, 1), ("tanh", 2), ("mul", 3, 3), ("add", 4, 3)],
        # diamond: c = a * b; tanh(c) * exp(c)
        [("leaf", 0.5), ("leaf", -0.7), ("mul", 0, 1), ("tanh", 2), ("exp", 2), ("mul", 3, 4)],
        # a ** 3 * a + a
        [("leaf", 1.1), ("pow", 0, 3), ("mul", 1, 0), ("add", 2, 0)],
    ]


def deep_chain():
    """x_{k+1} = tanh(x_k * w_{k mod 3}) for 120 steps, with skip connections x_{k+1} += x_{k-12}
    at four steps: about 250 nodes deep, three shared weights used 40 times each. The weights keep
    each step's derivative near 1, so the gradient does not vanish along the chain and a skip
    target that passes its gradient on before the long path has reached it is visibly wrong."""
    spec: list[tuple] = [("leaf", 0.6), ("leaf", 1.05), ("leaf", 0.98), ("leaf", 1.03)]
    xs = [0]  # index of x_k
    for k in range(120):
        spec.append(("mul", xs[-1], 1 + k % 3))
        spec.append(("tanh", len(spec) - 1))
        if k in (30, 60, 90, 110):
            spec.append(("add", len(spec) - 1, xs[k - 12]))
        xs.append(len(spec) - 1)
    return spec


# ------------------------------------------------------------------ Part 3: layers

def layer_case() -> dict:
    rng = np.random.default_rng(4242)
    case = {
        "x": rng.standard_normal((7, 5)),
        "W": rng.standard_normal((5, 4)),
        "b": rng.standard_normal(4),
        "dout": rng.standard_normal((7, 4)),
        "z": rng.standard_normal((7, 6)),
        "s": 3.0 * rng.standard_normal((7, 6)),
        "dout_act": rng.standard_normal((7, 6)),
        # a stack Linear(5, 8) -> ReLU -> Linear(8, 3) -> Sigmoid
        "x2": rng.standard_normal((6, 5)),
        "W1": rng.standard_normal((5, 8)) * 0.7,
        "b1": rng.standard_normal(8) * 0.5,
        "W2": rng.standard_normal((8, 3)) * 0.7,
        "b2": rng.standard_normal(3) * 0.5,
        "dout2": rng.standard_normal((6, 3)),
        # an earlier backward through the same layers, before the one that is judged: a layer
        # must set its gradients from each call's dout alone, not add to the last call's
        "dout_before": rng.standard_normal((7, 4)),
        "dout2_before": rng.standard_normal((6, 3)),
    }
    case["z"][np.abs(case["z"]) < 1e-3] = 0.5  # keep away from the kink of ReLU
    return case


# ------------------------------------------------------------------ Part 4: losses

def loss_case() -> dict:
    rng = np.random.default_rng(5151)
    large = rng.standard_normal((5, 4)) * 400.0
    large[0] = [1000.0, 0.0, -1000.0, 500.0]
    large[1] = [-1000.0, 1000.0, 999.0, 0.0]
    large[2] = [1000.0, 1000.0, 1000.0, 1000.0]
    return {
        "pred": rng.standard_normal((9, 3)),
        "target": rng.standard_normal((9, 3)),
        "logits": 2.0 * rng.standard_normal((11, 6)),
        "labels": rng.integers(0, 6, size=11),
        "large_logits": large,
        "large_labels": np.array([2, 0, 3, 1, 2]),
    }


# ------------------------------------------------------------------ Part 5: MLP and SGD

def mlp_case() -> dict:
    rng = np.random.default_rng(6262)
    sizes = [6, 9, 7, 4]
    weights = [(rng.standard_normal((m, n)) * 0.6, rng.standard_normal(n) * 0.3)
               for m, n in zip(sizes[:-1], sizes[1:])]
    return {
        "sizes": sizes,
        "weights": weights,
        "x": rng.standard_normal((5, 6)),
        "dout": rng.standard_normal((5, 4)),
        "lr": 0.05,
        "sgd_pairs": [(rng.standard_normal((3, 2)), rng.standard_normal((3, 2))),
                      (rng.standard_normal(4), rng.standard_normal(4))],
    }


# ------------------------------------------------------------------ Part 6: gradient checking

def numgrad_case():
    """A hidden smooth function (NumPy; the tests rebuild it in torch) and a point."""
    rng = np.random.default_rng(7373)
    A = rng.standard_normal((4, 3)) * 0.8
    x = rng.uniform(0.4, 1.4, size=(3, 4)) * rng.choice([-1.0, 1.0], size=(3, 4))

    def f(v):
        return np.sum(np.exp(0.5 * (v @ A))) + np.sum(v ** 4) / 4.0

    return f, A, x


def gradcheck_case():
    """Another function, with its analytic gradient given as an INPUT to gradient_check, and a
    deliberately wrong copy of that gradient (one entry off by 1% of the largest entry)."""
    rng = np.random.default_rng(8484)
    B = rng.standard_normal((5, 2))
    x = rng.uniform(0.5, 1.5, size=(4, 5)) * rng.choice([-1.0, 1.0], size=(4, 5))

    def f(v):
        return np.sum(np.tanh(v @ B) ** 2) + np.sum(v ** 3) / 3.0

    def grad(v):
        t = np.tanh(v @ B)
        return (2 * t * (1 - t ** 2)) @ B.T + v ** 2

    wrong = grad(x)
    wrong[2, 3] += 0.01 * np.abs(wrong).max()
    return f, B, x, grad(x), wrong


# ------------------------------------------------------------------ Part 7: training

TRAINING = {"sizes": [64, 64, 10], "epochs": 20, "lr": 0.1, "batch_size": 32, "model_seed": 17,
            "train_seed": 23}


def _digits() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's 1,797 real 8x8 digits, read from the CSV that scikit-learn ships (the file
    load_digits() reads; importing sklearn.datasets would cost a second), scaled to [0, 1] and
    shuffled with a hidden seed, 80/20 train/test."""
    spec = importlib.util.find_spec("sklearn")
    path = Path(list(spec.submodule_search_locations)[0]) / "datasets" / "data" / "digits.csv.gz"
    table = np.loadtxt(path, delimiter=",", dtype=np.float64)
    X, y = table[:, :-1] / 16.0, table[:, -1].astype(np.int64)
    order = np.random.default_rng(2718).permutation(len(X))
    return X[order], y[order]


N_TRAIN = 1437


@functools.lru_cache(maxsize=1)  # read by probes.prepare() before the file is out of the student's sight
def digits_inputs():
    """What the student's code may see: training images and labels, and test images only.

    The training set is handed over SORTED BY LABEL (like the notebook's MNIST file): a train()
    that does not shuffle sees all the 0s, then all the 1s, ... and forgets the early classes."""
    X, y = _digits()
    by_label = np.argsort(y[:N_TRAIN], kind="stable")
    return X[:N_TRAIN][by_label], y[:N_TRAIN][by_label], X[N_TRAIN:]


def digits_test_labels() -> np.ndarray:
    """Judge side only: the labels of the held-out test images."""
    return _digits()[1][N_TRAIN:]


# The bookkeeping of train(), seen through a stand-in model: `spy_case()` gives train() n
# examples whose first feature is the example's index, and the stand-in returns fixed logits for
# each index and learns nothing, so every batch's loss is known in advance. The probe records
# which examples each update step used and the loss of each step; the judge checks that every
# epoch visits each example once, in a new order, and that each epoch's loss is the mean over
# its examples.
SPY = {"n": 90, "classes": 5, "epochs": 3, "batch_size": 16, "seed": 41}


def spy_case() -> dict:
    rng = np.random.default_rng(9191)
    n, classes = SPY["n"], SPY["classes"]
    X = np.column_stack([np.arange(n, dtype=np.float64), rng.uniform(0.0, 1.0, size=(n, 3))])
    return {"X": X, "y": rng.integers(0, classes, size=n),
            "logits": rng.normal(0.0, 1.5, size=(n, classes))}
