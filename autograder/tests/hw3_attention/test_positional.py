"""TODO3: the positional encoding of batch-first input, against a float64 table, for batches
larger, smaller and equal to the length (the classic mistake indexes the table by the batch)."""
from __future__ import annotations

import numpy as np

from autograder.tests.hw3_attention import cases
from autograder.tests.hw3_attention.common import max_error, value_of


def check(got, case):
    b, length, d, max_len = case
    x = cases.pe_input(b, length, d).double().numpy()
    out = value_of(got, "PositionalEncoding's output", (b, length, d))
    table = cases.pe_table64(max_len, d)
    added = out - x
    error = max_error(added, np.broadcast_to(table[:length], added.shape))
    if error < 1e-4:
        return
    by_batch = table[:b][:, None, :] if b <= max_len else None
    if by_batch is not None and max_error(added, np.broadcast_to(by_batch, added.shape)) < 1e-4:
        raise AssertionError(
            f"on a batch of {b} sequences of length {length}, sequence i got the encoding of position i at every "
            "token: the table is indexed by the batch (x.size(0)). For batch-first input add pe[:x.size(1)]")
    if max_error(added[:, :, 0::2], np.broadcast_to(table[:length, 1::2], added[:, :, 0::2].shape)) < 1e-4:
        raise AssertionError("sin and cos are swapped: even columns (2i) hold sin, odd columns (2i+1) cos")
    raise AssertionError(
        f"on a batch of shape ({b}, {length}, {d}) (max_len {max_len}) the added encodings differ from "
        f"PE[pos, 2i] = sin(pos / 10000^(2i/d)), PE[pos, 2i+1] = cos(...) by up to {error:.3g} "
        "(is the exponent 2i/d_model, with i the pair's index?)")


def test_positional_encoding_lengths(student):
    got = student("positional")["lengths"]
    for case in cases.PE_LENGTH_CASES:
        check(got[str(case)], case)


def test_positional_encoding_at_max_length(student):
    check(student("positional")["max"], cases.PE_MAX_CASE)
