"""Exercises 7-8 (week 7): dropout and early stopping."""
from __future__ import annotations

import numpy as np

from autograder.tests.midterm import cases, oracle


def test_ex7_dropout_cnn(student):
    got = student("ex7")["run"]
    k = cases.EX7
    X, _ = cases.digits(k["data_seed"], k["n"], images=True)
    names = {"conv.weight", "conv.bias", "fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"}
    assert set(got["state"]) == names, (
        f"DropoutCNN's layers are {sorted(got['state'])}; expected {sorted(names)}: keep the layers as they were")
    problem = oracle.outputs_problem("in evaluation mode, the output", got["eval_first"],
                                     oracle.dropout_cnn(got["state"], X, k["p"], training=False))
    assert problem is None and np.array_equal(got["eval_first"], got["eval_second"]), (
        f"DropoutCNN (another dropout rate) in evaluation mode: {problem or 'two calls gave different outputs'}. "
        "Evaluation uses every unit: F.dropout drops units whenever training=True, and that is its default")
    import torch

    torch.manual_seed(k["dropout_seed"])
    expected = oracle.dropout_cnn(got["state"], X, k["p"], training=True)
    problem = oracle.outputs_problem("in training mode, the output", got["train"], expected)
    assert problem is None, (
        f"DropoutCNN (another dropout rate) in training mode: {problem}. While training, fc1's output goes through "
        "dropout with probability p (units dropped, the others scaled by 1/(1-p)); turning dropout off "
        "altogether is not the fix")


def test_ex8_early_stopping(student):
    got = student("ex8")["run"]
    k = cases.EX8
    train_data, val_data = cases.ex8_data()
    model, history = oracle.fit_early_stopping(cases.bn_mlp(k["model_seed"]), train_data, val_data,
                                               k["max_epochs"], k["patience"], k["lr"], k["seed"])
    problem = oracle.weights_problem(got["state"], oracle.state(model))
    assert problem is None, (
        "fit_early_stopping on a model with batch norm, other digits and settings: the returned model "
        f"is not the one of the best epoch: {problem}. model.state_dict() holds references to "
        "the live tensors, which training keeps changing: keep a copy of every tensor (buffers too), e.g. "
        "copy.deepcopy(model.state_dict())")
