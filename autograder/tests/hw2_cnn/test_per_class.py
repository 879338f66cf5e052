"""TODO6: the confusion matrix (rows = true class, columns = predicted class) and per-class
accuracy, from the model's outputs computed here."""
from __future__ import annotations

import numpy as np
import torch

from autograder.tests.hw2_cnn import cases


def expected_matrix() -> np.ndarray:
    net, x, y = cases.confusion_case()
    net.eval()
    with torch.no_grad():
        pred = net(x).argmax(1).numpy()
    cm = np.zeros((cases.NUM_CLASSES, cases.NUM_CLASSES), dtype=np.int64)
    np.add.at(cm, (y.numpy(), pred), 1)
    return cm


def check_matrix(got) -> np.ndarray:
    cm = np.asarray(got)
    expected = expected_matrix()
    assert cm.shape == expected.shape, f"confusion_matrix returned shape {cm.shape}, expected (10, 10)"
    if not np.array_equal(cm, expected):
        if np.array_equal(cm, expected.T):
            raise AssertionError("the confusion matrix is transposed: row = TRUE class, column = PREDICTED class "
                                 "(cm[label, prediction] += 1)")
        raise AssertionError(f"confusion_matrix counts {int(cm.sum())} predictions, {int(np.trace(cm))} correct; "
                             f"expected {int(expected.sum())} and {int(np.trace(expected))}: count every sample "
                             "of every batch at cm[true label, predicted class]")
    return cm


def test_confusion_matrix(student):
    check_matrix(student("per_class")["matrix"])


def test_per_class_accuracy(student):
    got = student("per_class")
    check_matrix(got["matrix"])
    expected = expected_matrix()
    recall = np.diag(expected) / expected.sum(axis=1)
    acc = np.asarray(got["per_class"], dtype=np.float64)
    assert acc.shape == (cases.NUM_CLASSES,), f"per_class_accuracy returned shape {acc.shape}, expected (10,)"
    if not np.allclose(acc, recall, atol=1e-6):
        precision = np.diag(expected) / np.maximum(1, expected.sum(axis=0))
        hint = (" (that is correct / predicted per class: divide by the row sums, the samples of each TRUE class)"
                if np.allclose(acc, precision, atol=1e-6) else "")
        raise AssertionError(f"per_class_accuracy gives {np.round(acc, 3).tolist()}, expected "
                             f"{np.round(recall, 3).tolist()}: the diagonal divided by each row's sum{hint}")
