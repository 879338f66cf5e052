"""Part 5 (mlp_sgd): the MLP's forward, backward and parameters(), and one SGD step, against
torch float64 with the same weights."""
from __future__ import annotations

import numpy as np
import torch

from autograder.tests.hw1_backprop import cases
from autograder.tests.hw1_backprop.oracle import close, compare, numpy, tensor

ORDER = "W1, b1, W2, b2, W3, b3"


def reference_mlp(k):
    """Linear -> ReLU -> Linear -> ReLU -> Linear in torch: output, dx, params and grads."""
    x = tensor(k["x"])
    params = []
    h = x
    for i, (W, b) in enumerate(k["weights"]):
        W, b = tensor(W), tensor(b)
        params += [W, b]
        h = h @ W + b
        if i < len(k["weights"]) - 1:
            h = torch.relu(h)
    h.backward(tensor(k["dout"], grad=False))
    return {"out": numpy(h), "dx": numpy(x.grad), "params": [numpy(p) for p in params],
            "grads": [numpy(p.grad) for p in params]}


def test_mlp_gradients_match_torch(student):
    got = student("mlp")["mlp"]
    k = cases.mlp_case()
    ref = reference_mlp(k)
    names = ORDER.split(", ")

    problem = compare("MLP.forward's output", got["out"], ref["out"])
    assert problem is None, (f"{problem} for MLP({k['sizes']}): run x through every layer in order "
                             "(Linear -> ReLU -> Linear -> ReLU -> Linear)")
    n = len(got["params"])
    assert n == len(ref["params"]), (
        f"MLP({k['sizes']}).parameters() returned {n} (param, grad) pairs, expected "
        f"{len(ref['params'])}: one (W, dW) and one (b, db) pair for each Linear, in the order {ORDER}")
    for name, p, e in zip(names, got["params"], ref["params"], strict=True):
        assert np.shape(p) == e.shape and close(p, e, 0.0), (
            f"MLP.parameters(): the pair for {name} does not hold that layer's {name[0]} "
            f"(shape {np.shape(p)}, expected {e.shape}): return the pairs in the order {ORDER}")
    for name, g, e in zip(names, got["grads"], ref["grads"], strict=True):
        problem = compare(f"the gradient of {name}", g, e)
        assert problem is None, (
            f"MLP: {problem}: backward must run dout through the layers in reverse order, feeding "
            "each layer's dx to the layer before it, and parameters() must pair each parameter with "
            "its gradient from that backward")
    problem = compare("MLP.backward's returned dx", got["dx"], ref["dx"])
    assert problem is None, f"{problem}: backward returns the gradient with respect to the input x"


def test_sgd_step(student):
    got = student("sgd")
    k = cases.mlp_case()
    lr = k["lr"]
    for (p0, g), p in zip(k["sgd_pairs"], got["plain"], strict=True):
        if close(p, p0, 0.0):
            raise AssertionError("sgd_step did not change the parameters: update them in place with "
                                 "p -= lr * g (p = p - lr * g only rebinds the local name p)")
        if close(p, p0 + lr * g):
            raise AssertionError("sgd_step adds the gradient: gradient descent subtracts it "
                                 "(p -= lr * g)")
        if close(p, p0 - g):
            raise AssertionError("sgd_step ignores the learning rate: p -= lr * g")
        problem = compare("the parameter after sgd_step", p, p0 - lr * g)
        assert problem is None, f"{problem}: each parameter moves by -lr * grad"

    ref = reference_mlp(k)
    names = ORDER.split(", ")
    expected = [p - lr * g for p, g in zip(ref["params"], ref["grads"], strict=True)]
    # the probe returns the model's arrays as W1, W2, W3, b1, b2, b3
    order = names[0::2] + names[1::2]
    expected = expected[0::2] + expected[1::2]
    for name, p, e, p0 in zip(order, got["model"], expected, ref["params"][0::2] + ref["params"][1::2], strict=True):
        if close(p, p0, 0.0):
            raise AssertionError(
                f"after one SGD step on the MLP, {name} did not change: MLP.parameters() must return "
                f"every W and b of every Linear (in the order {ORDER}), and sgd_step must update "
                "those arrays in place")
        problem = compare(f"{name} after one SGD step on the MLP", p, e)
        assert problem is None, (f"{problem}: it should be {name} - lr * d{name}, with the gradient "
                                 "of the last backward (see the MLP gradient check too)")
