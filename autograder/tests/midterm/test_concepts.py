"""The concept questions: the answer key lives here, in the judge, and nowhere in the release."""
from __future__ import annotations

import math

KEY = {"c1": 0.561, "c2": "C", "c3": 0.2395, "c4": "D", "c5": 15, "c6": 896, "c7": "D", "c8": "A",
       "c9": "C", "c10": 640, "c11": "B", "c12": "A"}
TOLERANCE = {"c1": 0.002, "c3": 0.002}  # decimals; the other numbers are counts


def _check(student, qid: str) -> None:
    given = student("concepts")[qid]
    assert given is not None, f"{qid}: not answered"
    expected = KEY[qid]
    if isinstance(expected, str):
        answer = str(given).strip().upper()
        assert answer in ("A", "B", "C", "D"), f"{qid}: answer with one letter, A to D (you wrote {given!r})"
        assert answer == expected, f"{qid}: {answer} is not the right choice"
        return
    try:
        value = float(given)
    except (TypeError, ValueError):
        raise AssertionError(f"{qid}: answer with a number (you wrote {given!r})") from None
    assert math.isfinite(value) and abs(value - expected) <= TOLERANCE.get(qid, 1e-6), (
        f"{qid}: {given} is not the right value")


def test_c1_momentum(student):
    _check(student, "c1")


def test_c2_backward_twice(student):
    _check(student, "c2")


def test_c3_cross_entropy_value(student):
    _check(student, "c3")


def test_c4_binary_loss(student):
    _check(student, "c4")


def test_c5_conv_output_size(student):
    _check(student, "c5")


def test_c6_conv_parameters(student):
    _check(student, "c6")


def test_c7_overfitting_remedy(student):
    _check(student, "c7")


def test_c8_dropout_scaling(student):
    _check(student, "c8")


def test_c9_batchnorm_eval(student):
    _check(student, "c9")


def test_c10_rnn_parameters(student):
    _check(student, "c10")


def test_c11_lstm_input_shape(student):
    _check(student, "c11")


def test_c12_lstm_gradients(student):
    _check(student, "c12")
