"""TODO9: the plain training loop and predict, on a small BERT built from a config. The loop's
effect is replayed here with the reference loop (same model, data and SGD): weights, loss and the
number of steps must agree; predict's logits are recomputed here from the model's own weights."""
from __future__ import annotations

import math

import numpy as np
import torch
from torch.utils.data import DataLoader

from autograder.tests.hw3_attention import cases, reference
from autograder.tests.hw3_attention.common import max_error, value_of


def test_train_epoch_replay(student):
    run = student("train_loop")["run"]
    k = cases.LOOP
    batches = math.ceil(k["n"] / k["batch_size"])
    assert run["seen"], "train_epoch never called the model"
    assert all(training for training, _ in run["seen"]), (
        "the model was in evaluation mode during training: call model.train() at the start of train_epoch")
    assert all(grad for _, grad in run["seen"]), "train_epoch ran the model without gradients (torch.no_grad?)"
    assert run["steps"] == batches, (
        f"train_epoch stepped the optimizer {run['steps']} times for {batches} batches: one step per batch")
    model = cases.tiny_bert(k["model_seed"])
    ids, mask, labels = cases.tiny_data(k["n"], k["length"], k["model_seed"])
    loader = DataLoader(cases.Encoded(ids, mask, labels), batch_size=k["batch_size"], shuffle=False)
    optimizer = torch.optim.SGD(model.parameters(), lr=k["lr"], momentum=k["momentum"])
    loss = reference.train_epoch(model, loader, optimizer, torch.device("cpu"))
    got = run["params"]
    error = max(max_error(got[n], p.detach().numpy()) for n, p in model.named_parameters())
    assert error < 1e-4, (
        f"after one epoch your weights differ from the expected ones by up to {error:.3g}: per batch zero_grad, "
        "loss = model(**batch).loss, backward, step (forgetting zero_grad adds up the gradients of all batches)")
    assert abs(run["loss"] - loss) < 1e-4 * max(1.0, abs(loss)), (
        f"train_epoch returned {run['loss']:.5f}; the mean training loss over the epoch (weighted by batch size) "
        f"is {loss:.5f}")


def test_predict_logits(student):
    run = student("predict")["run"]
    k = cases.PREDICT
    assert run["seen"], "predict never called the model"
    assert not any(training for training, _ in run["seen"]), (
        "predict ran the model in training mode (dropout on): call model.eval() first")
    assert not any(grad for _, grad in run["seen"]), "predict should run under torch.no_grad()"
    logits = value_of(run["logits"], "predict's output", (k["n"], cases.TINY["num_labels"]))
    model = cases.tiny_bert(k["model_seed"], dropout=k["dropout"]).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.copy_(torch.as_tensor(np.asarray(run["params"][name])))
        ids, mask, _ = cases.tiny_data(k["n"], k["length"], k["model_seed"])
        want = model(input_ids=ids, attention_mask=mask).logits.numpy()
    error = max_error(logits, want)
    assert error < 1e-4, (
        f"predict's logits differ from the model's by up to {error:.3g}: every batch, in the loader's order, "
        "with its attention_mask")
