"""Part 4 (losses): MSE and softmax cross-entropy, values and gradients, against torch float64."""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from autograder.tests.hw1_backprop import cases
from autograder.tests.hw1_backprop.oracle import close, compare, numpy, tensor

UNSTABLE = ("softmax cross-entropy returned nan/inf for logits of 1000: subtract each row's max "
            "before exp (softmax does not change), and compute log-probabilities as "
            "shifted - log(sum(exp(shifted)))")


def reference_mse(k):
    pred = tensor(k["pred"])
    loss = F.mse_loss(pred, tensor(k["target"], grad=False))
    loss.backward()
    return float(loss.detach()), numpy(pred.grad)


def reference_ce(logits, labels):
    z = tensor(logits)
    loss = F.cross_entropy(z, torch.as_tensor(labels, dtype=torch.long))
    loss.backward()
    return float(loss.detach()), numpy(z.grad)


def _value_ok(got: float, expected: float) -> bool:
    return math.isfinite(got) and abs(got - expected) <= 1e-9 * max(1.0, abs(expected))


def test_loss_values(student):
    got = student("losses")
    k = cases.loss_case()

    loss, _ = reference_mse(k)
    g = got["mse"]["loss"]
    diff2 = (k["pred"] - k["target"]) ** 2
    if _value_ok(g, float(diff2.sum())):
        raise AssertionError("mse_loss returned the sum of squared errors: the loss is the MEAN over "
                             "all elements (divide by pred.size)")
    if _value_ok(g, float(diff2.sum(axis=1).mean())):
        raise AssertionError("mse_loss divided by the batch size only: take the mean over all N*D "
                             "elements (pred.size)")
    assert _value_ok(g, loss), "mse_loss returns a wrong value: mean((pred - target) ** 2) over all elements"

    loss, _ = reference_ce(k["logits"], k["labels"])
    g = got["ce"]["loss"]
    n = len(k["labels"])
    if _value_ok(g, loss * n):
        raise AssertionError("softmax_cross_entropy returned the sum over the batch: return the mean")
    assert _value_ok(g, loss), ("softmax_cross_entropy returns a wrong value for ordinary logits: "
                                "mean over the batch of -log softmax(logits)[label], softmax per row")

    loss, _ = reference_ce(k["large_logits"], k["large_labels"])
    g = got["ce_large"]["loss"]
    assert math.isfinite(g), UNSTABLE
    assert _value_ok(g, loss), ("softmax_cross_entropy returns a wrong value for logits of about 1000: "
                                "subtract each row's max, then take log-probabilities "
                                "as shifted - log(sum(exp(shifted)))")


def test_loss_gradients(student):
    got = student("losses")
    k = cases.loss_case()

    _, expected = reference_mse(k)
    dpred = np.asarray(got["mse"]["grad"])
    size, n = k["pred"].size, k["pred"].shape[0]
    if close(dpred, expected * size):
        raise AssertionError(f"MSE gradient is off by a factor of N*D = {size}: divide by the number of "
                             "elements, as the loss does")
    if close(dpred, expected * size / n):
        raise AssertionError(f"MSE gradient is off by a factor of D = {size // n}: the loss divides by "
                             "all N*D elements, so must its gradient")
    if close(dpred, expected / 2):
        raise AssertionError("MSE gradient is half what it should be: d/dp (p - t)^2 = 2 (p - t)")
    problem = compare("mse_loss's gradient", dpred, expected)
    assert problem is None, f"{problem}: dpred = 2 * (pred - target) / pred.size"

    _, expected = reference_ce(k["logits"], k["labels"])
    dlogits = np.asarray(got["ce"]["grad"])
    n = len(k["labels"])
    if close(dlogits, expected * n):
        raise AssertionError(f"softmax cross-entropy gradient is N = {n} times too large: the loss is "
                             "a mean over the batch, so divide (softmax - onehot) by N")
    problem = compare("softmax_cross_entropy's gradient", dlogits, expected)
    assert problem is None, f"{problem}: dlogits = (softmax(logits) - onehot(labels)) / N"

    _, expected = reference_ce(k["large_logits"], k["large_labels"])
    dlogits = np.asarray(got["ce_large"]["grad"])
    assert np.all(np.isfinite(dlogits)), UNSTABLE
    problem = compare("softmax_cross_entropy's gradient for logits of about 1000", dlogits, expected)
    assert problem is None, f"{problem}: subtract each row's max before exp"
