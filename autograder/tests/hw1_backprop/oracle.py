"""Judge-side helpers of the HW1 suite: PyTorch float64 references and comparisons."""
from __future__ import annotations

import numpy as np
import torch

from autograder.tests.hw1_backprop import cases

torch.set_num_threads(1)


def tensor(x, grad: bool = True) -> torch.Tensor:
    return torch.tensor(np.asarray(x, dtype=np.float64), dtype=torch.float64, requires_grad=grad)


def numpy(t) -> np.ndarray:
    return t.detach().numpy().copy()


def relative(got, expected) -> float:
    """Normwise relative error: max |got - expected| / max |expected|."""
    got = np.asarray(got, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    scale = max(float(np.max(np.abs(expected))) if expected.size else 0.0, 1e-12)
    return float(np.max(np.abs(got - expected))) / scale if expected.size else 0.0


def close(got, expected, tol: float = 1e-7) -> bool:
    got = np.asarray(got, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    if got.shape != expected.shape or not np.all(np.isfinite(got)):
        return False
    return relative(got, expected) <= tol


def compare(what: str, got, expected, tol: float = 1e-7) -> str | None:
    """None if `got` matches `expected`; else a sentence saying how it differs."""
    got = np.asarray(got, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    if got.shape != expected.shape:
        return f"{what} has shape {got.shape}, expected {expected.shape}"
    if not np.all(np.isfinite(got)):
        return f"{what} contains nan or inf"
    err = relative(got, expected)
    if err > tol:
        return f"{what} is wrong (relative error {err:.1e})"
    return None


def graph_grads(spec) -> list[float]:
    """d(output)/d(node) for every node of a `cases` graph, by torch autograd in float64."""
    nodes = []
    for node in spec:
        op = node[0]
        if op == "leaf":
            t = tensor(node[1])
        else:
            ins = [nodes[i] for i in cases.inputs_of(node)]
            if op == "add":
                t = ins[0] + ins[1]
            elif op == "mul":
                t = ins[0] * ins[1]
            elif op == "tanh":
                t = torch.tanh(ins[0])
            elif op == "exp":
                t = torch.exp(ins[0])
            elif op == "relu":
                t = torch.relu(ins[0])
            elif op == "pow":
                t = ins[0] ** node[2]
            else:
                raise ValueError(op)
            t.retain_grad()
        nodes.append(t)
    nodes[-1].backward()
    return [0.0 if t.grad is None else float(t.grad) for t in nodes]
