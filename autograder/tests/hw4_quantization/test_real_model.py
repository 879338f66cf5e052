"""The thresholds on the real all-MiniLM-L6-v2, quantized by the student's quantize_model and
QuantLinear (correct helper functions in place): bytes of the linear layers' weights, the cosine
of mean-pooled sentence embeddings against the float model's on held-out Rotten Tomatoes
snippets, and the accuracy of a sentiment head trained here on float embeddings. The float
embeddings, the head and the labels never leave the judge. Targets come from
calibration/<device>.json or from course_config's defaults."""
from __future__ import annotations

import numpy as np

from autograder.calibrate import thresholds
from autograder.probe import grading_device
from autograder.tests.hw4_quantization import cases

FLOAT_BYTES = 4  # float32


def limits():
    return thresholds("hw4_quantization", grading_device())


def config(student, bits: int) -> dict:
    return student("real_model")["configs"][f"{bits}-channel"]


def weight_bytes(got: dict, names: list[str]) -> tuple[int, int]:
    """(bytes stored for the linear layers' weights and scales, bytes of their float32 weights)."""
    stored = 0
    for key, (dtype, numel, size) in got["stored"].items():
        if key.endswith(".bias"):
            continue
        stored += numel * size
    return stored, FLOAT_BYTES * sum(cases.LINEAR_WEIGHT_NUMEL[n] for n in names)


def check_bytes(student, detail, bits: int):
    got = config(student, bits)
    names = student("real_model")["linear_names"]
    assert list(names) == list(cases.LINEAR_WEIGHT_NUMEL), "the model the probe loaded is not all-MiniLM-L6-v2"
    assert got["linear_left"] == 0, (
        f"after quantize_model(model, bits={bits}) all-MiniLM-L6-v2 still has {got['linear_left']} of {len(names)} "
        "nn.Linear layers: replace every one, at any depth")
    stored, original = weight_bytes(got, names)
    target = float(limits().values[f"min_bytes_ratio_int{bits}"])
    ratio = original / stored if stored else float("inf")
    detail(f"int{bits} per channel: the {len(names)} linear layers' weights (with their scales) take "
           f"{stored / 2**20:.2f} MiB against {original / 2**20:.2f} MiB in float32: {ratio:.2f}x smaller (target "
           f"{target:g}x)")
    detail(limits().note)
    assert stored > 0, "the quantized layers store nothing: where are the weights?"
    assert ratio >= target, (
        f"at {bits} bits the linear layers take {stored / 2**20:.2f} MiB, only {ratio:.2f}x less than float32 (target "
        f"{target:g}x). Store the weight as int8 (or, at 4 bits, packed two per byte as uint8), one float32 scale per "
        "row, and no float copy of the weight (not even as a plain attribute)")


def test_weight_bytes_int8(student, detail):
    check_bytes(student, detail, 8)


def test_weight_bytes_int4(student, detail):
    check_bytes(student, detail, 4)


def embeddings_of(student, bits: int) -> np.ndarray:
    got = config(student, bits)
    assert got["linear_left"] == 0, (
        f"after quantize_model(model, bits={bits}) {got['linear_left']} nn.Linear layers are still float: the "
        "fidelity of a model that was not quantized is not measured")
    ref = cases.float_reference()
    embeddings = np.asarray(got["embeddings"], dtype=np.float64)
    assert embeddings.shape == ref["test_embeddings"].shape, (
        f"the quantized model gave embeddings of shape {embeddings.shape}, expected {ref['test_embeddings'].shape}")
    assert np.all(np.isfinite(embeddings)), "the quantized model's embeddings contain NaN or inf"
    return embeddings


def check_cosine(student, detail, bits: int):
    embeddings = embeddings_of(student, bits)
    ref = cases.float_reference()
    cos = cases.cosines(embeddings, ref["test_embeddings"])
    target = float(limits().values[f"min_cosine_int{bits}"])
    detail(f"int{bits} per channel: mean cosine with the float embeddings {cos.mean():.4f} (lowest {cos.min():.4f}) on "
           f"{len(cos)} held-out review snippets; target {target:g}")
    detail(limits().note)
    assert cos.mean() >= target, (
        f"at {bits} bits (per channel) the sentence embeddings have a mean cosine of {cos.mean():.4f} with the float "
        f"model's, below {target:g}. Check that each row is dequantized with its own scale and that the bias stays float")


def test_embedding_cosine_int8(student, detail):
    check_cosine(student, detail, 8)


def test_embedding_cosine_int4(student, detail):
    check_cosine(student, detail, 4)


def test_sentiment_accuracy_drop_int8(student, detail):
    embeddings = embeddings_of(student, 8)
    ref = cases.float_reference()
    labels = ref["test_labels"]
    float_acc = float(np.mean(cases.predict(ref["head_w"], float(ref["head_b"]), ref["test_embeddings"]) == labels))
    quant_acc = float(np.mean(cases.predict(ref["head_w"], float(ref["head_b"]), embeddings) == labels))
    limit = float(limits().values["max_accuracy_drop_int8"])
    detail(f"sentiment head (logistic regression trained on float embeddings of {cases.N_TRAIN} other snippets): "
           f"accuracy {float_acc:.3f} on float embeddings, {quant_acc:.3f} on your int8 model's ({len(labels)} held-out "
           f"snippets); allowed drop {100 * limit:g} point(s)")
    assert float_acc - quant_acc <= limit + 1e-9, (
        f"the sentiment accuracy drops from {float_acc:.3f} to {quant_acc:.3f} with your int8 model: more than "
        f"{100 * limit:g} point(s). int8 per channel should change almost no prediction")
