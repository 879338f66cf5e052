"""TODO4: SimpleCNN. The expected output is the architecture's forward pass computed here with
the student's own weights, so any initialisation, any layer names and any declaration order are
fine (parameters are matched by shape); the architecture is not."""
from __future__ import annotations

import numpy as np
import torch

from autograder.tests.hw2_cnn import cases, reference

ARCHITECTURE = ("conv 3->32, ReLU, 2x2 max-pool; conv 32->64, ReLU, max-pool; conv 64->128, ReLU, "
                "max-pool (all 3x3 with padding=1); flatten to 2048; Linear 2048->256, ReLU, "
                "Dropout(0.5); Linear 256->10")


def check_shapes(params) -> list:
    """The student's parameters (any names, any declaration order) in the architecture's order,
    matched by shape: every parameter of SimpleCNN has a shape no other one has. Fails with the
    message the notebook's public check shows too."""
    return reference.by_shape([np.asarray(p) for p in params])


def test_model_forward_matches_reference(student):
    got = student("model")["forward"]
    params = check_shapes(got["params"])
    out = np.asarray(got["out"])
    n = len(cases.model_input())
    assert out.shape == (n, 10), f"SimpleCNN maps a batch of images to shape {out.shape}, expected (batch size, 10)"
    assert np.allclose(out, np.asarray(got["out_again"]), atol=1e-6), (
        "in eval() mode SimpleCNN gives different outputs for the same input: dropout is still active. "
        "Use an nn.Dropout(0.5) module (model.eval() switches it off), or F.dropout(x, 0.5, self.training)")
    params = [torch.from_numpy(np.asarray(p, dtype=np.float32)) for p in params]
    with torch.no_grad():
        expected = reference.forward_with(params, cases.model_input()).numpy()
    error = float(np.max(np.abs(out - expected)))
    assert error < 1e-4 * max(1.0, float(np.max(np.abs(expected)))), (
        f"SimpleCNN's output (eval mode) differs from the architecture's by up to {error:.3g}, computed with "
        f"your own weights. The model is: {ARCHITECTURE}. Check the ReLUs, the order of pooling, and the "
        "flatten (x.view(x.size(0), -1) or torch.flatten(x, 1))")


def test_dropout_only_in_training(student):
    got = student("model")["dropout"]
    check_shapes(student("model")["forward"]["params"])
    eval_h, train_h, train_again = (np.asarray(got[k], dtype=np.float64) for k in ("eval", "train", "train_again"))
    assert eval_h.shape == train_h.shape and eval_h.shape[1:] == (256,), (
        f"the last Linear layer receives shape {train_h.shape}, expected (N, 256)")
    active = eval_h > 1e-6  # units the ReLU let through
    kept = active & (np.abs(train_h) > 1e-9)
    dropped = active & ~kept
    fraction = dropped.sum() / max(1, active.sum())
    assert not np.allclose(train_h, train_again), (
        "in train() mode two forward passes give the same hidden units: dropout is not active during "
        "training. Put nn.Dropout(0.5) between the 256-unit layer (after its ReLU) and the output layer")
    assert 0.35 <= fraction <= 0.65, (
        f"in train() mode {fraction:.0%} of the 256 hidden units reaching the output layer are zeroed; "
        "Dropout(0.5) zeroes about half. Is p=0.5, and is the dropout right before the last Linear?")
    assert np.allclose(train_h[kept], 2.0 * eval_h[kept], rtol=1e-4, atol=1e-5), (
        "in train() mode the kept hidden units should be twice their eval() value (dropout scales by "
        "1/(1-p)): apply dropout to the ReLU output of the 256-unit layer, right before the last Linear")
