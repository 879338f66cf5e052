"""Exercises 1-3 (weeks 4-5): training loops. The student's function trains a model from our
seed on other real digits with other settings; its final weights must be those of the correct
program (oracle.py), which runs the same steps on the same batches."""
from __future__ import annotations

from autograder.tests.midterm import cases, oracle

EX1 = ("epochs", "micro_batch", "accum_steps", "lr", "seed")
EX2 = ("epochs", "lr", "step_size", "gamma", "batch_size", "seed")
EX3 = ("epochs", "lr", "batch_size", "seed")


# Messages describe the symptom and the kind of input, never a hidden setting or an expected
# value (a student could hard-code them on a resubmission).


def test_ex1_accumulated_training(student):
    got = student("ex1")
    for key, k in cases.EX1.items():
        problem = oracle.weights_problem(got[key], oracle.trained_weights(oracle.train_accumulated, k, EX1))
        assert problem is None, (
            "train_accumulated on other digits with other settings (several optimizer steps, other "
            f"micro-batch sizes and accumulation counts): {problem}. Each step must use the average "
            "gradient of its micro-batches, and nothing from earlier steps: the gradients are cleared "
            "once per optimizer step, not once per micro-batch (and not only once before the loop)")


def test_ex2_scheduled_training(student):
    got = student("ex2")
    for key, k in cases.EX2.items():
        problem = oracle.weights_problem(got[key], oracle.trained_weights(oracle.train_with_schedule, k, EX2))
        assert problem is None, (
            "train_with_schedule on other digits with other settings (other step sizes, decay factors "
            f"and batch sizes): {problem}. The learning rate must be lr for the first step_size epochs, "
            "then multiplied by gamma every step_size epochs: StepLR counts scheduler.step() calls, so "
            "call it once per epoch, after the epoch's batches")


def test_ex3_classifier_training(student):
    got = student("ex3")
    for key, k in cases.EX3.items():
        problem = oracle.weights_problem(got[key], oracle.trained_weights(oracle.train_classifier, k, EX3),
                                         rtol=1e-3)
        assert problem is None, (
            f"train_classifier on other digits with other settings: {problem}, so the loss it "
            "minimises is not the cross-entropy of the model's predictions. nn.CrossEntropyLoss applies "
            "log-softmax itself: give it the logits, not probabilities (and nll_loss wants log-probabilities)")
