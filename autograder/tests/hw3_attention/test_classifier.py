"""TODO5: masked mean pooling (float64 inputs, several padding lengths) and the classifier's use
of it: the head receives the mean of the last block's outputs over the real tokens only, and the
logits do not change with the amount of padding. Correct blocks are lent during the probe."""
from __future__ import annotations

import numpy as np

from autograder.tests.hw3_attention import cases
from autograder.tests.hw3_attention.common import max_error, value_of


def masked_mean(h, real):
    m = real[..., None].astype(np.float64)
    return (h * m).sum(1) / m.sum(1)


def test_masked_mean_pool(student):
    got = student("classifier")["pool"]
    for shape, lengths, seed in cases.POOL_CASES:
        h, mask = cases.pool_input(shape, lengths, seed)
        out = value_of(got[str(shape)], "masked_mean_pool", (shape[0], shape[2]))
        want = masked_mean(h.numpy(), mask.numpy())
        error = max_error(out, want)
        if error > 1e-6:
            plain = h.numpy().mean(1)
            hint = (" it equals the mean over all positions: padding is counted" if max_error(out, plain) < 1e-6 else
                    ": sum the real tokens' rows (mask as 0/1) and divide by the number of real tokens")
            raise AssertionError(f"masked_mean_pool on h {shape} with {lengths} real tokens differs from the mean of the "
                                 f"real tokens by up to {error:.3g}{hint}")


def test_classifier_pools_real_tokens(student):
    got = student("classifier")["model"]
    ids, lengths = cases.classifier_ids()
    b, length, d = len(lengths), ids.shape[1], cases.CLASSIFIER["d_model"]
    last = value_of(got["last_block"], "the last block's output", (b, length, d))
    head_in = value_of(got["head_in"], "the input of self.head", (b, d))
    real = (ids != cases.CLASSIFIER["pad_id"]).numpy()
    error = max_error(head_in, masked_mean(last, real))
    assert error < 1e-5, (
        f"the head's input differs from the mean of the last block's outputs over the real tokens by up to {error:.3g}"
        + (": it is the mean over every position, padding included" if max_error(head_in, last.mean(1)) < 1e-5 else
           ": pool with masked_mean_pool(x, input_ids != pad_id)"))
    logits = value_of(got["logits"], "the logits", (b, 2))
    more = value_of(got["more_padding"], "the logits", (b, 2))
    alone = value_of(got["alone"], "the logits", (b, 2))
    assert max_error(logits, more) < 1e-5 and max_error(logits, alone) < 1e-5, (
        "the same sentences padded to other lengths get other logits: pass key_padding_mask = (input_ids == pad_id) "
        "to every block and pool over the real tokens only")
