"""Exercises 4-6 (weeks 5-6): evaluation code, run on models and digits of our own."""
from __future__ import annotations

import numpy as np

from autograder.tests.midterm import cases, oracle


def test_ex4_confident_predictions(student):
    got = student("ex4")
    k = cases.EX4
    model = cases.mlp(k["model_seed"])
    model[2].weight.data *= 8
    X, _ = cases.digits(k["data_seed"], k["n"])
    for label, threshold in [*((f"whole batch, threshold {t}", t) for t in k["thresholds"]),
                             *((f"batches of {s}, threshold {k['thresholds'][0]}", k["thresholds"][0])
                               for s in k["chunks"])]:
        predicted, confidence = oracle.confident_predictions(model, X, threshold)
        run = got[label]
        problem = (oracle.outputs_problem("the confidence", np.asarray(run["confidence"]).reshape(-1), confidence)
                   or oracle.outputs_problem("the predicted classes", np.asarray(run["predicted"]).reshape(-1),
                                             predicted, atol=0))
        assert problem is None, (
            f"confident_predictions on other digits ({label.split(',')[0]}): {problem}. An image's confidence is "
            "the largest of ITS class probabilities, a softmax over the classes (dim=1), and it must not "
            "depend on the other images of the batch")


def test_ex5_evaluate(student):
    got = student("ex5")
    model, images, labels = cases.ex5_model_and_data()
    before = oracle.state(model)
    loss, accuracy = oracle.evaluate(model, images, labels)
    for size in cases.EX5["batch_sizes"]:
        run = got[f"batches of {size}"]
        assert oracle.weights_problem(run["state"], before, rtol=0) is None, (
            f"evaluate() with batches of {size} changed the model (its batch-norm running statistics): "
            "put the model in evaluation mode, model.eval(), before evaluating")
        assert abs(run["accuracy"] - accuracy) < 1e-9 and abs(run["loss"] - loss) < 1e-4 * max(1.0, loss), (
            f"evaluate() with batches of {size} on a CNN with batch norm, on other digits: the loss or the "
            "accuracy is not the trained model's. In training mode batch norm normalizes with each "
            "batch's own statistics: evaluate in evaluation mode (model.eval())")


def test_ex6_predict(student):
    got = student("ex6")
    k = cases.EX6
    model = cases.trained_mlp(k["model_seed"])
    X, y = cases.digits(k["data_seed"], k["n"])
    predicted, _ = oracle.confident_predictions(model, X, 0.0)
    accuracy = float(np.mean(predicted == y.numpy()))
    for size in k["batch_sizes"]:
        run = got[f"batch_size={size}"]
        problem = oracle.outputs_problem("the predictions", np.asarray(run["predictions"]).reshape(-1), predicted,
                                         atol=0)
        assert problem is None, (
            f"predict on other digits with batch_size={size}: {problem}. The i-th prediction must "
            "be the i-th example's: a loader that shuffles (make_loader does) reorders them")
        assert abs(run["accuracy"] - accuracy) < 1e-6, (
            f"predict on other digits with batch_size={size}: the predictions are right but the accuracy "
            "returned with them is not their accuracy against the dataset's labels, in the dataset's order")
