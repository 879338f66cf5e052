"""TODO5: train_one_epoch and evaluate, replayed here step by step on the same model, data and
dropout masks (the probes run these on the CPU, whatever the grading device)."""
from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from autograder.tests.hw2_cnn import cases

ORDER = ("model.train(), then for each batch: images and labels .to(device), optimizer.zero_grad(), "
         "outputs = model(images), loss = criterion(outputs, labels), loss.backward(), optimizer.step()")


def replay_train(zero_grad: bool = True, train_mode: bool = True, batch_losses: list | None = None):
    """The parameters and the per-sample mean loss after one epoch of a correct loop (or of a
    loop with one named mistake, to recognise it); `batch_losses` receives (mean loss, size) of
    every batch."""
    k = cases.TRAIN_CASE
    x, y = cases.train_case_data()
    net = cases.tiny_net(True, k["model_seed"])
    net.train(train_mode)
    optimizer = torch.optim.SGD(net.parameters(), lr=k["lr"], momentum=k["momentum"])
    loader = DataLoader(TensorDataset(x, y), batch_size=k["batch_size"], shuffle=False)
    criterion = nn.CrossEntropyLoss()
    torch.manual_seed(k["dropout_seed"])
    total = 0.0
    for images, labels in loader:
        if zero_grad:
            optimizer.zero_grad()
        loss = criterion(net(images), labels)
        loss.backward()
        optimizer.step()
        total += loss.item() * len(images)
        if batch_losses is not None:
            batch_losses.append((loss.item(), len(images)))
    return [p.detach().numpy() for p in net.parameters()], total / len(x)


def same_params(a, b) -> bool:
    return len(a) == len(b) and all(np.asarray(p).shape == np.asarray(q).shape and
                                    np.allclose(p, q, rtol=1e-4, atol=1e-5) for p, q in zip(a, b))


def diagnose(got) -> str:
    n_batches = -(-20 // cases.TRAIN_CASE["batch_size"])
    if got["steps"] == 0:
        return ("the optimizer you were given never stepped: use the `optimizer` argument (creating a new "
                "optimizer inside the loop throws away its state at every batch)")
    if got["steps"] != n_batches:
        return (f"the optimizer stepped {'more' if got['steps'] > n_batches else 'fewer'} times than there are "
                "batches: exactly one optimizer.step() per batch (a whole batch at once, not one sample at a time)")
    if got["seen"] and not all(seen[0] for seen in got["seen"]):
        return "the model was in eval() mode during training: call model.train() at the start (dropout must be on)"
    if got["seen"] and not all(seen[1] for seen in got["seen"]):
        return "the forward passes ran without gradients (torch.no_grad() belongs in evaluate, not here)"
    if same_params(got["params"], replay_train(zero_grad=False)[0]):
        return ("the gradients were never zeroed, so each step used the sum of all gradients so far: call "
                "optimizer.zero_grad() once per batch, before loss.backward()")
    return f"compare your loop with: {ORDER}"


def test_train_one_epoch_steps(student):
    got = student("train_loop")["run"]
    params, _ = replay_train()
    assert same_params(got["params"], params), (
        "after one epoch of your train_one_epoch, the weights differ from those of a correct loop on the same "
        "model, data and dropout masks: " + diagnose(got))


def test_train_one_epoch_loss(student):
    got = student("train_loop")["run"]
    batches = []
    params, loss = replay_train(batch_losses=batches)
    if not same_params(got["params"], params):
        raise AssertionError("the returned loss cannot be right when the training steps are not: "
                             + diagnose(got))
    assert not got.get("graph"), (
        f"train_one_epoch returned a {got['returned']} that is still part of the autograd graph: adding up the "
        "loss tensors themselves (total += loss * n) keeps the graph of every batch alive for the whole epoch "
        "and hands it to the caller. Add loss.item() * batch size (a Python float) instead")
    if not np.isclose(got["loss"], loss, rtol=1e-4, atol=1e-6):
        means = [m for m, _ in batches]
        known = {"the last batch's loss": means[-1], "the mean of the batch means": float(np.mean(means)),
                 "the sum of the batch means": float(np.sum(means)),
                 "the sum of the losses, not divided by the number of samples": loss * sum(n for _, n in batches)}
        which = next((name for name, value in known.items() if np.isclose(got["loss"], value, rtol=1e-4)), None)
        raise AssertionError(
            "train_one_epoch returned " + (which if which else "another number than the mean loss per sample")
            + ". Add loss.item() * batch size for every batch and divide by the number of samples (the last "
            "batch is smaller: a mean of the batch means is not the same)")


def expected_eval(dropout: bool):
    net, x, y = cases.eval_case(dropout)
    net.eval()
    with torch.no_grad():
        out = net(x)
    loss = float(nn.functional.cross_entropy(out, y, reduction="sum")) / len(y)
    return loss, float((out.argmax(1) == y).float().mean())


def check_eval(got, dropout: bool, what: str):
    loss, acc = expected_eval(dropout)
    if got["seen"]:
        assert not any(seen[0] for seen in got["seen"]), (
            f"{what}: the model was in train() mode: call model.eval() first, so that dropout is off")
        assert not any(seen[1] for seen in got["seen"]), (
            f"{what}: the forward passes built a graph for gradients: wrap the loop in `with torch.no_grad():`")
    if not np.isclose(got["accuracy"], acc, atol=1e-6):
        if np.isclose(got["accuracy"], 100 * acc, atol=1e-4):
            raise AssertionError(f"{what}: the accuracy is a percentage; return a fraction in [0, 1]")
        raise AssertionError(
            f"{what}: the accuracy is not that of the whole loader (the batches of this check have different "
            "accuracies). Count the correct predictions of every batch and divide by the number of samples, "
            "len(loader.dataset), after the loop: not the last batch's, nor a mean over batches")
    assert np.isclose(got["loss"], loss, rtol=1e-4, atol=1e-6), (
        f"{what}: the loss is not the mean loss per sample over the whole loader "
        "(sum loss.item() * batch size, divide by the number of samples)")


def test_evaluate_whole_set(student):
    check_eval(student("evaluate")["plain"], False, "evaluate")


def test_evaluate_eval_mode_no_grad(student):
    check_eval(student("evaluate")["dropout"], True, "evaluate on a model with dropout")
