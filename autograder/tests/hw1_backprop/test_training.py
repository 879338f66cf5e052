"""Part 7 (training): the student's MLP trained by the student's train() on held-out real digits
(scikit-learn's 8x8 digits, never seen in the notebook); accuracy measured here with the labels
that the student's code never received."""
from __future__ import annotations

import math

import numpy as np

from autograder.tests.hw1_backprop import cases

# Measured with the reference solution (20 epochs, MLP [64, 64, 10], lr 0.1, batch 32, 0.1 s on one
# core): test accuracy 0.961 with the seeds of cases.TRAINING (0.958-0.978 over five other
# model/shuffle seeds), and a mean training loss falling from about 1.76 in the first epoch to about
# 0.10 in the last (ratio ~0.06). A train() that does not shuffle the label-sorted training set
# reaches 0.84; one that misaligns images and labels, 0.13. Targets keep a wide margin below the
# reference for other correct implementations.
TARGET_ACCURACY = 0.90
LOSS_RATIO = 0.25  # last epoch's loss must be below this fraction of the first epoch's


def test_training_reaches_accuracy(student):
    got = student("training")
    predictions = np.asarray(got["predictions"])
    labels = cases.digits_test_labels()
    assert predictions.shape == labels.shape, (
        f"predict returned shape {predictions.shape}, expected {labels.shape}: one class index per row")
    if predictions.dtype.kind not in "iu":
        assert np.all(predictions == np.round(predictions)), (
            "predict must return class indices (np.argmax of the logits over axis 1), not scores")
    accuracy = float(np.mean(predictions == labels))
    hp = cases.TRAINING
    assert accuracy >= TARGET_ACCURACY, (
        f"after train(MLP({hp['sizes']}), epochs={hp['epochs']}, lr={hp['lr']}, "
        f"batch_size={hp['batch_size']}) on 1,437 held-out 8x8 digits, the test accuracy is "
        f"{accuracy:.3f}; the target is {TARGET_ACCURACY} (the reference reaches 0.96). Check that "
        "each batch's labels are taken with the same indices as its images, that every epoch "
        "covers all examples in a new shuffled order, and that each step calls backward and then "
        "sgd_step with the fresh parameters")


def test_training_loss_decreases(student):
    losses = list(student("training")["losses"])
    epochs = cases.TRAINING["epochs"]
    assert len(losses) == epochs, f"train returned {len(losses)} losses for {epochs} epochs: one per epoch"
    assert all(math.isfinite(v) for v in losses), (
        "the training loss became nan or inf: is the learning rate applied as -lr * grad?")
    assert losses[-1] < LOSS_RATIO * losses[0], (
        f"the training loss went from {losses[0]:.3f} (epoch 1) to {losses[-1]:.3f} (epoch {epochs}): "
        f"it should fall below {LOSS_RATIO} times its first value. Are the labels of each batch "
        "taken with the same indices as its images?")
