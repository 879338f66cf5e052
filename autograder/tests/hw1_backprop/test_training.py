"""Part 7 (training): the student's MLP trained by the student's train() on held-out real digits
(scikit-learn's 8x8 digits, never seen in the notebook); accuracy measured here with the labels
that the student's code never received."""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

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


def _epochs(steps: list[list[int]], epochs: int, n: int, batch_size: int) -> list[list[list[int]]]:
    """The update steps of train() on the stand-in model, cut into epochs; AssertionError with
    the cause when they do not make `epochs` epochs of one pass over the examples each."""
    per_epoch = math.ceil(n / batch_size)
    sizes = [len(step) for step in steps]
    if len(steps) == 0:
        raise AssertionError("train never called model.backward: each batch needs forward, loss, "
                             "backward and sgd_step")
    if len(steps) != epochs * per_epoch or any(size > batch_size for size in sizes):
        dropped = (len(steps) == epochs * (n // batch_size) and n % batch_size
                   and all(size == batch_size for size in sizes))
        raise AssertionError(
            "train did not make one update step per batch of every epoch"
            + (": it drops the last, smaller batch of each epoch, so some examples are never "
               "trained on; keep it (range(0, len(X), batch_size))" if dropped else
               ": cut each epoch's shuffled indices into batches of batch_size (the last one may "
               "be smaller) and make one forward/backward/sgd_step per batch"))
    chunks = [steps[e * per_epoch:(e + 1) * per_epoch] for e in range(epochs)]
    for chunk in chunks:
        seen = sorted(i for step in chunk for i in step)
        if seen != list(range(n)):
            raise AssertionError(
                "an epoch of train did not visit every training example exactly once: take a "
                "permutation of all the indices and cut it into consecutive batches (sampling "
                "batches at random repeats some examples and skips others)")
    return chunks


def _reference_losses(chunk, k) -> list[float]:
    losses = []
    for step in chunk:
        logits = torch.tensor(k["logits"][step], dtype=torch.float64)
        labels = torch.as_tensor(k["y"][step], dtype=torch.long)
        losses.append(float(F.cross_entropy(logits, labels)))
    return losses


def test_training_loss_history(student):
    losses = list(student("training")["losses"])
    epochs = cases.TRAINING["epochs"]
    assert len(losses) == epochs, f"train returned {len(losses)} losses for {epochs} epochs: one per epoch"
    assert all(math.isfinite(v) for v in losses), (
        "the training loss became nan or inf: is the learning rate applied as -lr * grad?")

    # The bookkeeping, on a stand-in model whose loss for every batch is known in advance.
    got = student("training_bookkeeping")
    k, hp = cases.spy_case(), cases.SPY
    history = list(got["history"])
    assert len(history) == hp["epochs"], (
        f"train returned {len(history)} losses for {hp['epochs']} epochs: one per epoch")
    chunks = _epochs(got["steps"], hp["epochs"], hp["n"], hp["batch_size"])
    orders = [[i for step in chunk for i in step] for chunk in chunks]
    assert orders[0] != sorted(orders[0]), (
        "train visits the examples in the order it was given them: shuffle them every epoch "
        "(a data set sorted by label, as the digits are, then teaches one class after another)")
    assert len({tuple(order) for order in orders}) == len(orders), (
        "train visits the examples in the same order in every epoch: draw a new permutation at the "
        "start of each epoch (shuffling once, before the first epoch, is not enough)")
    own = got["step_losses"]
    per_epoch = len(chunks[0])
    running = 0.0  # the size-weighted losses of the earlier epochs
    for e, chunk in enumerate(chunks):
        batch = (own[e * per_epoch:(e + 1) * per_epoch] if own is not None else _reference_losses(chunk, k))
        sizes = np.array([len(step) for step in chunk], dtype=np.float64)
        batch = np.array(batch, dtype=np.float64)
        got_e = history[e]
        mean = float(batch @ sizes / sizes.sum())

        def near(value):
            return math.isfinite(got_e) and abs(got_e - value) <= 1e-6 * max(1.0, abs(value))

        # the mean of the batch means weighs the smaller last batch a little more: accepted
        if near(mean) or near(float(batch.mean())):
            running += float(batch @ sizes)
            continue
        if near(float(batch[-1])):
            raise AssertionError(
                "the loss train returns for an epoch is the loss of its LAST batch: return the mean "
                "over all the epoch's examples (add up loss * batch size, divide by the number of examples)")
        if near(float(batch.sum())) or near(float(batch @ sizes)):
            raise AssertionError(
                "the loss train returns for an epoch is a SUM over its batches: divide by the number "
                "of examples (or of batches) to get the epoch's mean loss")
        if e > 0 and near((running + float(batch @ sizes)) / sizes.sum()):
            raise AssertionError(
                "the loss train returns for an epoch also counts the earlier epochs' batches: reset "
                "the running total at the start of each epoch")
        raise AssertionError(
            f"the loss train returns for epoch {e + 1} is not the mean loss over that epoch's "
            "examples (the losses of its batches, weighted by their sizes): compute it from the "
            "losses of that epoch's batches only, and reset the running total at the start of each epoch")

    assert losses[-1] < LOSS_RATIO * losses[0], (
        f"the training loss went from {losses[0]:.3f} (epoch 1) to {losses[-1]:.3f} (epoch {epochs}): "
        f"it should fall below {LOSS_RATIO} times its first value. Are the labels of each batch "
        "taken with the same indices as its images?")
