"""Midterm probes: run the student's fixed programs on the hidden inputs of `cases` and return
what they did (final weights, outputs, predictions). They compare nothing: the tests do.

These run in the student's sandbox, after the notebook's cells, with one torch thread.
"""
from __future__ import annotations

import torch
from torch.utils.data import DataLoader, TensorDataset

from autograder.probe import Failed, attempt, probe
from autograder.tests.midterm import cases


def weights(model) -> dict:
    """Every tensor of the model's state_dict, as plain arrays."""
    return {name: t.detach().clone() for name, t in model.state_dict().items()}


def tried(label: str, fn, *args, **kwargs):
    """attempt(), saying which call of the student's program failed."""
    result = attempt(fn, *args, **kwargs)
    return Failed(f"{label}: {result.message}") if isinstance(result, Failed) else result


def _train_and_weights(train, model, X, y, **settings):
    train(model, X, y, **settings)
    return weights(model)


def _training_probe(function, configs: dict, names: tuple[str, ...]):
    runs = {}
    for key, k in configs.items():
        model = cases.mlp(k["model_seed"])
        X, y = cases.digits(k["data_seed"], k["n"])
        settings = {name: k[name] for name in names}
        runs[key] = tried(f"{function.__name__}(..., {', '.join(f'{n}={v}' for n, v in settings.items())})",
                          _train_and_weights, function, model, X, y, **settings)
    return runs


@probe
def ex1(sub):
    return _training_probe(sub.train_accumulated, cases.EX1, ("epochs", "micro_batch", "accum_steps", "lr", "seed"))


@probe
def ex2(sub):
    return _training_probe(sub.train_with_schedule, cases.EX2,
                           ("epochs", "lr", "step_size", "gamma", "batch_size", "seed"))


@probe
def ex3(sub):
    return _training_probe(sub.train_classifier, cases.EX3, ("epochs", "lr", "batch_size", "seed"))


@probe
def ex4(sub):
    k = cases.EX4
    model = cases.mlp(k["model_seed"])
    with torch.no_grad():
        model[2].weight *= 8  # confident about some digits, unsure about others
    X, _ = cases.digits(k["data_seed"], k["n"])
    runs = {}

    def run(x, threshold):
        predicted, confidence = sub.confident_predictions(model, x, threshold=threshold)
        return {"predicted": torch.as_tensor(predicted).clone(), "confidence": torch.as_tensor(confidence).clone()}

    for threshold in k["thresholds"]:
        runs[f"whole batch, threshold {threshold}"] = tried(
            f"confident_predictions on a batch of {len(X)}", run, X, threshold)
    for size in k["chunks"]:
        def in_chunks(size=size):
            parts = [run(X[i:i + size], k["thresholds"][0]) for i in range(0, len(X), size)]
            return {key: torch.cat([p[key].reshape(-1) for p in parts]) for key in ("predicted", "confidence")}

        runs[f"batches of {size}, threshold {k['thresholds'][0]}"] = tried(
            f"confident_predictions on batches of {size}", in_chunks)
    return runs


@probe
def ex5(sub):
    runs = {}
    for size in cases.EX5["batch_sizes"]:
        def run(size=size):
            model, images, labels = cases.ex5_model_and_data()
            loss, accuracy = sub.evaluate(model, DataLoader(TensorDataset(images, labels), batch_size=size))
            return {"loss": float(loss), "accuracy": float(accuracy), "state": weights(model)}

        runs[f"batches of {size}"] = tried(f"evaluate(model, loader with batch_size={size})", run)
    return runs


@probe
def ex6(sub):
    k = cases.EX6
    model = cases.trained_mlp(k["model_seed"])
    X, y = cases.digits(k["data_seed"], k["n"])
    runs = {}
    for size in k["batch_sizes"]:
        def run(size=size):
            model.train()  # predict() must put it in evaluation mode itself
            predictions, accuracy = sub.predict(model, TensorDataset(X, y), batch_size=size)
            return {"predictions": torch.as_tensor(predictions).clone(), "accuracy": float(accuracy)}

        runs[f"batch_size={size}"] = tried(f"predict(model, dataset of {len(X)}, batch_size={size})", run)
    return runs


@probe
def ex7(sub):
    k = cases.EX7
    X, _ = cases.digits(k["data_seed"], k["n"], images=True)

    def run():
        torch.manual_seed(k["model_seed"])
        model = sub.DropoutCNN(channels=k["channels"], hidden=k["hidden"], p=k["p"])
        model.eval()
        with torch.no_grad():
            first, second = model(X), model(X)
        model.train()
        torch.manual_seed(k["dropout_seed"])
        with torch.no_grad():
            training = model(X)
        return {"state": weights(model), "eval_first": first, "eval_second": second, "train": training}

    return {"run": tried(f"DropoutCNN(channels={k['channels']}, hidden={k['hidden']}, p={k['p']})", run)}


@probe
def ex8(sub):
    k = cases.EX8

    def run():
        (X, y), (Xv, yv) = cases.ex8_data()
        model, history = sub.fit_early_stopping(
            cases.bn_mlp(k["model_seed"]), TensorDataset(X, y), TensorDataset(Xv, yv),
            max_epochs=k["max_epochs"], patience=k["patience"], lr=k["lr"], seed=k["seed"])
        return {"state": weights(model), "history": [float(v) for v in history]}

    return {"run": tried("fit_early_stopping on a model with batch norm", run)}


def _review_probe(cls, k, with_lengths: bool):
    def run():
        torch.manual_seed(k["model_seed"])
        model = cls(cases.VOCAB_SIZE, embed_dim=k["embed_dim"], hidden=k["hidden"])
        model.eval()
        out = {"state": weights(model)}
        with torch.no_grad():
            for seed, n, extra_pad in k["batches"]:
                ids, lengths = cases.review_batch(seed, n, extra_pad=extra_pad)
                out[f"batch {seed}"] = model(ids, lengths) if with_lengths else model(ids)
        return out

    return {"run": tried(f"{cls.__name__}({cases.VOCAB_SIZE}, embed_dim={k['embed_dim']}, hidden={k['hidden']})", run)}


@probe
def ex9(sub):
    return _review_probe(sub.ReviewGRU, cases.EX9, with_lengths=False)


@probe
def ex10(sub):
    return _review_probe(sub.ReviewLSTM, cases.EX10, with_lengths=True)


def _plain(value):
    """An answer as plain data: a number, a string, or None. Whatever the visible check accepts
    as a number (`float(value)`: an int, a float, a NumPy scalar, a one-element tensor such as
    F.cross_entropy(...)) is judged by its value."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    try:
        number = float(value)
    except Exception:  # noqa: BLE001 - not a number: the judge says so
        return str(value)[:100]
    return number


@probe
def concepts(sub):
    answers = sub.answers
    if not isinstance(answers, dict):
        raise TypeError(f"`answers` should be a dict, got {type(answers).__name__}")
    return {qid: _plain(answers.get(qid)) for qid in cases.CONCEPTS}
