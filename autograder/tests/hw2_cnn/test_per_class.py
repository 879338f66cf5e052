"""TODO6: the confusion matrix (rows = true class, columns = predicted class) and per-class
accuracy, from the model's outputs computed here. The model has dropout and comes in train()
mode: the probe records the mode and whether gradients were on at every forward pass."""
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
    seen = got["seen"]
    cm = np.asarray(got["matrix"])
    assert seen, "confusion_matrix never ran the model it was given"
    assert not any(mode[0] for mode in seen), (
        "confusion_matrix ran the model in train() mode: call model.eval() first, so that dropout is off "
        "(with dropout on, the predictions are random)")
    assert not any(mode[1] for mode in seen), (
        "confusion_matrix's forward passes built a graph for gradients: run them inside `with torch.no_grad():`")
    expected = expected_matrix()
    assert cm.shape == expected.shape, (
        f"confusion_matrix returned shape {cm.shape}, expected (num_classes, num_classes)")
    if not np.array_equal(cm, expected):
        if np.array_equal(cm, expected.T):
            raise AssertionError("the confusion matrix is transposed: row = TRUE class, column = PREDICTED class "
                                 "(cm[label, prediction] += 1)")
        if int(cm.sum()) != int(expected.sum()):
            raise AssertionError("confusion_matrix does not count every sample of the loader exactly once: count "
                                 "every sample of every batch (the last batch is smaller)")
        raise AssertionError("confusion_matrix counts the samples in the wrong cells: cm[true label, predicted "
                             "class] += 1, where the predicted class is the argmax of the model's outputs")
    return cm


def test_confusion_matrix(student):
    check_matrix(student("per_class"))


def test_per_class_accuracy(student):
    got = student("per_class")
    check_matrix(got)
    expected = expected_matrix()
    recall = np.diag(expected) / expected.sum(axis=1)
    acc = np.asarray(got["per_class"], dtype=np.float64)
    assert acc.shape == (cases.NUM_CLASSES,), f"per_class_accuracy returned shape {acc.shape}, expected (num_classes,)"
    if not np.allclose(acc, recall, atol=1e-6):
        precision = np.diag(expected) / np.maximum(1, expected.sum(axis=0))
        hint = (": that is correct / predicted per class; divide by the row sums, the samples of each TRUE class"
                if np.allclose(acc, precision, atol=1e-6) else "")
        raise AssertionError("per_class_accuracy is not the diagonal divided by each row's sum" + hint)
