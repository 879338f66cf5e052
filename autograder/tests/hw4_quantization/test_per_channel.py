"""TODO3: per-channel scales: one per output row, shape (out, 1); with an outlier row, per-tensor
scales ruin the other rows and per-channel ones do not (the integers are computed here from the
student's scales)."""
from __future__ import annotations

import numpy as np
import torch

from autograder.tests.hw4_quantization import cases, reference
from autograder.tests.hw4_quantization.common import value


def scales_of(student, k):
    seed, out, inp, outlier, bits = cases.PER_CHANNEL_CASES[k]
    got = student("per_channel")["scales"][str(k)]
    shape = tuple(got["shape"])
    if shape != (out, 1):
        hint = (" That is one scale per input COLUMN: reduce over dim=1 (the inputs of each output row), "
                "keepdim=True" if shape in ((1, inp), (inp,)) else "")
        raise AssertionError(f"per_channel_scale of a ({out}, {inp}) weight returned shape {shape}, expected "
                             f"({out}, 1): one scale per output row.{hint}")
    return value(got, "per_channel_scale").astype(np.float64), cases.weight(seed, out, inp, outlier), bits


def test_per_channel_scale_shape_and_values(student):
    for k, (seed, out, inp, outlier, bits) in enumerate(cases.PER_CHANNEL_CASES):
        scale, w, _ = scales_of(student, k)
        expected = reference.per_channel_scale(w, bits).double().numpy()
        assert np.allclose(scale, expected, rtol=1e-6), (
            f"per_channel_scale of a ({out}, {inp}) weight at {bits} bits: the scales differ from max|row| / "
            f"{reference.qmax_of(bits)} (largest relative difference {np.max(np.abs(scale / expected - 1)):.3g})")


def test_outlier_row_hurts_per_tensor_not_per_channel(student):
    for k, (seed, out, inp, outlier, bits) in enumerate(cases.PER_CHANNEL_CASES):
        if outlier is None:
            continue
        scale, w, _ = scales_of(student, k)
        s = torch.from_numpy(scale).float()
        per_channel = reference.dequantize(reference.quantize(w, s, bits), s)
        tensor_scale = reference.absmax_scale(w, bits)
        per_tensor = reference.dequantize(reference.quantize(w, tensor_scale, bits), tensor_scale)
        rows = torch.arange(out) != outlier
        e_channel = float((per_channel - w)[rows].norm() / w[rows].norm())
        e_tensor = float((per_tensor - w)[rows].norm() / w[rows].norm())
        row_error = (per_channel - w).abs().max(dim=1).values
        assert torch.all(row_error <= s.view(-1) / 2 * (1 + 1e-4) + 1e-8), (
            "with your scales some row is rounded with more than half of ITS OWN step: each row's scale must be "
            "that row's absolute maximum / qmax")
        assert e_channel < e_tensor / 4, (
            f"a ({out}, {inp}) weight with one row {cases.OUTLIER_FACTOR:g}x larger, {bits} bits: with your scales the "
            f"other rows keep a relative error {e_channel:.3f}, about as bad as one scale for the whole tensor "
            f"({e_tensor:.3f}). Per-channel scales should keep them accurate")
