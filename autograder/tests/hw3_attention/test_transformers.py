"""TODO6-8 with 🤗 Transformers: the tokenizer call judged by what it produces on sentences the
notebook never shows (the judge runs the real tokenizer itself), the label mapping against the
model's own config, and compute_metrics on crafted logits (imbalanced classes, a class that is
never predicted), against accuracy and macro F1 computed here by hand."""
from __future__ import annotations

import math

import numpy as np

from autograder.tests.hw3_attention import cases


def test_tokenize_unseen_sentences(student):
    got = student("tokenize")
    tok = cases.tokenizer()
    for i, (texts, max_length) in enumerate(cases.TOKENIZE_CASES):
        enc = got[str(i)]
        for name in ("input_ids", "attention_mask"):
            assert enc[name]["type"] == "Tensor", (
                f"tokenize(...)['{name}'] is a {enc[name]['type']}, not a torch.Tensor: pass return_tensors='pt'")
            assert enc[name]["dtype"] == "int64", f"tokenize(...)['{name}'] has dtype {enc[name]['dtype']}, expected int64"
        ids, mask = np.asarray(enc["input_ids"]["value"]), np.asarray(enc["attention_mask"]["value"])
        alone = [tok(t, truncation=True, max_length=max_length)["input_ids"] for t in texts]
        longest = max(len(a) for a in alone)
        untruncated = max(len(tok(t)["input_ids"]) for t in texts)
        assert ids.ndim == 2 and ids.shape[0] == len(texts), f"input_ids has shape {ids.shape}: one row per text"
        assert ids.shape[1] <= max_length, (
            f"with max_length={max_length} the batch is {ids.shape[1]} tokens long: pass truncation=True "
            f"(the longest of these sentences has {untruncated} tokens)")
        assert ids.shape[1] in (longest, max_length), (
            f"the batch is {ids.shape[1]} tokens long; padded to the longest text it is {longest}: pass padding=True")
        assert mask.shape == ids.shape, "attention_mask must have the shape of input_ids"
        for row, want in enumerate(alone):
            n = len(want)
            assert ids[row, :n].tolist() == want and mask[row, :n].tolist() == [1] * n, (
                f"text {row} ({texts[row][:40]!r}...) is not tokenized as the tokenizer does on its own "
                f"(expected {n} tokens starting with [CLS] and ending with [SEP])")
            assert (ids[row, n:] == tok.pad_token_id).all() and (mask[row, n:] == 0).all(), (
                f"text {row}: after its {n} tokens come padding tokens ({tok.pad_token_id}) with attention mask 0")


def test_labels_in_model_label_space(student):
    got = student("labels")
    config = got["model"]
    for i, names in enumerate(cases.LABEL_CASES):
        enc = got["encoded"][str(i)]
        assert enc["type"] == "Tensor" and enc["dtype"] == "int64", (
            f"encode_labels should return a LongTensor (int64), got {enc['type']} {enc['dtype']}")
        ids = np.asarray(enc["value"]).astype(int).tolist()
        assert len(ids) == len(names), f"encode_labels({names}) returned {len(ids)} ids"
        assert all(0 <= i < config["num_labels"] for i in ids), (
            f"encode_labels({names}) = {ids}: the model's label ids are 0..{config['num_labels'] - 1} "
            "(cross-entropy needs them there): map the names with label2id")
        shown = [config["id2label"].get(str(i)) for i in ids]
        assert shown == list(names), (
            f"encode_labels({names}) = {ids}, which the model's config reads as {shown}: give from_pretrained the "
            "same id2label/label2id that encode_labels uses")


def test_model_label_names(student):
    config = student("labels")["model"]
    assert config["num_labels"] == 2 and config["head_outputs"] == 2, (
        f"the model has {config['num_labels']} labels and a head of {config['head_outputs']} outputs: pass num_labels=2")
    assert sorted(config["id2label"].values()) == ["fresh", "rotten"], (
        f"model.config.id2label is {config['id2label']}: pass id2label (and label2id) to from_pretrained so that the "
        "model's label space has the names rotten and fresh")
    assert all(config["label2id"].get(name) == int(i) for i, name in config["id2label"].items()), (
        f"model.config.label2id {config['label2id']} is not the inverse of id2label {config['id2label']}")


def expected_metrics(logits, labels):
    predictions = logits.argmax(-1)
    f1s = []
    for c in np.union1d(labels, predictions):
        tp = np.sum((predictions == c) & (labels == c))
        fp = np.sum((predictions == c) & (labels != c))
        fn = np.sum((predictions != c) & (labels == c))
        f1s.append(0.0 if tp == 0 else 2 * tp / (2 * tp + fp + fn))
    return float(np.mean(predictions == labels)), float(np.mean(f1s))


def check_metrics(student, name):
    got = student("metrics")[name]
    logits, labels = cases.metric_cases()[name]
    accuracy, f1 = expected_metrics(logits, labels)
    assert "accuracy" in got["keys"] and "f1" in got["keys"], f"compute_metrics returned the keys {got['keys']}"
    assert math.isfinite(got["accuracy"]) and abs(got["accuracy"] - accuracy) < 1e-6, (
        f"accuracy {got['accuracy']:.4f}, expected {accuracy:.4f}: turn the logits into predictions first "
        "(np.argmax(logits, axis=-1)), then compare them with the labels")
    assert math.isfinite(got["f1"]), "f1 is not a number: a class never predicted has precision 0/0; count its F1 as 0"
    assert abs(got["f1"] - f1) < 1e-6, (
        f"f1 {got['f1']:.4f}, expected the macro F1 {f1:.4f} (the plain mean of each class's F1; micro or weighted "
        "averages, or the F1 of one class, differ when the classes are imbalanced)")


def test_metrics_binary(student):
    check_metrics(student, "binary")


def test_metrics_never_predicted_class(student):
    check_metrics(student, "never_predicted")
