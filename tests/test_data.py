"""The offline data and models the notebooks load: real files shipped by installed packages,
read with the real loaders (no network: HF_HUB_OFFLINE is set before loading)."""
import os

import numpy as np

from assignments import data


def test_mnist5k_is_real_digits():
    X, y = data.load_mnist5k()
    assert X.shape == (5000, 784) and X.dtype == np.float32 and 0 <= X.min() and X.max() <= 1
    assert np.bincount(y).tolist() == [500] * 10


def test_review_tokenizer_loads_offline_with_from_pretrained():
    os.environ["HF_HUB_OFFLINE"] = "1"
    tokenizer = data.load_review_tokenizer()
    assert tokenizer.vocab_size == 30522 and tokenizer.pad_token_id == 0 and tokenizer.unk_token_id == 100
    texts, labels, _ = data.load_rotten_tomatoes()
    assert len(texts) > 4000 and set(np.unique(labels)) == {0, 1}
    ids = tokenizer(texts[0], add_special_tokens=False)["input_ids"]
    assert len(ids) > 3 and tokenizer.unk_token_id not in ids[:3]
    assert tokenizer.decode(tokenizer("a charming film")["input_ids"], skip_special_tokens=True) == "a charming film"
