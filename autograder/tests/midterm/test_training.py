"""Exercises 1-3 (weeks 4-5): training loops. The student's function trains a model from our
seed on other real digits with other settings; its final weights must be those of the correct
program (oracle.py), which runs the same steps on the same batches."""
from __future__ import annotations

from autograder.tests.midterm import cases, oracle

EX1 = ("epochs", "micro_batch", "accum_steps", "lr", "seed")
EX2 = ("epochs", "lr", "step_size", "gamma", "batch_size", "seed")
EX3 = ("epochs", "lr", "batch_size", "seed")


def _settings(k: dict, names) -> str:
    return ", ".join(f"{name}={k[name]}" for name in names)


def test_ex1_accumulated_training(student):
    got = student("ex1")
    for key, k in cases.EX1.items():
        problem = oracle.weights_problem(got[key], oracle.trained_weights(oracle.train_accumulated, k, EX1))
        steps = k["epochs"] * k["n"] // (k["micro_batch"] * k["accum_steps"])
        assert problem is None, (
            f"train_accumulated({_settings(k, EX1)}) on {k['n']} other digits, {steps} optimizer steps: "
            f"{problem}. Each step must use the average gradient of its {k['accum_steps']} micro-batches, "
            "and nothing from earlier steps: the gradients are cleared once per optimizer step, not once "
            "per micro-batch (and not only once before the loop)")


def test_ex2_scheduled_training(student):
    got = student("ex2")
    for key, k in cases.EX2.items():
        problem = oracle.weights_problem(got[key], oracle.trained_weights(oracle.train_with_schedule, k, EX2))
        lrs = ", ".join(f"{k['lr'] * k['gamma'] ** (e // k['step_size']):.3g}" for e in range(k["epochs"]))
        assert problem is None, (
            f"train_with_schedule({_settings(k, EX2)}) on {k['n']} other digits: {problem}. The learning "
            f"rate of the epochs should be {lrs}: StepLR counts scheduler.step() calls, so call it once "
            "per epoch, after the epoch's batches")


def test_ex3_classifier_training(student):
    got = student("ex3")
    for key, k in cases.EX3.items():
        problem = oracle.weights_problem(got[key], oracle.trained_weights(oracle.train_classifier, k, EX3),
                                         rtol=1e-3)
        assert problem is None, (
            f"train_classifier({_settings(k, EX3)}) on {k['n']} other digits: {problem}, so the loss it "
            "minimises is not the cross-entropy of the model's predictions. nn.CrossEntropyLoss applies "
            "log-softmax itself: give it the logits, not probabilities (and nll_loss wants log-probabilities)")
