"""Part 3 (layers): Linear, ReLU and Sigmoid, forward and backward, against torch float64."""
from __future__ import annotations

import numpy as np
import torch

from autograder.tests.hw1_backprop import cases
from autograder.tests.hw1_backprop.oracle import close, compare, numpy, tensor


ACCUMULATES = ("{layer}.backward adds this call's gradients to those of the previous call: after "
               "two backward passes {what} is the sum of both. Each backward must set the gradients "
               "from its own dout alone (self.dW = ..., not self.dW += ...); only a Value used twice "
               "inside ONE graph accumulates")


def reference_linear(k, dout="dout"):
    x, W, b = tensor(k["x"]), tensor(k["W"]), tensor(k["b"])
    out = x @ W + b
    out.backward(tensor(k[dout], grad=False))
    return {"out": numpy(out), "dx": numpy(x.grad), "dW": numpy(W.grad), "db": numpy(b.grad)}


def reference_activation(fn, z, dout):
    z = tensor(z)
    out = fn(z)
    out.backward(tensor(dout, grad=False))
    return numpy(out), numpy(z.grad)


def test_layers_forward(student):
    got = student("layers")
    k = cases.layer_case()
    ref = reference_linear(k)

    out = got["linear_out"]
    if np.shape(out) == ref["out"].shape and close(out, k["x"] @ k["W"]):
        raise AssertionError("Linear.forward forgot the bias: out = x @ W + b")
    problem = compare("Linear.forward's output", out, ref["out"])
    assert problem is None, f"{problem}: out = x @ W + b, with W of shape (in_features, out_features)"

    relu_ref, _ = reference_activation(torch.relu, k["z"], k["dout_act"])
    problem = compare("ReLU.forward's output", got["ReLU_out"], relu_ref)
    assert problem is None, f"{problem}: ReLU(x) = max(0, x) elementwise"

    sig_ref, _ = reference_activation(torch.sigmoid, k["s"], k["dout_act"])
    out = got["Sigmoid_out"]
    if np.shape(out) == sig_ref.shape and close(out, 1.0 / (1.0 + np.exp(k["s"]))):
        raise AssertionError("Sigmoid.forward computes 1 / (1 + exp(x)): the exponent must be -x")
    if np.shape(out) == sig_ref.shape and close(out, 1.0 + np.exp(-k["s"])):
        raise AssertionError("Sigmoid.forward computes 1 / 1 + exp(-x), that is 1 + exp(-x): put the "
                             "denominator in parentheses, 1 / (1 + exp(-x))")
    problem = compare("Sigmoid.forward's output", out, sig_ref)
    assert problem is None, f"{problem}: sigmoid(x) = 1 / (1 + exp(-x))"


def test_layers_backward(student):
    got = student("layers")
    k = cases.layer_case()
    ref = reference_linear(k)
    grads = got["linear_grads"]

    before = reference_linear(k, "dout_before")
    problem = compare("Linear.backward's dx", grads["dx"], ref["dx"])
    assert problem is None, f"{problem}: dx = dout @ W.T"
    for name in ("dW", "db"):
        if close(grads[name], ref[name] + before[name]):
            raise AssertionError(ACCUMULATES.format(layer="Linear", what=name))
    dW = np.asarray(grads["dW"])
    if dW.shape == ref["dW"].T.shape and dW.shape != ref["dW"].shape:
        raise AssertionError(f"Linear.backward: dW has shape {dW.shape} but W has shape "
                             f"{ref['dW'].shape}: a gradient has the shape of its parameter (x.T @ dout)")
    problem = compare("Linear.backward's dW", dW, ref["dW"])
    assert problem is None, f"{problem}: dW = x.T @ dout, with x the input saved by forward"

    db = np.asarray(grads["db"])
    dout = k["dout"]
    if db.shape == dout.shape:
        raise AssertionError(f"Linear.backward: db has shape {db.shape}, expected {ref['db'].shape}: "
                             "sum the upstream gradient over the batch (axis 0)")
    if close(db, dout.mean(axis=0)):
        raise AssertionError("Linear.backward: db is the mean of dout over the batch: the bias is "
                             "used by every row, so its gradient is the SUM over the batch (axis 0)")
    if close(db, dout[0]):
        raise AssertionError("Linear.backward: db is the first row of dout only: sum the upstream "
                             "gradient over the batch (axis 0)")
    problem = compare("Linear.backward's db", db, ref["db"])
    assert problem is None, f"{problem}: did you sum the upstream gradient over the batch (axis 0)?"

    _, relu_dx = reference_activation(torch.relu, k["z"], k["dout_act"])
    dx = got["ReLU_dx"]
    if close(dx, k["dout_act"]):
        raise AssertionError("ReLU.backward passes dout through everywhere: it must be 0 where x <= 0")
    problem = compare("ReLU.backward's dx", dx, relu_dx)
    assert problem is None, f"{problem}: dx = dout where x > 0, and 0 elsewhere"

    s_ref, sig_dx = reference_activation(torch.sigmoid, k["s"], k["dout_act"])
    dx = got["Sigmoid_dx"]
    if close(dx, k["dout_act"] * s_ref):
        raise AssertionError("Sigmoid.backward returns dout * s: the derivative is s * (1 - s)")
    problem = compare("Sigmoid.backward's dx", dx, sig_dx)
    if problem and not close(got["Sigmoid_out"], s_ref):
        problem += " (and Sigmoid.forward is wrong too: backward uses the output forward saved)"
    assert problem is None, f"{problem}: dx = dout * s * (1 - s), with s the output saved by forward"


def reference_stack(k, dout):
    x = tensor(k["x2"])
    W1, b1, W2, b2 = (tensor(k[n]) for n in ("W1", "b1", "W2", "b2"))
    out = torch.sigmoid(torch.relu(x @ W1 + b1) @ W2 + b2)
    out.backward(tensor(k[dout], grad=False))
    return out, x, W1, b1, W2, b2


def test_layer_stack_matches_torch(student):
    got = student("layers")["stack"]
    k = cases.layer_case()
    out, x, W1, b1, W2, b2 = reference_stack(k, "dout2")
    _, _, W1_, b1_, W2_, b2_ = reference_stack(k, "dout2_before")
    stack = "in the stack Linear(5, 8) -> ReLU -> Linear(8, 3) -> Sigmoid, run forward and backward twice"
    for key, now, earlier in (("dW1", W1, W1_), ("db1", b1, b1_), ("dW2", W2, W2_), ("db2", b2, b2_)):
        if close(got[key], numpy(now.grad) + numpy(earlier.grad)):
            raise AssertionError(f"{stack}: " + ACCUMULATES.format(layer="Linear", what=key[:2]))
    for name, key, expected in (("the output", "out", out), ("dW of the second Linear", "dW2", W2.grad),
                                ("db of the second Linear", "db2", b2.grad),
                                ("dW of the first Linear", "dW1", W1.grad),
                                ("db of the first Linear", "db1", b1.grad), ("dx", "dx", x.grad)):
        problem = compare(name, got[key], numpy(expected))
        assert problem is None, (
            f"{stack}, {problem}: each layer's forward must save its own input/output, and each "
            "backward must return the gradient for the layer below it")
