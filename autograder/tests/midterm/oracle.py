"""Judge side of the midterm suite: the correct programs, run on the inputs of `cases`, and the
comparisons. Each reference does what its exercise's sentence says, step by step as the
notebook's program does (same loader, same order of random draws), so a correct fix and the
reference end on the same weights up to rounding.

This module is imported only by the tests (in the judge), never by the probes: the student's
process never holds a correct program.
"""
from __future__ import annotations

import copy

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

from autograder.tests.midterm import cases

torch.set_num_threads(1)


def make_loader(dataset, batch_size, seed):
    """The notebook's training loader (same shuffling, same generator)."""
    return DataLoader(dataset, batch_size=batch_size, shuffle=True, generator=torch.Generator().manual_seed(seed))


def state(model) -> dict:
    return {name: t.detach().clone().numpy() for name, t in model.state_dict().items()}


def weights_problem(got: dict, expected: dict, rtol: float = 1e-4) -> str | None:
    """None if every tensor of `got` matches `expected`; else which one differs, and by how much."""
    if set(got) != set(expected):
        return (f"the model's state_dict has the entries {sorted(got)}, expected {sorted(expected)} "
                "(keep the layers as they were)")
    for name, want in expected.items():
        have = np.asarray(got[name], dtype=np.float64)
        want = np.asarray(want, dtype=np.float64)
        if have.shape != want.shape:
            return f"{name} has shape {have.shape}, expected {want.shape}"
        if not np.all(np.isfinite(have)):
            return f"{name} contains nan or inf"
        gap = float(np.max(np.abs(have - want))) if want.size else 0.0
        scale = max(float(np.max(np.abs(want))) if want.size else 0.0, 1e-3)
        if gap > rtol * scale:
            return f"{name} differs from what a correct program gives (by up to {gap:.2e})"
    return None


def outputs_problem(what: str, got, expected, atol: float = 1e-5) -> str | None:
    got = np.asarray(got, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    if got.shape != expected.shape:
        return f"{what} has shape {got.shape}, expected {expected.shape}"
    if not np.all(np.isfinite(got)):
        return f"{what} contains nan or inf"
    gap = float(np.max(np.abs(got - expected))) if expected.size else 0.0
    return None if gap <= atol else f"{what}: not what a correct program gives (off by up to {gap:.2e})"


# ------------------------------------------------------------------ exercises 1-3: training

def train_accumulated(model, X, y, epochs, micro_batch, accum_steps, lr, seed):
    loader = make_loader(TensorDataset(X, y), micro_batch, seed)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    optimizer.zero_grad()
    for _ in range(epochs):
        for i, (xb, yb) in enumerate(loader):
            (F.cross_entropy(model(xb), yb) / accum_steps).backward()
            if (i + 1) % accum_steps == 0:
                optimizer.step()
                optimizer.zero_grad()
    return model


def train_with_schedule(model, X, y, epochs, lr, step_size, gamma, batch_size, seed):
    loader = make_loader(TensorDataset(X, y), batch_size, seed)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    for epoch in range(epochs):
        for group in optimizer.param_groups:
            group["lr"] = lr * gamma ** (epoch // step_size)
        for xb, yb in loader:
            optimizer.zero_grad()
            F.cross_entropy(model(xb), yb).backward()
            optimizer.step()
    return model


def train_classifier(model, X, y, epochs, lr, batch_size, seed):
    loader = make_loader(TensorDataset(X, y), batch_size, seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    for _ in range(epochs):
        for xb, yb in loader:
            optimizer.zero_grad()
            F.cross_entropy(model(xb), yb).backward()
            optimizer.step()
    return model


def trained_weights(train, k: dict, names: tuple[str, ...]) -> dict:
    model = cases.mlp(k["model_seed"])
    X, y = cases.digits(k["data_seed"], k["n"])
    return state(train(model, X, y, **{name: k[name] for name in names}))


# ------------------------------------------------------------------ exercises 4-6: evaluation

def confident_predictions(model, x, threshold):
    with torch.no_grad():
        confidence, predicted = F.softmax(model.eval()(x), dim=1).max(dim=1)
    predicted[confidence < threshold] = -1
    return predicted.numpy(), confidence.numpy()


def evaluate(model, images, labels):
    model.eval()
    with torch.no_grad():
        logits = model(images)
    return F.cross_entropy(logits, labels).item(), (logits.argmax(dim=1) == labels).float().mean().item()


# ------------------------------------------------------------------ exercises 7-8: regularization

def dropout_cnn(weights: dict, x, p: float, training: bool):
    """The intended DropoutCNN, with the student's weights: dropout on fc1's output only when
    training (the same random draws as F.dropout / nn.Dropout at that place)."""
    w = {name: torch.as_tensor(np.asarray(v)) for name, v in weights.items()}
    h = F.max_pool2d(F.relu(F.conv2d(x, w["conv.weight"], w["conv.bias"], padding=1)), 2)
    h = F.relu(F.linear(h.flatten(1), w["fc1.weight"], w["fc1.bias"]))
    h = F.dropout(h, p=p, training=training)
    return F.linear(h, w["fc2.weight"], w["fc2.bias"])


def fit_early_stopping(model, train_data, val_data, max_epochs, patience, lr, seed):
    loader = make_loader(TensorDataset(*train_data), 32, seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    best_loss, best_state, waited, history = float("inf"), None, 0, []
    for _ in range(max_epochs):
        model.train()
        for xb, yb in loader:
            optimizer.zero_grad()
            F.cross_entropy(model(xb), yb).backward()
            optimizer.step()
        model.eval()
        with torch.no_grad():
            val_loss = F.cross_entropy(model(val_data[0]), val_data[1]).item()
        history.append(val_loss)
        if val_loss < best_loss:
            best_loss, best_state, waited = val_loss, copy.deepcopy(model.state_dict()), 0
        else:
            waited += 1
            if waited >= patience:
                break
    model.load_state_dict(best_state)
    return model, history


# ------------------------------------------------------------------ exercises 9-10: text

def _modules(weights: dict, embed_dim: int, hidden: int, rnn: type[nn.RNNBase]):
    embed = nn.Embedding(cases.VOCAB_SIZE, embed_dim, padding_idx=cases.PAD)
    recurrent = rnn(embed_dim, hidden, batch_first=True)
    out = nn.Linear(hidden, 2)
    for prefix, module in (("embed.", embed), ("out.", out)):
        module.load_state_dict({k[len(prefix):]: torch.as_tensor(np.asarray(v)) for k, v in weights.items()
                                if k.startswith(prefix)})
    name = "gru." if rnn is nn.GRU else "lstm."
    recurrent.load_state_dict({k[len(name):]: torch.as_tensor(np.asarray(v)) for k, v in weights.items()
                               if k.startswith(name)})
    return embed, recurrent, out


def review_gru(weights: dict, ids, embed_dim: int, hidden: int):
    """Each review alone, unpadded: the GRU's outputs over its tokens, averaged, then `out`."""
    embed, gru, out = _modules(weights, embed_dim, hidden, nn.GRU)
    rows = []
    with torch.no_grad():
        for row in ids:
            tokens = row[row != cases.PAD].unsqueeze(0)
            states, _ = gru(embed(tokens))
            rows.append(out(states.mean(dim=1)))
    return torch.cat(rows).numpy()


def review_lstm(weights: dict, ids, lengths, embed_dim: int, hidden: int):
    """Each review alone, unpadded: the LSTM's state after its last token, then `out`."""
    embed, lstm, out = _modules(weights, embed_dim, hidden, nn.LSTM)
    rows = []
    with torch.no_grad():
        for row, n in zip(ids, lengths):
            states, _ = lstm(embed(row[:int(n)].unsqueeze(0)))
            rows.append(out(states[:, -1]))
    return torch.cat(rows).numpy()
